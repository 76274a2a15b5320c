/**
 * Word-space recovery. PP-OCRv4's recogniser was trained mostly on Chinese and often drops the space
 * between English words. Each decoded character has a place on the CTC timeline (REC_STRIDE input
 * columns per step); between two neighbours, the widest run of blank columns of the line image tells a
 * word break from letter spacing. How wide a word break is gets calibrated on the spaces the model
 * did emit, in the line or else on the page (monospace letter gaps can be wider than a proportional
 * font's word spaces, so no fixed width works), and falls back to the line's character advance.
 */
import { blankColumns, type LineImage } from './crop.ts';
import type { DecodedChar } from './ctc.ts';
import { REC_STRIDE } from './rec.ts';

export interface SpaceParams {
  /** A gap this share of the typical emitted word gap is a word break. */
  gapToWordGap: number;
  /** Without emitted spaces to learn from: a gap this share of the median character advance. */
  gapToAdvance: number;
}

export interface RecognizedLine {
  chars: readonly DecodedChar[];
  image: LineImage;
}

// Scripts written without spaces between words: never insert one next to these.
const UNSPACED = /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]/;

const centre = (c: DecodedChar) => ((c.start + c.end + 1) / 2) * REC_STRIDE;

/** Widest blank run between the centres of two characters. */
function gapBetween(blank: Uint8Array, a: DecodedChar, b: DecodedChar): number {
  let best = 0, run = 0;
  const to = Math.min(blank.length, Math.round(centre(b)));
  for (let x = Math.max(0, Math.round(centre(a))); x < to; x++) {
    run = blank[x] ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Widths of the gaps where the model emitted a space between two characters. */
function emittedWordGaps(chars: readonly DecodedChar[], blank: Uint8Array): number[] {
  const gaps: number[] = [];
  for (let k = 1; k + 1 < chars.length; k++) {
    if (chars[k]!.char === ' ' && chars[k - 1]!.char !== ' ' && chars[k + 1]!.char !== ' ') gaps.push(gapBetween(blank, chars[k - 1]!, chars[k + 1]!));
  }
  return gaps;
}

function medianAdvance(chars: readonly DecodedChar[]): number | undefined {
  const advances: number[] = [];
  for (let k = 1; k < chars.length; k++) {
    if (chars[k]!.char !== ' ' && chars[k - 1]!.char !== ' ') advances.push(centre(chars[k]!) - centre(chars[k - 1]!));
  }
  return median(advances);
}

/** The line's text with a space wherever a gap between two characters is at least `minGap` columns. */
export function insertSpaces(chars: readonly DecodedChar[], blank: Uint8Array, minGap: number): string {
  let out = '';
  chars.forEach((b, k) => {
    const a = chars[k - 1];
    const mayBreak = a !== undefined && a.char !== ' ' && b.char !== ' ' && !UNSPACED.test(a.char) && !UNSPACED.test(b.char);
    if (mayBreak && gapBetween(blank, a, b) >= minGap) out += ' ';
    out += b.char;
  });
  return out.replace(/ {2,}/g, ' ').trim();
}

/** Texts of a page's lines with the dropped word spaces put back. */
export function recoverSpaces(lines: readonly RecognizedLine[], params: SpaceParams): string[] {
  const blanks = lines.map((l) => blankColumns(l.image));
  const lineGaps = lines.map((l, i) => emittedWordGaps(l.chars, blanks[i]!));
  const pageGap = median(lineGaps.flat());
  return lines.map((line, i) => {
    const own = lineGaps[i]!.length >= 2 ? median(lineGaps[i]!) : undefined;
    const wordGap = own ?? pageGap;
    const advance = medianAdvance(line.chars);
    const minGap = wordGap !== undefined ? params.gapToWordGap * wordGap : advance !== undefined ? params.gapToAdvance * advance : Infinity;
    return insertSpaces(line.chars, blanks[i]!, Math.max(1, minGap));
  });
}
