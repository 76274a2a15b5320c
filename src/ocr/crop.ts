/**
 * Cuts a text box out of a page, straightened, at the recogniser's height: Paddle's get_rotate_crop_image
 * and resize step in one bilinear pass, averaging several samples per output pixel when shrinking.
 */
import { quadSize, type Point, type Quad } from './geometry.ts';
import type { Raster } from './raster.ts';

/** A straightened text line, grey, `height` rows of `width` pixels. */
export interface LineImage {
  data: Uint8Array;
  width: number;
  height: number;
}

function greyAt(src: Raster, x: number, y: number): number {
  // Replicate the border, as Paddle's warp does.
  const xi = Math.min(src.width - 1, Math.max(0, x));
  const yi = Math.min(src.height - 1, Math.max(0, y));
  const i = (yi * src.width + xi) * src.channels;
  if (src.channels === 1) return src.data[i]!;
  return 0.299 * src.data[i]! + 0.587 * src.data[i + 1]! + 0.114 * src.data[i + 2]!;
}

function bilinear(src: Raster, x: number, y: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const fx = x - x0, fy = y - y0;
  const a = greyAt(src, x0, y0), b = greyAt(src, x0 + 1, y0);
  const c = greyAt(src, x0, y0 + 1), d = greyAt(src, x0 + 1, y0 + 1);
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

/** The box's straightened aspect: width over height, with boxes taller than 1.5x their width read turned. */
export function lineAspect(box: Quad): { aspect: number; vertical: boolean } {
  const { width, height } = quadSize(box);
  const vertical = width > 0 && height / width >= 1.5;
  const [w, h] = vertical ? [height, width] : [width, height];
  return { aspect: h > 0 ? w / h : 1, vertical };
}

/**
 * Crops `box` from `src` into a grey line image `outHeight` high, its width following the box's aspect
 * times `widthScale` (below 1 narrows the glyphs: the recogniser's cost is linear in width).
 */
export function cropLine(src: Raster, box: Quad, outHeight: number, widthScale = 1): LineImage {
  const { aspect, vertical } = lineAspect(box);
  const outWidth = Math.max(1, Math.round(outHeight * aspect * widthScale));
  // Corners in the order they appear in the straightened line (a vertical box is turned counter-clockwise).
  const [tl, tr, br, bl] = vertical ? [box[1], box[2], box[3], box[0]] : box;
  const { width: bw, height: bh } = quadSize(box);
  const scale = Math.max(bw, bh) / Math.max(outWidth, outHeight);
  const samples = Math.min(4, Math.max(1, Math.ceil(scale - 0.25)));
  const data = new Uint8Array(outWidth * outHeight);
  for (let v = 0; v < outHeight; v++) {
    for (let u = 0; u < outWidth; u++) {
      let sum = 0;
      for (let sv = 0; sv < samples; sv++) {
        const t = (v + (sv + 0.5) / samples) / outHeight;
        for (let su = 0; su < samples; su++) {
          const s = (u + (su + 0.5) / samples) / outWidth;
          const x = (1 - t) * ((1 - s) * tl[0] + s * tr[0]) + t * ((1 - s) * bl[0] + s * br[0]);
          const y = (1 - t) * ((1 - s) * tl[1] + s * tr[1]) + t * ((1 - s) * bl[1] + s * br[1]);
          sum += bilinear(src, x - 0.5, y - 0.5);
        }
      }
      data[v * outWidth + u] = Math.round(sum / (samples * samples));
    }
  }
  return { data, width: outWidth, height: outHeight };
}

/** Turns a line image by 180 degrees. */
export function flipLine(line: LineImage): LineImage {
  return { ...line, data: line.data.slice().reverse() };
}

/** Squeezes or keeps a line to at most `maxWidth` columns (the classifier's input), linear in x. */
export function fitLineWidth(line: LineImage, maxWidth: number): LineImage {
  if (line.width <= maxWidth) return line;
  const out = new Uint8Array(maxWidth * line.height);
  const ratio = line.width / maxWidth;
  for (let u = 0; u < maxWidth; u++) {
    const x0 = Math.floor(u * ratio), x1 = Math.max(x0 + 1, Math.floor((u + 1) * ratio));
    for (let v = 0; v < line.height; v++) {
      let sum = 0;
      for (let x = x0; x < x1; x++) sum += line.data[v * line.width + x]!;
      out[v * maxWidth + u] = Math.round(sum / (x1 - x0));
    }
  }
  return { data: out, width: maxWidth, height: line.height };
}

/** Columns of the line image that hold no ink: nothing darker than midway between paper and ink. */
export function blankColumns(line: LineImage): Uint8Array {
  const { data, width, height } = line;
  let lo = 255, hi = 0;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const blank = new Uint8Array(width).fill(1);
  if (hi - lo < 40) return blank; // no contrast: no ink at all
  const cut = (lo + hi) / 2;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      if (data[y * width + x]! < cut) { blank[x] = 0; break; }
    }
  }
  return blank;
}


export interface LinePiece {
  box: Quad;
  image: LineImage;
}

const lerp = (a: Point, b: Point, t: number): Point => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];

/**
 * Cuts a line at blank runs at least `minGap` columns wide. The detector joins text across narrow
 * column gutters and wide justified spaces; a piece per run of text keeps columns apart, and the
 * recogniser reads no empty columns. Each piece keeps a margin of `margin` blank columns on both sides.
 */
export function splitLineAtGaps(line: LineImage, box: Quad, minGap: number, margin: number): LinePiece[] {
  const blank = blankColumns(line);
  const spans: [number, number][] = [];
  let start = -1, run = 0;
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
  if (spans.length <= 1) return [{ box, image: line }];
  const [tl, tr, br, bl] = box;
  return spans.map(([x0, x1]) => {
    const a = Math.max(0, x0 - margin), b = Math.min(line.width, x1 + margin);
    const data = new Uint8Array((b - a) * line.height);
    for (let y = 0; y < line.height; y++) data.set(line.data.subarray(y * line.width + a, y * line.width + b), y * (b - a));
    const s0 = a / line.width, s1 = b / line.width;
    return { box: [lerp(tl, tr, s0), lerp(tl, tr, s1), lerp(bl, br, s1), lerp(bl, br, s0)], image: { data, width: b - a, height: line.height } };
  });
}
