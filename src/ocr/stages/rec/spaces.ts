/**
 * Word-space recovery. PP-OCRv4's recogniser was trained mostly on Chinese and often drops the space
 * between English words. Each decoded character has a place on the CTC timeline (REC_STRIDE input
 * columns per step); between two neighbours, the widest run of blank columns of the line image tells a
 * word break from letter spacing. How wide a word break is gets calibrated on the spaces the model
 * did emit, in the line or else on the page (monospace letter gaps can be wider than a proportional
 * font's word spaces, so no fixed width works), and falls back to the line's character advance.
 */
import { NARROW_FACTOR, REC_STRIDE, type SpaceParams } from '../../config.ts';
import { blankColumns, widestBlankRun, type LineImage } from '../../image/crop.ts';
import type { DecodedChar } from './ctc.ts';

export interface RecognizedLine {
  chars: readonly DecodedChar[];
  image: LineImage;
}

// Scripts written without spaces between words: never a space between two of these (between one
// of these and a Latin word, only where the page shows one).
const UNSPACED = /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]/;
const CJK_LETTER = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/;

/**
 * Outside CJK text: full-width digits and Latin letters (the recogniser's dictionary has both) as
 * plain ASCII, and a capital I between two lower-case letters as the l it is. In sans-serif type the
 * two are the same bar; the recogniser picks between them by a hair ("stiIl" for "still").
 */
export function normaliseLatin(text: string): string {
  if (CJK_LETTER.test(text)) return text;
  return text
    .replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/\u3000/g, ' ')
    .replace(/(?<=\p{Ll})I(?=\p{Ll})/gu, 'l');
}

/** The line-image column at the middle of a character's steps on the recogniser's timeline. */
export const charCentre = (c: DecodedChar) => ((c.start + c.end + 1) / 2) * REC_STRIDE;
const centre = charCentre;

