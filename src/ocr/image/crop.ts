/**
 * Cuts a text box out of a page, straightened, at the recogniser's height: Paddle's get_rotate_crop_image
 * and resize step in one bilinear pass, averaging several samples per output pixel when shrinking.
 */
import { SPECK } from '../config.ts';
import { lerp, quadSize, type Quad } from './geometry.ts';
import type { Raster } from './raster.ts';

/** A straightened text line, grey, `height` rows of `width` pixels. */
export interface LineImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A grey raster: what lines are cut from. */
export type GreyRaster = Raster & { channels: 1 };

/** One grey channel (ITU-R 601 luma), computed once per page rather than at every sample of every crop. */
export function greyPage(src: Raster): GreyRaster {
  if (src.channels === 1) return src as GreyRaster;
  const out = new Uint8Array(src.width * src.height);
  for (let i = 0, j = 0; j < out.length; i += 3, j++)
    out[j] = (77 * src.data[i]! + 150 * src.data[i + 1]! + 29 * src.data[i + 2]! + 128) >> 8;
  return { data: out, width: src.width, height: src.height, channels: 1 };
}

function bilinear(src: GreyRaster, x: number, y: number): number {
  // Replicate the border, as Paddle's warp does.
  const maxX = src.width - 1,
    maxY = src.height - 1;
  const x0 = Math.floor(x),
    y0 = Math.floor(y);
  const fx = x - x0,
    fy = y - y0;
  const xa = x0 < 0 ? 0 : x0 > maxX ? maxX : x0,
    xb = x0 + 1 < 0 ? 0 : x0 + 1 > maxX ? maxX : x0 + 1;
  const ya = y0 < 0 ? 0 : y0 > maxY ? maxY : y0,
    yb = y0 + 1 < 0 ? 0 : y0 + 1 > maxY ? maxY : y0 + 1;
  const d = src.data,
    w = src.width;
  const top = d[ya * w + xa]! + (d[ya * w + xb]! - d[ya * w + xa]!) * fx;
  const bottom = d[yb * w + xa]! + (d[yb * w + xb]! - d[yb * w + xa]!) * fx;
  return top + (bottom - top) * fy;
}

/** The box's straightened aspect: width over height, with boxes taller than 1.5x their width read turned. */
export function lineAspect(box: Quad): { aspect: number; vertical: boolean } {
  const { width, height } = quadSize(box);
  const vertical = width > 0 && height / width >= 1.5;
  const [w, h] = vertical ? [height, width] : [width, height];
  return { aspect: h > 0 ? w / h : 1, vertical };
}

/**
 * The box's corners in the order they appear in the straightened line image: its top-left, top-right,
 * bottom-right and bottom-left (a vertical box is turned counter-clockwise).
 */
export function lineFrame(box: Quad, vertical = lineAspect(box).vertical): Quad {
  return vertical ? [box[1], box[2], box[3], box[0]] : box;
}

/**
 * Crops `box` from `src` into a grey line image `outHeight` high, its width following the box's aspect
 * times `widthScale` (below 1 narrows the glyphs: the recogniser's cost is linear in width).
 */
export function cropLine(src: GreyRaster, box: Quad, outHeight: number, widthScale = 1): LineImage {
  const { aspect, vertical } = lineAspect(box);
  const outWidth = Math.max(1, Math.round(outHeight * aspect * widthScale));
  const frame = lineFrame(box, vertical);
  const { width: bw, height: bh } = quadSize(box);
  const scale = Math.max(bw, bh) / Math.max(outWidth, outHeight);
  const samples = Math.min(4, Math.max(1, Math.ceil(scale - 0.25)));
  const data = new Uint8Array(outWidth * outHeight);
  const ink =
    samples === 1 && insidePage(src, box)
      ? sampleInside(src, frame, outHeight, data)
      : sampleWithBorder(src, frame, outHeight, samples, data);
  inkAnalyses.set(data, { cut: threshold(ink.lo, ink.hi) });
  return { data, width: outWidth, height: outHeight };
}

/** Whether every sample of the box, whose samples all lie within its bounding box, has its four neighbours on the page. */
function insidePage(src: GreyRaster, box: Quad): boolean {
  return box.every(([x, y]) => x - 0.5 >= 0 && x - 0.5 < src.width - 1 && y - 0.5 >= 0 && y - 0.5 < src.height - 1);
}

/** The darkest and lightest values written: the line's ink threshold, known without another pass. */
interface InkRange {
  lo: number;
  hi: number;
}

