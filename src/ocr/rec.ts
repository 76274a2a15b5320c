/** Text recognition: PP-OCRv4 rec over line images batched by width, decoded by greedy CTC. */
import { REC_HEIGHT } from './config.ts';
import type { LineImage } from './crop.ts';
import { ctcGreedyDecode, type CtcResult } from './ctc.ts';
import { packLines } from './line-tensor.ts';
import { runModel, type Session } from './onnx.ts';

/** Input columns per output timestep of the recogniser. */
export const REC_STRIDE = 8;

export interface RecognizeParams {
  batchColumns: number;
  batchWidthSpread: number;
}

export interface RecognizeResult {
  lines: CtcResult[];
  /** Columns fed to the model, padding included: what recognition time is proportional to. */
  columns: number;
  ms: number;
}

/** Groups line indices, narrowest first, so that a batch wastes little width on padding. */
export function widthBatches(widths: readonly number[], params: RecognizeParams): number[][] {
  const order = widths.map((_, i) => i).sort((a, b) => widths[a]! - widths[b]!);
  const batches: number[][] = [];
  let current: number[] = [];
  for (const i of order) {
    const first = current[0];
    const columns = (current.length + 1) * widths[i]!;
    if (first !== undefined && (columns > params.batchColumns || widths[i]! > widths[first]! * params.batchWidthSpread)) {
      batches.push(current);
      current = [];
    }
    current.push(i);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export async function recognizeLines(session: Session, lines: readonly LineImage[], alphabet: readonly string[], params: RecognizeParams): Promise<RecognizeResult> {
  const t0 = performance.now();
  const results: CtcResult[] = new Array(lines.length);
  let columns = 0;
  for (const batch of widthBatches(lines.map((l) => l.width), params)) {
    const maxWidth = Math.max(...batch.map((i) => lines[i]!.width));
    const width = Math.ceil(maxWidth / REC_STRIDE) * REC_STRIDE;
    columns += width * batch.length;
    const out = await runModel(session, packLines(batch.map((i) => lines[i]!), REC_HEIGHT, width), [batch.length, 3, REC_HEIGHT, width]);
    const [, steps, classes] = out.dims as [number, number, number];
    batch.forEach((lineIndex, n) => {
      // Read only the steps over the line itself, not over the padding.
      const own = Math.min(steps, Math.ceil(lines[lineIndex]!.width / REC_STRIDE) + 1);
      results[lineIndex] = ctcGreedyDecode(out.data, n * steps * classes, own, classes, alphabet);
    });
  }
  return { lines: results, columns, ms: performance.now() - t0 };
}
