/** Packs grey line images into the NCHW float batch PaddleOCR's cls and rec models read. */
import type { LineImage } from './crop.ts';

/**
 * Columns [x0, x0 + width) of a line image: a piece of a line, or a classifier's window on it, packed
 * straight from the line's pixels. Copying each piece out first took a typed array per piece and a
 * copy per row: 8 % of the JavaScript around the models (one engine, 8 pages of big_100p).
 */
export interface LineSpan {
  image: LineImage;
  x0: number;
  width: number;
}

/** The whole line as a span. */
export function wholeLine(image: LineImage): LineSpan {
  return { image, x0: 0, width: image.width };
}

/**
 * Spans left-aligned in a batch `width` wide, scaled to [-1, 1] as Paddle's resize_norm_img does, in
 * `channels` equal channels (1 for a model rewritten to read grey, model/graph-rewrite.ts); the
 * columns right of a span are 0, the padding Paddle uses. Every value of `out` (spans x channels x
 * height x width) is written, so it may be a buffer that held an earlier batch.
 */
export function packLines(
  spans: readonly LineSpan[],
  height: number,
  width: number,
  channels: 1 | 3,
  out: Float32Array<ArrayBuffer> = new Float32Array(spans.length * channels * height * width),
): Float32Array<ArrayBuffer> {
  const plane = height * width;
  for (let n = 0; n < spans.length; n++) {
    const { image, x0 } = spans[n]!;
    const base = n * channels * plane;
    const w = Math.min(width, spans[n]!.width);
    for (let y = 0; y < height; y++) {
      const row = base + y * width;
      for (let x = 0, i = y * image.width + x0; x < w; x++, i++) out[row + x] = SCALED[image.data[i]!]!;
      out.fill(0, row + w, row + width);
    }
    // The other channels are copies of the first, plane by plane.
    for (let c = 1; c < channels; c++) out.copyWithin(base + c * plane, base, base + plane);
  }
  return out;
}

/** Each grey level scaled to [-1, 1], looked up rather than divided at each of a page's five million pixels. */
const SCALED = Float32Array.from({ length: 256 }, (_, v) => v / 127.5 - 1);
