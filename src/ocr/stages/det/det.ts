/** Text detection: PP-OCRv4 det on the page scaled under a long-side limit, then DB post-processing. */
import { DET_MEAN, DET_STD, type DetParams } from '../../config.ts';
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

/** The detector's input tensor for a page: scaled (`detInputSize`), normalised, NCHW. */
export async function detInput(page: Raster, params: DetParams): Promise<{ input: Float32Array; dims: number[] }> {
  const size = detInputSize(page.width, page.height, params.limitSideLen);
  const small = await resizeRaster(page, size.width, size.height);
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
