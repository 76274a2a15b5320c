/** Turns read lines with their boxes into a page's reading order: ordered lines, paragraphs and text. */
import type { Box, OcrLine, OcrParagraph, OcrWord } from '../../../contracts.ts';
import type { LayoutParams } from '../../config.ts';
import { deskewedBounds, medianSkew, pointsBounds, type Quad } from '../../image/geometry.ts';
import { layoutPage } from './layout.ts';

export interface ReadLine {
  box: Quad;
  text: string;
  confidence: number;
  /** The words of `text`, in order (joined by single spaces they give `text`), in the frame of `box`. */
  words: OcrWord[];
}

export interface AssembledPage {
  text: string;
  lines: OcrLine[];
  paragraphs: OcrParagraph[];
  avg_confidence: number;
}

const round4 = (v: number) => Math.round(v * 10000) / 10000;
/** Boxes are reported in whole pixels. */
const pixelBox = (q: Quad): Box => q.map(([x, y]) => [Math.round(x), Math.round(y)]) as Box;

/**
 * Orders `read` lines (boxes deskewed by the page's median line angle first), joins the boxes of a row
 * with a space and the rows of a paragraph with a newline. `toOutput` maps a box to the frame the
 * caller reports boxes in.
 */
export function assemblePage(read: readonly ReadLine[], layout: LayoutParams, toOutput: (q: Quad) => Box = (q) => q): AssembledPage {
  const skew = medianSkew(read.map((k) => k.box));
  const { paragraphs: ordered } = layoutPage(
    read.map((k) => deskewedBounds(k.box, skew)),
    layout,
  );
  const lines: OcrLine[] = [];
  const paragraphs: OcrParagraph[] = [];
  const blocks: string[] = [];
  for (const para of ordered) {
    const indices: number[] = [];
    const rowTexts: string[] = [];
    for (const row of para) {
      rowTexts.push(row.map((i) => read[i]!.text).join(' '));
      for (const i of row) {
        indices.push(lines.length);
        const { text, confidence, box, words } = read[i]!;
        lines.push({
          text,
          confidence: round4(confidence),
          box: pixelBox(toOutput(box)),
          words: words.map((w) => ({ text: w.text, confidence: round4(w.confidence), box: pixelBox(toOutput(w.box)) })),
        });
      }
    }
    const b = pointsBounds(indices.flatMap((i) => lines[i]!.box));
    paragraphs.push({
      text: rowTexts.join(' '),
      box: [
        [b.x0, b.y0],
        [b.x1, b.y0],
        [b.x1, b.y1],
        [b.x0, b.y1],
      ],
      lines: indices,
    });
    blocks.push(rowTexts.join('\n'));
  }
  const avg = lines.length === 0 ? 0 : lines.reduce((s, l) => s + l.confidence, 0) / lines.length;
  return { text: blocks.join('\n\n'), lines, paragraphs, avg_confidence: round4(avg) };
}
