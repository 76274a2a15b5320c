/** Turns read lines with their boxes into a page's reading order: ordered lines, paragraphs and text. */
import type { Box, OcrBlock, OcrLine, OcrParagraph, OcrWord } from '../../../contracts.ts';
import type { LayoutParams } from '../../config.ts';
import { boundsQuad, deskewedBounds, lerp, medianSkew, pointsBounds, type Bounds, type Quad } from '../../image/geometry.ts';
import { typeBlocks } from './blocks.ts';
import { layoutPage, type LayoutBox } from './layout.ts';

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
  blocks: OcrBlock[];
  avg_confidence: number;
}

const round4 = (v: number) => Math.round(v * 10000) / 10000;
/** Boxes are reported in whole pixels. */
const pixelBox = (q: Quad): Box => q.map(([x, y]) => [Math.round(x), Math.round(y)]) as Box;

function boundsBox(lines: readonly OcrLine[], indices: readonly number[]): Box {
  return boundsQuad(pointsBounds(indices.flatMap((i) => lines[i]!.box)));
}

/** A line's box for the layout: deskewed, and as wide as its words' ink where it has words (the detector's box reaches past it). */
function layoutBounds(read: readonly ReadLine[], skew: number): Bounds[] {
  return read.map((line) => {
    const b = deskewedBounds(line.box, skew);
    if (line.words.length === 0) return b;
    const ink = line.words.map((w) => deskewedBounds(w.box, skew));
    return { x0: Math.min(...ink.map((w) => w.x0)), y0: b.y0, x1: Math.max(...ink.map((w) => w.x1)), y1: b.y1 };
  });
}

/**
 * Lines the detector drew across a narrow gutter (a left column's line and the right column's line on
 * its baseline as one box), cut at the word gap over the gutter: the two halves belong to different
 * columns. Returns undefined when no line crosses a gutter.
 */
function cutAtGutters(
  read: readonly ReadLine[],
  bounds: readonly Bounds[],
  gutters: readonly LayoutBox[],
  skew: number,
  lineHeight: number,
): ReadLine[] | undefined {
  let cut = false;
  const out: ReadLine[] = [];
  read.forEach((line, i) => {
    const b = bounds[i]!;
    const middle = (b.y0 + b.y1) / 2;
    // Only a line with nothing beside it on its row is cut (a superscript above it is no matter):
    // a caption or a line poking into the gutter has the columns beside it.
    const alone = () =>
      bounds.every(
        (o, k) =>
          k === i ||
          (o.x0 < b.x1 && o.x1 > b.x0) ||
          Math.min(o.y1, b.y1) - Math.max(o.y0, b.y0) <= 0.5 * Math.min(o.y1 - o.y0, b.y1 - b.y0),
      );
    const crossed = gutters.filter((g) => b.x0 < g.x0 && b.x1 > g.x1 && middle > g.y0 - lineHeight && middle < g.y1 + lineHeight);
    if (crossed.length > 0 && !alone()) crossed.length = 0;
    const words = line.words.map((w) => deskewedBounds(w.box, skew));
    // Word k ends before a crossed gutter and word k + 1 starts after it.
    const cuts = words.flatMap((w, k) => {
      const next = words[k + 1];
      return next && next.x0 - w.x1 >= 0.3 * lineHeight && crossed.some((g) => w.x1 < g.x1 && next.x0 > g.x0) ? [k] : [];
    });
    if (cuts.length === 0) {
      out.push(line);
      return;
    }
    cut = true;
    const along = (x: number) => (x - b.x0) / (b.x1 - b.x0);
    const [tl, tr, br, bl] = line.box;
    let from = 0,
      start = 0;
    for (const k of [...cuts, words.length - 1]) {
      const last = k === words.length - 1;
      const end = last ? 1 : along(words[k]!.x1 + 0.25 * (words[k + 1]!.x0 - words[k]!.x1));
      const part = line.words.slice(from, k + 1);
      out.push({
        box: [lerp(tl, tr, start), lerp(tl, tr, end), lerp(bl, br, end), lerp(bl, br, start)],
        text: part.map((w) => w.text).join(' '),
        confidence: line.confidence,
        words: part,
      });
      if (!last) start = along(words[k + 1]!.x0 - 0.25 * (words[k + 1]!.x0 - words[k]!.x1));
      from = k + 1;
    }
  });
  return cut ? out : undefined;
}

/**
 * Orders `read` lines (boxes deskewed by the page's median line angle first) into typed blocks, joins
 * the boxes of a row with a space and the rows of a paragraph with a newline; the page's text leaves a
 * figure's own text out (its lines and paragraphs stay). `toOutput` maps a box to
 * the frame the caller reports boxes in.
 */
export function assemblePage(detected: readonly ReadLine[], layout: LayoutParams, toOutput: (q: Quad) => Box = (q) => q): AssembledPage {
  const skew = medianSkew(detected.map((k) => k.box));
  let read = detected;
  let bounds = layoutBounds(read, skew);
  let { regions, gutters, lineHeight } = layoutPage(bounds, layout);
  const cut = cutAtGutters(read, bounds, gutters, skew, lineHeight);
  if (cut) {
    read = cut;
    bounds = layoutBounds(read, skew);
    ({ regions, gutters, lineHeight } = layoutPage(bounds, layout));
  }
  const typed = typeBlocks(bounds, lineHeight, regions, (row) => row.map((i) => read[i]!.text).join(' '));
  const lines: OcrLine[] = [];
  const paragraphs: OcrParagraph[] = [];
  const blocks: OcrBlock[] = [];
  const texts: string[] = [];
  for (const block of typed) {
    const blockLines: number[] = [];
    const blockParagraphs: number[] = [];
    for (const para of block.paragraphs) {
      const indices: number[] = [];
      for (const i of para.rows.flat()) {
        indices.push(lines.length);
        const { text, confidence, box, words } = read[i]!;
        lines.push({
          text,
          confidence: round4(confidence),
          box: pixelBox(toOutput(box)),
          words: words.map((w) => ({ text: w.text, confidence: round4(w.confidence), box: pixelBox(toOutput(w.box)) })),
        });
      }
      blockLines.push(...indices);
      blockParagraphs.push(paragraphs.length);
      paragraphs.push({ text: para.texts.join(' '), box: boundsBox(lines, indices), lines: indices });
      if (block.type !== 'figure') texts.push(para.texts.join('\n'));
    }
    blocks.push({ type: block.type, box: boundsBox(lines, blockLines), lines: blockLines, paragraphs: blockParagraphs });
  }
  const avg = lines.length === 0 ? 0 : lines.reduce((s, l) => s + l.confidence, 0) / lines.length;
  return { text: texts.join('\n\n'), lines, paragraphs, blocks, avg_confidence: round4(avg) };
}
