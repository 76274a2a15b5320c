/** Generated text for the search tests, from a seeded generator (harness/seeded-random.ts), so the same on every run. */
import type { Box, PageResult } from '../../src/contracts.ts';

/** Everyday words of office documents, none of them a word the tests look for. */
export const FILLER = (
  'the of and to in for on with by from at as is was are were be been has have had will shall may ' +
  'report meeting budget office staff account period review section table figure total annual ' +
  'department committee project contract service customer order payment balance statement summary ' +
  'policy member board record letter notice request approval schedule item amount number date ' +
  'year month week quarter team manager director company group process result change plan ' +
  'development building system program support level market product sales cost price value'
).split(' ');

export function sentence(random: () => number, words: number, vocabulary: readonly string[] = FILLER): string {
  const out = Array.from({ length: words }, () => vocabulary[Math.floor(random() * vocabulary.length)]!);
  out[0] = out[0]!.charAt(0).toUpperCase() + out[0]!.slice(1);
  return `${out.join(' ')}.`;
}

/** The box of a page's paragraph `i`: 40-pixel bands down the page. */
export const paragraphBox = (i: number): Box => [
  [50, 40 * i],
  [750, 40 * i],
  [750, 40 * i + 30],
  [50, 40 * i + 30],
];

/** A document's pages as OCR results, from each page's paragraphs (one line each). */
export function pageResults(pages: readonly (readonly string[])[]): PageResult[] {
  return pages.map((paragraphs, p) => ({
    page_number: p + 1,
    worker: 'test',
    source: 'ocr',
    width: 800,
    height: 1000,
    rotation: 0,
    text: paragraphs.join('\n\n'),
    lines: paragraphs.map((text, i) => ({ text, confidence: 0.99, box: paragraphBox(i), words: [] })),
    paragraphs: paragraphs.map((text, i) => ({ text, box: paragraphBox(i), lines: [i] })),
    blocks: paragraphs.map((_, i) => ({ type: 'text' as const, box: paragraphBox(i), lines: [i], paragraphs: [i] })),
    avg_confidence: 0.99,
    timings: { decode_ms: 0, det_ms: 0, cls_ms: 0, rec_ms: 0, layout_ms: 0, total_ms: 0 },
  }));
}
