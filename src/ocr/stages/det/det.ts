/** Text detection: PP-OCRv4 det on the page scaled under a long-side limit, then DB post-processing. */
import { dbPostprocess, type DbParams, type DetectedBox } from './db-postprocess.ts';
import { quadSize } from '../../image/geometry.ts';
import { runModel, type Session } from '../../model/onnx.ts';
import { resizeRaster, type Raster } from '../../image/raster.ts';

// ImageNet statistics the det model was trained with.
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export interface DetectionResult {
  boxes: DetectedBox[];
  /** Size of the model's input. */
  inputWidth: number;
  inputHeight: number;
  ms: number;
}

/** The detector's input size: scaled so the long side is at most `limit`, each side a multiple of 32. */
export function detInputSize(width: number, height: number, limit: number): { width: number; height: number } {
  const scale = Math.min(1, limit / Math.max(width, height));
  const round32 = (v: number) => Math.max(32, Math.round((v * scale) / 32) * 32);
  return { width: round32(width), height: round32(height) };
}

export interface DetParams extends DbParams {
  /** Longest side, in pixels, that a page is scaled down to for detection (rounded to a multiple of 32). */
  limitSideLen: number;
  /** Boxes whose longest side is under this share of the page's median line height are specks, not text. */
  speckShare: number;
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
  const input = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const src = small.channels === 1 ? 0 : c;
    const k = 1 / (255 * STD[c]!), m = MEAN[c]! / STD[c]!;
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
  return { boxes, inputWidth: dims[3]!, inputHeight: dims[2]!, ms: performance.now() - t0 };
}
