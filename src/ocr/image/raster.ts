/** Decoded images as plain pixel buffers, and the few whole-image operations the pipeline needs. */
import sharp, { type Metadata } from 'sharp';
import { OcrError } from '../../errors.ts';

const FORMATS = new Set(['png', 'jpeg', 'webp', 'tiff']);

/** 8-bit pixels, row-major, interleaved; grey (1 channel) or RGB (3 channels). */
export interface Raster {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

export type Turn = 0 | 90 | 180 | 270;

/**
 * The image's header, checked: a kind we read and at most `maxPixels` pixels. Reads the header only
 * (no pixel is decoded), so it is cheap enough to run where the upload arrives, before any queue.
 * `input` is the image's bytes or the path of a file holding them.
 */
export async function checkImageHeader(input: Uint8Array | string, maxPixels: number): Promise<Metadata> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata(); // the limit is ours, just below
  } catch {
    throw new OcrError('IMAGE_UNREADABLE', 'The image could not be read');
  }
  if (!meta.format || !FORMATS.has(meta.format))
    throw new OcrError('UNSUPPORTED_MEDIA', `Unsupported image format "${meta.format ?? 'unknown'}": send PNG, JPEG, WebP or TIFF`);
  const { width = 0, height = 0 } = meta;
  if (width * height > maxPixels)
    throw new OcrError('IMAGE_TOO_LARGE', `The image has ${width}x${height} pixels, more than the limit of ${maxPixels} (MAX_PIXELS)`);
  return meta;
}

/**
 * Decodes PNG, JPEG, WebP or TIFF (first page), applying the EXIF orientation, dropping alpha onto white,
 * and keeping one channel when the image is grey. The size is checked from the header, before decoding.
 */
export async function decodeImage(input: Uint8Array, maxPixels: number): Promise<Raster> {
  const meta = await checkImageHeader(input, maxPixels);
  try {
    const image = sharp(input, { limitInputPixels: maxPixels, failOn: 'error' }).autoOrient().flatten({ background: '#ffffff' });
    const grey = meta.channels !== undefined && meta.channels <= 2;
    const { data, info } = await (grey ? image.toColourspace('b-w') : image.toColourspace('srgb'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      channels: info.channels === 1 ? 1 : 3,
    };
  } catch {
    throw new OcrError('IMAGE_UNREADABLE', 'The image is damaged or truncated');
  }
}

/** Resamples a raster to an exact size (area-averaging when shrinking). */
export async function resizeRaster(src: Raster, width: number, height: number): Promise<Raster> {
  const resized = sharp(src.data, { raw: { width: src.width, height: src.height, channels: src.channels } }).resize(width, height, {
    fit: 'fill',
    kernel: 'linear',
  });
  // sharp widens one-channel raw input to sRGB unless told to keep it grey.
  const data = await (src.channels === 1 ? resized.toColourspace('b-w') : resized).raw().toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width, height, channels: src.channels };
}

/** Turns a raster clockwise by a multiple of 90 degrees. */
export function turnRaster(src: Raster, turn: Turn): Raster {
  if (turn === 0) return src;
  const { width: w, height: h, channels: c } = src;
  const [ow, oh] = turn === 180 ? [w, h] : [h, w];
  const out = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let ox: number, oy: number;
      if (turn === 90) {
        ox = h - 1 - y;
        oy = x;
      } else if (turn === 180) {
        ox = w - 1 - x;
        oy = h - 1 - y;
      } else {
        ox = y;
        oy = w - 1 - x;
      }
      const si = (y * w + x) * c,
        di = (oy * ow + ox) * c;
      for (let k = 0; k < c; k++) out[di + k] = src.data[si + k]!;
    }
  }
  return { data: out, width: ow, height: oh, channels: c };
}