/**
 * Where a sample row at `t` (0 at the frame's top edge, 1 at its bottom) starts in page pixel
 * coordinates, and its step per output column: along one sample row the box's bilinear map is linear.
 */
function sampleRow([tl, tr, br, bl]: Quad, t: number, outWidth: number): [number, number, number, number] {
  const lx = tl[0] + (bl[0] - tl[0]) * t - 0.5,
    ly = tl[1] + (bl[1] - tl[1]) * t - 0.5;
  return [lx, ly, (tr[0] + (br[0] - tr[0]) * t - 0.5 - lx) / outWidth, (tr[1] + (br[1] - tr[1]) * t - 0.5 - ly) / outWidth];
}

/**
 * One bilinear sample per output pixel with no border to replicate: most lines of a page, and the
 * crop's inner loop (a third of the JavaScript around the models before it had this path). The same
 * arithmetic as sampleWithBorder, so the same pixels.
 */
function sampleInside(src: GreyRaster, frame: Quad, outHeight: number, data: Uint8Array): InkRange {
  const d = src.data,
    w = src.width;
  const outWidth = data.length / outHeight;
  let lo = 255,
    hi = 0;
  for (let v = 0; v < outHeight; v++) {
    const [lx, ly, dx, dy] = sampleRow(frame, (v + 0.5) / outHeight, outWidth);
    const row = v * outWidth;
    for (let u = 0; u < outWidth; u++) {
      const s = u + 0.5;
      const x = lx + dx * s,
        y = ly + dy * s;
      const x0 = x | 0,
        y0 = y | 0;
      const fx = x - x0,
        fy = y - y0;
      const i = y0 * w + x0;
      const a = d[i]!,
        c = d[i + w]!;
      const top = a + (d[i + 1]! - a) * fx;
      const bottom = c + (d[i + w + 1]! - c) * fx;
      const value = (top + (bottom - top) * fy + 0.5) | 0; // Math.round for values >= 0, five times faster here
      data[row + u] = value;
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    }
  }
  return { lo, hi };
}

/** `samples` x `samples` bilinear samples averaged per output pixel, the page's border replicated where a sample falls off it. */
function sampleWithBorder(src: GreyRaster, frame: Quad, outHeight: number, samples: number, data: Uint8Array): InkRange {
  const outWidth = data.length / outHeight;
  const sums = new Float64Array(outWidth);
  let lo = 255,
    hi = 0;
  for (let v = 0; v < outHeight; v++) {
    sums.fill(0);
    for (let sv = 0; sv < samples; sv++) {
      const [lx, ly, dx, dy] = sampleRow(frame, (v + (sv + 0.5) / samples) / outHeight, outWidth);
      for (let u = 0; u < outWidth; u++) {
        for (let su = 0; su < samples; su++) {
          const s = u + (su + 0.5) / samples;
          sums[u]! += bilinear(src, lx + dx * s, ly + dy * s);
        }
      }
    }
    const norm = 1 / (samples * samples);
    for (let u = 0; u < outWidth; u++) {
      const value = (sums[u]! * norm + 0.5) | 0;
      data[v * outWidth + u] = value;
      if (value < lo) lo = value;
      if (value > hi) hi = value;
    }
  }
  return { lo, hi };
}

/** Turns a line image by 180 degrees. */
export function flipLine(line: LineImage): LineImage {
  return { ...line, data: line.data.slice().reverse() };
}

/**
 * The ink analysis of each line image, kept with its pixels: cutting the line at gutters, cutting it in
 * pieces for the recogniser, finding word spaces and word boxes all ask it of the same images.
 */
const inkAnalyses = new WeakMap<Uint8Array, { cut: number | undefined; blank?: Uint8Array }>();

function threshold(lo: number, hi: number): number | undefined {
  return hi - lo < 40 ? undefined : (lo + hi) / 2;
}

/** The grey level midway between paper and ink, or undefined when the line has no contrast (no ink). */
export function inkThreshold(line: LineImage): number | undefined {
  const known = inkAnalyses.get(line.data);
  if (known) return known.cut;
  let lo = 255,
    hi = 0;
  const { data } = line;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const cut = threshold(lo, hi);
  inkAnalyses.set(data, { cut });
  return cut;
}

/**
 * Columns of the line image that hold no ink: nothing darker than `cut`, by default midway between
 * paper and ink. Shared with every other caller for the same image and cut: not to be written to.
 */
