/** Packs grey line images into the NCHW float batch PaddleOCR's cls and rec models read. */
import type { LineImage } from './crop.ts';

/**
 * Lines left-aligned in a batch `width` wide, scaled to [-1, 1] as Paddle's resize_norm_img does;
 * the columns right of a line are 0, the padding Paddle uses. Every value of `out` (lines x 3 x
 * height x width) is written, so it may be a buffer that held an earlier batch.
 */
export function packLines(
  lines: readonly LineImage[],
  height: number,
  width: number,
  out: Float32Array<ArrayBuffer> = new Float32Array(lines.length * 3 * height * width),
): Float32Array<ArrayBuffer> {
  const plane = height * width;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const base = n * 3 * plane;
    const w = Math.min(width, line.width);
    for (let y = 0; y < height; y++) {
      const row = base + y * width;
      for (let x = 0, i = y * line.width; x < w; x++, i++) {
        const v = SCALED[line.data[i]!]!;
        out[row + x] = v;
        out[row + x + plane] = v;
        out[row + x + 2 * plane] = v;
      }
      for (let c = 0; c < 3; c++) out.fill(0, row + c * plane + w, row + c * plane + width);
    }
  }
  return out;
}

/** Each grey level scaled to [-1, 1], looked up rather than divided at each of a page's five million pixels. */
const SCALED = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);
