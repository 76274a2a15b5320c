/** Packs grey line images into the NCHW float batch PaddleOCR's cls and rec models read. */
import type { LineImage } from './crop.ts';

/**
 * Lines left-aligned in a batch `width` wide, scaled to [-1, 1] as Paddle's resize_norm_img does;
 * the columns right of a line stay 0, the padding Paddle uses.
 */
export function packLines(lines: readonly LineImage[], height: number, width: number): Float32Array {
  const plane = height * width;
  const out = new Float32Array(lines.length * 3 * plane);
  lines.forEach((line, n) => {
    const base = n * 3 * plane;
    const w = Math.min(width, line.width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < w; x++) {
        const v = line.data[y * line.width + x]! / 127.5 - 1;
        const i = base + y * width + x;
        out[i] = v;
        out[i + plane] = v;
        out[i + 2 * plane] = v;
      }
    }
  });
  return out;
}
