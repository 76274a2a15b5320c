/**
 * Lines and words of a PDF's own text layer. pdfjs gives runs of text (a word, a line, or a single
 * glyph, as the producer wrote them) with the width of each run but not of its glyphs, so a word inside
 * a run gets its share of the run's width in proportion to its characters' widths in a font of the
 * run's family (sans-serif, serif or monospace), measured once per character.
 */
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { OcrWord } from '../contracts.ts';
import { boundsQuad } from '../ocr/image/geometry.ts';
import type { ReadLine } from '../ocr/stages/layout/assemble.ts';

/** A run of text on the page, in pixels. */
export interface TextRun {
  str: string;
  x: number;
  width: number;
  top: number;
  bottom: number;
  /** CSS generic family of the run's font. */
  family: string;
}

let context: SKRSContext2D | undefined;
const widths = new Map<string, number>();

/** A character's advance in a 100-pixel font of `family` (0 when no font draws it). */
function advance(char: string, family: string): number {
  const key = `${family}\u0000${char}`;
  let width = widths.get(key);
  if (width === undefined) {
    context ??= createCanvas(1, 1).getContext('2d');
    context.font = `100px ${family}`;
    width = context.measureText(char).width;
    widths.set(key, width);
  }
  return width;
}

interface PlacedChar {
  char: string;
  x0: number;
  x1: number;
  top: number;
  bottom: number;
}

/** Each character of the run with its share of the run's width. */
function placeChars(run: TextRun): PlacedChar[] {
  const chars = [...run.str];
  const measured = chars.map((c) => advance(c, run.family));
  const total = measured.reduce((s, w) => s + w, 0);
  const shares = total > 0 ? measured.map((w) => w / total) : chars.map(() => 1 / chars.length);
  let x = run.x;
  return chars.map((char, i) => {
    const x0 = x;
    x += shares[i]! * run.width;
    return { char, x0, x1: x, top: run.top, bottom: run.bottom };
  });
}

/** A line from its runs: text trimmed with white space collapsed to single spaces, and its words; undefined when blank. */
export function textLayerLine(runs: readonly TextRun[]): ReadLine | undefined {
  const chars = runs.flatMap(placeChars);
  const words: OcrWord[] = [];
  let word: PlacedChar[] = [];
  const endWord = () => {
    if (word.length === 0) return;
    const x0 = Math.min(...word.map((c) => c.x0)),
      x1 = Math.max(...word.map((c) => c.x1));
    const y0 = Math.min(...word.map((c) => c.top)),
      y1 = Math.max(...word.map((c) => c.bottom));
    words.push({
      text: word.map((c) => c.char).join(''),
      confidence: 1,
      box: boundsQuad({ x0, y0, x1, y1 }),
    });
    word = [];
  };
  for (const c of chars) {
    if (/\s/.test(c.char)) endWord();
    else word.push(c);
  }
  endWord();
  if (words.length === 0) return undefined;
  const x0 = Math.min(...runs.map((r) => r.x)),
    x1 = Math.max(...runs.map((r) => r.x + r.width));
  const y0 = Math.min(...runs.map((r) => r.top)),
    y1 = Math.max(...runs.map((r) => r.bottom));
  return {
    text: words.map((w) => w.text).join(' '),
    confidence: 1,
    box: boundsQuad({ x0, y0, x1, y1 }),
    words,
  };
}
