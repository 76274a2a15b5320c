/**
 * Line orientation: the PP-OCR mobile classifier tells upright lines from lines turned 180 degrees.
 * It reads a 192-column input; a long line squeezed into that is unreadable and misjudged, so a long
 * line is judged by a few windows of its own scale, and their probabilities averaged.
 */
import { CLS_BATCH, CLS_WIDTH, REC_HEIGHT } from '../../config.ts';
import type { LineImage } from '../../image/crop.ts';
import { packLines } from '../../image/line-tensor.ts';
import { runModel, type Session } from '../../model/onnx.ts';

export interface LineOrientation {
  turned: boolean;
  /** Probability of the winning label. */
  score: number;
}

export interface ClassifyResult {
  orientations: LineOrientation[];
  ms: number;
}

/** Up to `count` windows of `CLS_WIDTH` columns spread evenly along the line (the line itself when narrower). */
export function lineWindows(line: LineImage, count: number): LineImage[] {
  if (line.width <= CLS_WIDTH) return [line];
  const n = Math.min(count, Math.ceil(line.width / CLS_WIDTH));
  const windows: LineImage[] = [];
  for (let k = 0; k < n; k++) {
    const x0 = Math.round(((line.width - CLS_WIDTH) * k) / Math.max(1, n - 1));
    const data = new Uint8Array(CLS_WIDTH * line.height);
    for (let y = 0; y < line.height; y++) data.set(line.data.subarray(y * line.width + x0, y * line.width + x0 + CLS_WIDTH), y * CLS_WIDTH);
    windows.push({ data, width: CLS_WIDTH, height: line.height });
  }
  return windows;
}

export async function classifyLines(session: Session, lines: readonly LineImage[], windowsPerLine: number): Promise<ClassifyResult> {
  const t0 = performance.now();
  const windows = lines.flatMap((line, i) => lineWindows(line, windowsPerLine).map((w) => ({ line: i, image: w })));
  const turnedSum = new Float64Array(lines.length);
  const count = new Uint16Array(lines.length);
  for (let i = 0; i < windows.length; i += CLS_BATCH) {
    const batch = windows.slice(i, i + CLS_BATCH);
    const out = await runModel(
      session,
      packLines(
        batch.map((w) => w.image),
        REC_HEIGHT,
        CLS_WIDTH,
      ),
      [batch.length, 3, REC_HEIGHT, CLS_WIDTH],
    );
    batch.forEach((w, n) => {
      turnedSum[w.line]! += out.data[n * 2 + 1]!;
      count[w.line]! += 1;
    });
  }
  const orientations = lines.map((_, i) => {
    const turned = turnedSum[i]! / count[i]!;
    return { turned: turned > 0.5, score: Math.max(turned, 1 - turned) };
  });
  return { orientations, ms: performance.now() - t0 };
}