export function blankColumns(line: LineImage, cut = inkThreshold(line)): Uint8Array {
  const { data, width, height } = line;
  const known = inkAnalyses.get(data);
  if (known?.blank && known.cut === cut) return known.blank;
  const blank = new Uint8Array(width).fill(1);
  if (cut !== undefined) {
    for (let x = 0; x < width; x++) {
      for (let y = 0; y < height; y++) {
        if (data[y * width + x]! < cut) {
          blank[x] = 0;
          break;
        }
      }
    }
  }
  if (known && known.cut === cut) known.blank = blank;
  return blank;
}

/** The widest run of blank columns in [from, to), or undefined when every column there holds ink. */
export function widestBlankRun(blank: Uint8Array, from: number, to: number): { x0: number; x1: number } | undefined {
  let best: { x0: number; x1: number } | undefined;
  let start = -1;
  const end = Math.min(blank.length, Math.round(to));
  for (let x = Math.max(0, Math.round(from)); x <= end; x++) {
    if (x < end && blank[x]) {
      if (start < 0) start = x;
    } else if (start >= 0) {
      if (!best || x - start > best.x1 - best.x0) best = { x0: start, x1: x };
      start = -1;
    }
  }
  return best;
}

/**
 * Marks specks (SPECK) blank: a dot of dust in a column gutter would otherwise bridge the gutter, and the
 * two columns' lines would be read as one. Letters are taller, and punctuation touches its word.
 */
function clearSpecks(line: LineImage, blank: Uint8Array, cut: number | undefined): void {
  if (cut === undefined) return;
  const limit = SPECK * line.height;
  const runs: { x0: number; x1: number; ink: boolean }[] = [];
  for (let x = 0; x < line.width;) {
    let end = x;
    while (end < line.width && blank[end] === blank[x]) end++;
    runs.push({ x0: x, x1: end, ink: blank[x] === 0 });
    x = end;
  }
  const inkHeight = (x0: number, x1: number) => {
    let top = line.height,
      bottom = -1;
    for (let y = 0; y < line.height; y++) {
      for (let x = x0; x < x1; x++) {
        if (line.data[y * line.width + x]! < cut) {
          top = Math.min(top, y);
          bottom = y;
          break;
        }
      }
    }
    return bottom - top + 1;
  };
  runs.forEach((run, i) => {
    const before = runs[i - 1],
      after = runs[i + 1];
    if (!run.ink || !before || !after) return;
    const alone = before.x1 - before.x0 >= 2 * limit && after.x1 - after.x0 >= 2 * limit;
    if (alone && run.x1 - run.x0 <= limit && inkHeight(run.x0, run.x1) <= limit) blank.fill(1, run.x0, run.x1);
  });
}

export interface LinePiece {
  box: Quad;
  image: LineImage;
  /** Where the image's corners lie on the page (lineFrame): its columns map back to the page through it. */
  frame: Quad;
}

/**
 * Cuts a line at blank runs at least `minGap` columns wide. The detector joins text across narrow
 * column gutters and wide justified spaces; a piece per run of text keeps columns apart, and the
 * recogniser reads no empty columns. Each piece keeps a margin of `margin` blank columns on both sides.
 */
export function splitLineAtGaps(line: LineImage, box: Quad, minGap: number, margin: number): LinePiece[] {
  const cut = inkThreshold(line);
  const blank = blankColumns(line, cut).slice();
  clearSpecks(line, blank, cut);
  const spans: [number, number][] = [];
  let start = -1,
    run = 0;
  for (let x = 0; x <= line.width; x++) {
    const isBlank = x === line.width || blank[x] === 1;
    if (!isBlank) {
      if (start < 0) start = x;
      run = 0;
    } else if (start >= 0 && (++run >= minGap || x === line.width)) {
      spans.push([start, x - run + 1]);
      start = -1;
    }
  }
  if (spans.length <= 1) return [{ box, image: line, frame: box }];
  const [tl, tr, br, bl] = box;
  return spans.map(([x0, x1]) => {
    const a = Math.max(0, x0 - margin),
      b = Math.min(line.width, x1 + margin);
    const data = new Uint8Array((b - a) * line.height);
    for (let y = 0; y < line.height; y++) data.set(line.data.subarray(y * line.width + a, y * line.width + b), y * (b - a));
    const s0 = a / line.width,
      s1 = b / line.width;
    const piece: Quad = [lerp(tl, tr, s0), lerp(tl, tr, s1), lerp(bl, br, s1), lerp(bl, br, s0)];
    return { box: piece, image: { data, width: b - a, height: line.height }, frame: piece };
  });
}
