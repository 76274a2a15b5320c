/** Text detection: PP-OCRv4 det on the page scaled under a long-side limit, then DB post-processing. */
import { dbPostprocess, type DbParams, type DetectedBox } from './db-postprocess.ts';
import { runModel, type Session } from './onnx.ts';
import { resizeRaster, type Raster } from './raster.ts';

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

export async function detectText(session: Session, page: Raster, params: DbParams & { limitSideLen: number }): Promise<DetectionResult> {
  const t0 = performance.now();
  const size = detInputSize(page.width, page.height, params.limitSideLen);
  const small = await resizeRaster(page, size.width, size.height);
  const plane = size.width * size.height;
  const input = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const src = small.channels === 1 ? 0 : c;
    const k = 1 / (255 * STD[c]!), m = MEAN[c]! / STD[c]!;
    for (let i = 0; i < plane; i++) input[c * plane + i] = small.data[i * small.channels + src]! * k - m;
  }
  const out = await runModel(session, input, [1, 3, size.height, size.width]);
  const map = { data: out.data, width: out.dims[3]!, height: out.dims[2]! };
  const boxes = dbPostprocess(map, params, page.width, page.height);
  return { boxes, inputWidth: size.width, inputHeight: size.height, ms: performance.now() - t0 };
}
