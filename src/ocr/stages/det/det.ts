/**
 * Text detection: PP-OCRv4 det on the page scaled under a long-side limit (further down for large
 * print), then DB post-processing.
 */
import { DEFAULT_DET, DET_MEAN, DET_STD, type DetParams } from '../../config.ts';
import { dbPostprocess, type DetectedBox } from './db-postprocess.ts';
import { quadSize } from '../../image/geometry.ts';
import { inputBuffer, runModel, type Session } from '../../model/onnx.ts';
import { resizeRaster, type Raster } from '../../image/raster.ts';

export interface DetectionResult {
  boxes: DetectedBox[];
  ms: number;
}

/** The detector's input size: scaled so the long side is at most `limit`, each side a multiple of 32. */
export function detInputSize(width: number, height: number, limit: number): { width: number; height: number } {
  const scale = Math.min(1, limit / Math.max(width, height));
  const round32 = (v: number) => Math.max(32, Math.round((v * scale) / 32) * 32);
  return { width: round32(width), height: round32(height) };
}

/**
 * Drops specks: dust and noise on a scan that the detector boxes on their own, which the recogniser
 * reads as a stray "$" or ".". Measured against the median line height, so small print stays.
 */
export function withoutSpecks(boxes: DetectedBox[], speckShare: number): DetectedBox[] {
  if (boxes.length < 3) return boxes;
  const sizes = boxes.map((b) => quadSize(b.box));
  const lineHeights = sizes.map((s) => Math.min(s.width, s.height)).sort((a, b) => a - b);
  const limit = speckShare * lineHeights[Math.floor(lineHeights.length / 2)]!;
  return boxes.filter((_, i) => Math.max(sizes[i]!.width, sizes[i]!.height) >= limit);
}

/**
 * The height of the page's text lines in pixels: the median run of rows holding ink (darker than mid
 * grey) in each of a dozen vertical strips, so that columns and a slight skew do not merge lines.
 * Undefined without text lines to measure (a blank or dark page).
 */
export function textLineHeight(page: Raster): number | undefined {
  const { width, height, channels, data } = page;
  const strips = 12;
  const stripWidth = Math.floor(width / strips);
  const runs: number[] = [];
  for (let s = 0; s < strips; s++) {
    let run = 0;
    for (let y = 0; y <= height; y++) {
      let ink = 0;
      for (
        let i = (y * width + s * stripWidth) * channels, end = i + stripWidth * channels;
        y < height && i < end && ink < 2;
        i += channels
      )
        if (data[i]! < 128) ink++;
      if (ink >= 2) run++;
      else {
        // Runs of one or two rows are rules and noise; runs an eighth of the page tall, figures.
        if (run >= 3 && run < height / 8) runs.push(run);
        run = 0;
      }
    }
  }
  if (runs.length === 0) return undefined;
  return runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)];
}

/**
 * The page scaled for the detector: its long side at most `limitSideLen`, and further down (not under
 * `minSideLen`) while its text lines stay `linePixels` high at the default limit of 1280, and as much
 * higher as a larger limit is larger (a larger limit asks for more detail). Body text of 8-12 points
 * on a letter or A4 page measures 9-13 pixels at 1280 and keeps it: 1024 lost characters on blurred
 * scans (s10 of the corpus, 0.24 -> 1.18 % CER). Large print (Chinese at 11 points, 17 pixels) reads
 * as well smaller.
 */
export async function detectionPage(page: Raster, params: DetParams): Promise<Raster> {
  const size = detInputSize(page.width, page.height, params.limitSideLen);
  const scaled = await resizeRaster(page, size.width, size.height);
  const lineHeight = textLineHeight(scaled);
  const linePixels = (params.linePixels * params.limitSideLen) / DEFAULT_DET.limitSideLen;
  if (lineHeight === undefined || lineHeight <= linePixels) return scaled;
  const side = Math.max(params.minSideLen, (Math.max(size.width, size.height) * linePixels) / lineHeight);
  const smaller = detInputSize(page.width, page.height, side);
  if (smaller.width >= size.width && smaller.height >= size.height) return scaled;
  return resizeRaster(page, smaller.width, smaller.height);
}

/** The detector's input tensor for a page: scaled (`detectionPage`), normalised, NCHW. */
export async function detInput(page: Raster, params: DetParams): Promise<{ input: Float32Array; dims: number[] }> {
  const small = await detectionPage(page, params);
  const size = { width: small.width, height: small.height };
  const plane = size.width * size.height;
  const input = inputBuffer(3 * plane);
  for (let c = 0; c < 3; c++) {
    const src = small.channels === 1 ? 0 : c;
    const k = 1 / (255 * DET_STD[c]!),
      m = DET_MEAN[c]! / DET_STD[c]!;
    for (let i = 0; i < plane; i++) input[c * plane + i] = small.data[i * small.channels + src]! * k - m;
  }
  return { input, dims: [1, 3, size.height, size.width] };
}

export async function detectText(session: Session, page: Raster, params: DetParams): Promise<DetectionResult> {
  const t0 = performance.now();
  const { input, dims } = await detInput(page, params);
  const out = await runModel(session, input, dims);
  const map = { data: out.data, width: out.dims[3]!, height: out.dims[2]! };
  const boxes = withoutSpecks(dbPostprocess(map, params, page.width, page.height), params.speckShare);
  return { boxes, ms: performance.now() - t0 };
}
