/**
 * Line orientation: the PP-OCR mobile classifier tells upright lines from lines turned 180 degrees.
 * It reads a 192-column input; a long line squeezed into that is unreadable and misjudged, so a long
 * line is judged by a few windows of its own scale, and their probabilities averaged. A page's
 * orientation is settled by its widest lines; the others are classified only when those disagree.
 */
import { CLS_BATCH, CLS_WIDTH, REC_HEIGHT, type ClsParams } from '../../config.ts';
import type { LineImage } from '../../image/crop.ts';
import { packLines, wholeLine, type LineSpan } from '../../image/line-tensor.ts';
import { inputBuffer, inputChannels, runModel, type Session } from '../../model/onnx.ts';

export interface LineOrientation {
  turned: boolean;
  /** Probability of the winning label. */
  score: number;
}

export interface ClassifyResult {
  orientations: LineOrientation[];
  ms: number;
}

/** Up to `count` windows of `CLS_WIDTH` columns spread evenly along the span (the span itself when narrower). */
export function lineWindows(span: LineSpan, count: number): LineSpan[] {
  if (span.width <= CLS_WIDTH) return [span];
  const n = Math.min(count, Math.ceil(span.width / CLS_WIDTH));
  return Array.from({ length: n }, (_, k) => ({
    image: span.image,
    x0: span.x0 + Math.round(((span.width - CLS_WIDTH) * k) / Math.max(1, n - 1)),
    width: CLS_WIDTH,
  }));
}

export async function classifyLines(session: Session, lines: readonly LineImage[], windowsPerLine: number): Promise<ClassifyResult> {
  const t0 = performance.now();
  const windows = lines.flatMap((line, i) => lineWindows(wholeLine(line), windowsPerLine).map((w) => ({ line: i, span: w })));
  const turnedSum = new Float64Array(lines.length);
  const count = new Uint16Array(lines.length);
  const channels = inputChannels(session);
  for (let i = 0; i < windows.length; i += CLS_BATCH) {
    const batch = windows.slice(i, i + CLS_BATCH);
    const out = await runModel(
      session,
      packLines(
        batch.map((w) => w.span),
        REC_HEIGHT,
        CLS_WIDTH,
        channels,
        inputBuffer(batch.length * channels * REC_HEIGHT * CLS_WIDTH),
      ),
      [batch.length, channels, REC_HEIGHT, CLS_WIDTH],
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

/** The probability that a line is turned 180 degrees. */
export function turnedProbability(o: LineOrientation): number {
  return o.turned ? o.score : 1 - o.score;
}

/** How a page reads: upside down or not, and the lines that read the other way from the page. */
export interface PageOrientation {
  upsideDown: boolean;
  /**
   * Every line's orientation when the page's lines disagree (each was classified), else undefined:
   * the page's lines all read its way, and none was classified beyond the sample.
   */
  lines: LineOrientation[] | undefined;
  ms: number;
}

/**
 * The page's widest lines, as many as `windows` classifier windows hold (at least one line): wide
 * lines give the classifier the most text to judge (one-word lines are often misjudged).
 */
export function orientationSample(lines: readonly LineImage[], windowsPerLine: number, windows: number): number[] {
  const order = lines.map((_, i) => i).sort((a, b) => lines[b]!.width - lines[a]!.width);
  const sample: number[] = [];
  let used = 0;
  for (const i of order) {
    const n = lineWindows(wholeLine(lines[i]!), windowsPerLine).length;
    if (sample.length > 0 && used + n > windows) break;
    sample.push(i);
    used += n;
  }
  return sample;
}

/** Whether lines weighed by their width and the probability that each is turned read upside down. */
function voteUpsideDown(lines: readonly LineImage[], orientations: readonly LineOrientation[], share: number): boolean {
  const total = lines.reduce((s, l) => s + l.width, 0);
  const turned = lines.reduce((s, l, i) => s + l.width * turnedProbability(orientations[i]!), 0);
  return turned > share * total;
}

/**
 * Settles a page's orientation once: its widest lines (`orientationSample`) vote, each weighed by its
 * width. When they agree (none reads the other way from the vote) the page's lines are taken to read
 * as the page and no other line is classified; when one disagrees, the page is of mixed orientation:
 * every line is classified, and the vote is taken over all of them.
 */
export async function pageOrientation(
  session: Session,
  lines: readonly LineImage[],
  params: Pick<ClsParams, 'windowsPerLine' | 'sampleWindows' | 'pageFlipShare'>,
): Promise<PageOrientation> {
  if (lines.length === 0) return { upsideDown: false, lines: undefined, ms: 0 };
  const sample = orientationSample(lines, params.windowsPerLine, params.sampleWindows);
  const first = await classifyLines(
    session,
    sample.map((i) => lines[i]!),
    params.windowsPerLine,
  );
  const upsideDown = voteUpsideDown(
    sample.map((i) => lines[i]!),
    first.orientations,
    params.pageFlipShare,
  );
  if (first.orientations.every((o) => o.turned === upsideDown)) return { upsideDown, lines: undefined, ms: first.ms };
  const known = new Map(sample.map((lineIndex, k) => [lineIndex, first.orientations[k]!]));
  const rest = lines.flatMap((_, i) => (known.has(i) ? [] : [i]));
  const second = await classifyLines(
    session,
    rest.map((i) => lines[i]!),
    params.windowsPerLine,
  );
  rest.forEach((lineIndex, k) => known.set(lineIndex, second.orientations[k]!));
  const all = lines.map((_, i) => known.get(i)!);
  return { upsideDown: voteUpsideDown(lines, all, params.pageFlipShare), lines: all, ms: first.ms + second.ms };
}
