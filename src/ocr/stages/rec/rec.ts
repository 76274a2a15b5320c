/** Text recognition: PP-OCRv4 rec over line images batched by width, decoded by greedy CTC. */
import { CUT_WINDOW, REC_HEIGHT, REC_STRIDE, WORD_SPACE, type RecParams } from '../../config.ts';
import { blankColumns, type LineImage } from '../../image/crop.ts';
import type { BatchHelper, StepMaxima } from '../../../contracts.ts';
import { ctcGreedyDecode, stepMaxima, type CtcResult } from './ctc.ts';
import { packLines, type LineSpan } from '../../image/line-tensor.ts';
import { inputBuffer, inputChannels, runModelOutputs, type Session } from '../../model/onnx.ts';

/**
 * Column ranges [x0, x1) that a line is read in: the whole line, or, when it is wider than `maxWidth`,
 * pieces of about equal width cut in the middle of word spaces. The recogniser was trained on lines
 * about 320 columns wide; on a 1,000-column line it drops letters (measured: "support,arranty nmnity
 * or ther liability ligatn" whole, the right words in pieces), and its attention costs grow with width.
 * Near each equal share the widest blank run is taken: where a tight box makes the text fill the line,
 * the gap between two l's is as wide as the narrowest space allowed, and a cut there read "still" as
 * "stiI".
 */
export function pieceRanges(line: LineImage, maxWidth: number): [number, number][] {
  if (line.width <= maxWidth) return [[0, line.width]];
  const blank = blankColumns(line);
  const minSpace = Math.max(2, Math.round(WORD_SPACE * line.height));
  const spaces: { at: number; width: number }[] = [];
  for (let x = 0; x < line.width;) {
    if (!blank[x]) {
      x++;
      continue;
    }
    let end = x;
    while (end < line.width && blank[end]) end++;
    if (end - x >= minSpace && x > 0 && end < line.width) spaces.push({ at: Math.floor((x + end) / 2), width: end - x });
    x = end;
  }
  // As few pieces as the width needs, cut near equal shares: no sliver at the end.
  const count = Math.ceil(line.width / maxWidth);
  const window = maxWidth / CUT_WINDOW;
  const ranges: [number, number][] = [];
  let start = 0;
  for (let k = 1; k < count; k++) {
    const ideal = (k * line.width) / count;
    const after = spaces.filter((c) => c.at > start);
    const near = after.filter((c) => Math.abs(c.at - ideal) <= window);
    const distance = (c: { at: number }) => Math.abs(c.at - ideal);
    const cut =
      near.length > 0
        ? near.reduce((best, c) => (c.width > best.width || (c.width === best.width && distance(c) < distance(best)) ? c : best))
        : after.reduce<{ at: number } | undefined>((best, c) => (best === undefined || distance(c) < distance(best) ? c : best), undefined);
    if (cut === undefined) break;
    ranges.push([start, cut.at]);
    start = cut.at;
  }
  ranges.push([start, line.width]);
  return ranges;
}

/** One line's result from the results of its pieces, with every character placed on the whole line's timeline. */
function joinPieces(pieces: { result: CtcResult; x0: number }[]): CtcResult {
  if (pieces.length === 1) return pieces[0]!.result;
  const chars = pieces.flatMap(({ result, x0 }) =>
    result.chars.map((c) => ({ ...c, start: c.start + x0 / REC_STRIDE, end: c.end + x0 / REC_STRIDE })),
  );
  const confidence = chars.length === 0 ? 0 : chars.reduce((sum, c) => sum + c.prob, 0) / chars.length;
  return { text: chars.map((c) => c.char).join(''), confidence, chars };
}

export interface RecognizeResult {
  lines: CtcResult[];
  ms: number;
}

/** Groups line indices, narrowest first, so that a batch wastes little width on padding. */
export function widthBatches(widths: readonly number[], params: Pick<RecParams, 'batchColumns' | 'batchWidthSpread'>): number[][] {
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

/** Runs the recogniser on a packed batch: step maxima from its argmax outputs (graph-rewrite.ts), else from its class probabilities. */
export async function readSteps(session: Session, input: Float32Array, dims: number[]): Promise<StepMaxima> {
  const outputs = await runModelOutputs(session, input, dims);
  const [first, second] = session.outputNames.map((name) => outputs[name]!);
  if (second) return { best: Int32Array.from(first!.data as BigInt64Array, Number), prob: second.data as Float32Array };
  return stepMaxima(first!.data as Float32Array, first!.dims[2]!);
}

/** What the recogniser reads: every line, or its pieces (`pieceRanges`), each with the line it is of. */
export function linePieces(lines: readonly LineImage[], maxPieceWidth: number): { lineIndex: number; span: LineSpan }[] {
  return lines.flatMap((image, lineIndex) =>
    pieceRanges(image, maxPieceWidth).map(([x0, x1]) => ({ lineIndex, span: { image, x0, width: x1 - x0 } })),
  );
}

/**
 * Reads the lines in batches of similar width. With a `helper`, batches are handed from the end of
 * the list to idle engines while this one reads from the front: a page's recognition is shared at the
 * end of a job instead of one engine reading alone. The batches are the same either way, so is the text.
 */
export async function recognizeLines(
  session: Session,
  lines: readonly LineImage[],
  alphabet: readonly string[],
  params: RecParams,
  helper?: BatchHelper,
): Promise<RecognizeResult> {
  const t0 = performance.now();
  const pieces = linePieces(lines, params.maxPieceWidth);
  const results = new Array<CtcResult>(pieces.length);
  const batches = widthBatches(
    pieces.map((p) => p.span.width),
    params,
  );
  const channels = inputChannels(session);
  const pack = (batch: number[], out?: (length: number) => Float32Array<ArrayBuffer>) => {
    const width = Math.ceil(Math.max(...batch.map((i) => pieces[i]!.span.width)) / REC_STRIDE) * REC_STRIDE;
    const length = batch.length * channels * REC_HEIGHT * width;
    const spans = batch.map((i) => pieces[i]!.span);
    return {
      input: packLines(spans, REC_HEIGHT, width, channels, out ? out(length) : new Float32Array(length)),
      dims: [batch.length, channels, REC_HEIGHT, width],
    };
  };
  const decode = (batch: number[], maxima: StepMaxima) => {
    const steps = maxima.best.length / batch.length;
    batch.forEach((pieceIndex, n) => {
      // Read only the steps over the piece itself, not over the padding.
      const own = Math.min(steps, Math.ceil(pieces[pieceIndex]!.span.width / REC_STRIDE) + 1);
      results[pieceIndex] = ctcGreedyDecode(maxima, n * steps, own, alphabet);
    });
  };
  const readHere = async (batch: number[]) => {
    const { input, dims } = pack(batch, inputBuffer);
    decode(batch, await readSteps(session, input, dims));
  };
  const handedOver: Promise<void>[] = [];
  let first = 0,
    last = batches.length - 1;
  while (first <= last) {
    // One batch at most is offered per batch read here: the pool learns of it before the next offer.
    if (helper && last > first && helper.free()) {
      const batch = batches[last--]!;
      const { input, dims } = pack(batch);
      handedOver.push(helper.read(input, dims).then((maxima) => (maxima ? decode(batch, maxima) : readHere(batch))));
    }
    await readHere(batches[first++]!);
  }
  await Promise.all(handedOver);
  const perLine = lines.map((): { result: CtcResult; x0: number }[] => []);
  pieces.forEach((p, i) => perLine[p.lineIndex]!.push({ result: results[i]!, x0: p.span.x0 }));
  return { lines: perLine.map(joinPieces), ms: performance.now() - t0 };
}