/** Widest blank run between the centres of two characters. */
function gapBetween(blank: Uint8Array, a: DecodedChar, b: DecodedChar): number {
  const run = widestBlankRun(blank, centre(a), centre(b));
  return run ? run.x1 - run.x0 : 0;
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
    if (chars[k]!.char === ' ' && chars[k - 1]!.char !== ' ' && chars[k + 1]!.char !== ' ')
      gaps.push(gapBetween(blank, chars[k - 1]!, chars[k + 1]!));
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

/** Otsu's threshold of whole-number samples: the cut that best separates them into two groups. */
export function otsuThreshold(values: readonly number[]): number {
  const max = Math.max(...values);
  const hist = new Float64Array(max + 1);
  for (const v of values) hist[v]! += 1;
  const total = values.length;
  const sum = values.reduce((s, v) => s + v, 0);
  let best = 0,
    bestVar = -1,
    weight = 0,
    partial = 0;
  for (let t = 0; t < max; t++) {
    weight += hist[t]!;
    partial += t * hist[t]!;
    if (weight === 0 || weight === total) continue;
    const m0 = partial / weight,
      m1 = (sum - partial) / (total - weight);
    const between = weight * (total - weight) * (m0 - m1) ** 2;
    if (between > bestVar) {
      bestVar = between;
      best = t + 1;
    }
  }
  return best;
}

/** Gaps between neighbouring characters where the model emitted no space. */
function letterGaps(chars: readonly DecodedChar[], blank: Uint8Array): number[] {
  const gaps: number[] = [];
  for (let k = 1; k < chars.length; k++) {
    const a = chars[k - 1]!,
      b = chars[k]!;
    if (a.char !== ' ' && b.char !== ' ' && !(UNSPACED.test(a.char) && UNSPACED.test(b.char))) gaps.push(gapBetween(blank, a, b));
  }
  return gaps;
}

// Narrow punctuation leaves a wide blank beside its small glyph, and so does a digit 1 in tabular
// figures (all digits one width): a gap beside one, or between two digits, must be wider to be a break.
const NARROW = /^[.,:;'"`\u2018\u2019]$/;
const DIGIT = /^\d$/;
// Except after a clause mark before a word, or a full stop before a capital: there a space is the rule
// in Latin script, and the blank is an ordinary word gap (the 12 bench pages lost it in "CHARGE,THERE").
const CLAUSE_MARK = /^[,;:]$/;
const LETTER = /^\p{L}$/u;
const CAPITAL = /^\p{Lu}$/u;

function sentenceBreak(a: string, b: string): boolean {
  return (CLAUSE_MARK.test(a) && LETTER.test(b)) || (a === '.' && CAPITAL.test(b));
}

/** Inside a number like 1,250.75 a separator never takes a space on either side. */
function insideNumber(chars: readonly DecodedChar[], k: number): boolean {
  const at = (i: number) => chars[i]?.char ?? '';
  const separator = (c: string) => c === '.' || c === ',';
  return (
    (separator(at(k - 1)) && DIGIT.test(at(k - 2)) && DIGIT.test(at(k))) ||
    (separator(at(k)) && DIGIT.test(at(k - 1)) && DIGIT.test(at(k + 1)))
  );
}

/** A word of a line: its text and the first and last of the line's characters it was read from. */
export interface WordSpan {
  text: string;
  first: number;
  last: number;
}

/** A line's text with its word spaces, and its words. */
export interface SpacedLine {
  text: string;
  words: WordSpan[];
}

/** Spaced text, with the character each of its UTF-16 units came from (-1 for a space put in). */
interface Spaced {
  text: string;
  source: number[];
}

/** The line's text with a space wherever a gap between two characters is at least `minGap` columns. */
function spaceChars(chars: readonly DecodedChar[], blank: Uint8Array, minGap: number): Spaced {
  const units: { text: string; from: number }[] = [];
  chars.forEach((b, k) => {
    const a = chars[k - 1];
    const mayBreak =
      a !== undefined && a.char !== ' ' && b.char !== ' ' && !(UNSPACED.test(a.char) && UNSPACED.test(b.char)) && !insideNumber(chars, k);
    if (mayBreak) {
      const narrow =
        !sentenceBreak(a.char, b.char) && (NARROW.test(a.char) || NARROW.test(b.char) || (DIGIT.test(a.char) && DIGIT.test(b.char)));
      const needed = narrow ? NARROW_FACTOR * minGap : minGap;
      if (gapBetween(blank, a, b) >= needed) units.push({ text: ' ', from: -1 });
    }
    units.push({ text: b.char, from: k });
  });
  // Single spaces, and no white space at either end (String.trim's).
  let text = '';
  const source: number[] = [];
  for (const unit of units) {
    if (unit.text === ' ' && text.endsWith(' ')) continue;
    text += unit.text;
    for (let i = 0; i < unit.text.length; i++) source.push(unit.from);
  }
  const start = text.length - text.trimStart().length,
    end = text.trimEnd().length;
  return { text: text.slice(start, end), source: source.slice(start, end) };
}

/** The line's text with a space wherever a gap between two characters is at least `minGap` columns. */
export function insertSpaces(chars: readonly DecodedChar[], blank: Uint8Array, minGap: number): string {
  return spaceChars(chars, blank, minGap).text;
}

/** The words of `text` (spaced text after normaliseLatin, which keeps every unit in place) with the characters they came from. */
function wordsOf(text: string, source: readonly number[]): WordSpan[] {
  const words: WordSpan[] = [];
  for (const match of text.matchAll(/[^ ]+/g)) {
    const from = source.slice(match.index, match.index + match[0].length).filter((k) => k >= 0);
    words.push({ text: match[0], first: Math.min(...from), last: Math.max(...from) });
  }
  return words;
}

/** Texts of a page's lines with the dropped word spaces put back, and their words. */
export function recoverSpaces(lines: readonly RecognizedLine[], params: SpaceParams): SpacedLine[] {
  const blanks = lines.map((l) => blankColumns(l.image));
  const lineGaps = lines.map((l, i) => emittedWordGaps(l.chars, blanks[i]!));
  const pageGaps = lineGaps.flat();
  const pageGap = pageGaps.length >= params.pageSamples ? median(pageGaps) : undefined;
  // Where the model emitted (almost) no spaces, the page's gaps between characters split into
  // letter gaps and word gaps; Otsu's cut between the two needs enough of them to be meaningful.
  const unspaced = pageGap === undefined ? lines.flatMap((l, i) => letterGaps(l.chars, blanks[i]!)) : [];
  const pageCut = unspaced.length >= params.otsuSamples ? otsuThreshold(unspaced) : undefined;
  return lines.map((line, i) => {
    const own = lineGaps[i]!.length >= params.lineSamples ? median(lineGaps[i]!) : undefined;
    const wordGap = own ?? pageGap;
    const advance = medianAdvance(line.chars) ?? Infinity;
    const learned = wordGap !== undefined ? params.gapToWordGap * wordGap : pageCut;
    const minGap = learned !== undefined ? Math.max(learned, params.minGapToAdvance * advance) : params.gapToAdvance * advance;
    const spaced = spaceChars(line.chars, blanks[i]!, Math.max(1, minGap));
    const text = normaliseLatin(spaced.text);
    return { text, words: wordsOf(text, spaced.source) };
  });
}
