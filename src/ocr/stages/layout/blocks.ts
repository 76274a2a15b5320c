/**
 * Typed blocks from the layout's regions and the text read on their rows: headings, captions, lists,
 * tables, running headers and footers, page numbers and running text.
 *
 * Decided from geometry and the words alone (no font): a caption starts "Fig. 3" or "Table 2"; a list
 * item starts with a bullet or an enumerator and each item is a paragraph of its own; a heading is one
 * short row taller than the text, or numbered like a section, or a few words standing alone above more
 * text; a header or footer is a band of at most two single-row paragraphs no taller than the text at
 * the top or bottom of the page, set apart from the rest, and a page number when it is only a number.
 */
import type { BlockType } from '../../../contracts.ts';
import type { LayoutBox, LayoutRegion, Row } from './layout.ts';

export interface TypedParagraph {
  rows: Row[];
  /** Each row's text (its boxes' texts joined by a space). */
  texts: string[];
}

export interface TypedBlock {
  type: BlockType;
  paragraphs: TypedParagraph[];
}

/**
 * A list item's start: a bullet, or an enumerator (`3.`, `b)`, `(iv)`). A lone `.` is a small round
 * bullet as the recogniser often reads it (no line of prose starts with one).
 */
export const BULLET = /^[•·●▪■◦‣⁃∙○□►▸➢✓✔❖◆◇→*–—.-]\s+/u;
export const ENUMERATOR = /^(\(?\d{1,2}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)])\s/;
const CAPTION = /^(fig(ure)?s?|tab(le)?|plate|chart|scheme|photo|map|exhibit|illustration)\.?\s*[0-9IVX]+[a-z]?\b/i;
const SECTION = /^((\d+\.)*\d+\.?|[IVX]+\.|[A-Z]\.)\s+\p{Lu}/u;
const PAGE_NUMBER = /^(page\s+)?[-–—]?\s*([0-9]{1,4}|[ivxlc]{1,6})\s*[-–—]?(\s+(of|\/)\s+[0-9]{1,4})?$/i;

const startsItem = (text: string) => BULLET.test(text) || ENUMERATOR.test(text);

interface Geometry {
  boxes: LayoutBox[];
  lineHeight: number;
}

function rowBounds(boxes: LayoutBox[], rows: Row[]): LayoutBox {
  const all = rows.flat().map((i) => boxes[i]!);
  return {
    x0: Math.min(...all.map((b) => b.x0)),
    y0: Math.min(...all.map((b) => b.y0)),
    x1: Math.max(...all.map((b) => b.x1)),
    y1: Math.max(...all.map((b) => b.y1)),
  };
}

/** A paragraph split before every row after the first whose text `starts` something new. */
function splitBefore(p: TypedParagraph, starts: (text: string) => boolean): TypedParagraph[] {
  const out: TypedParagraph[] = [];
  p.rows.forEach((row, k) => {
    if (k === 0 || starts(p.texts[k]!)) out.push({ rows: [], texts: [] });
    out[out.length - 1]!.rows.push(row);
    out[out.length - 1]!.texts.push(p.texts[k]!);
  });
  return out;
}

/**
 * A paragraph's rows as the paragraphs they start: every list item its own paragraph (when the first
 * row starts one), and a caption apart from the figure's text above it (they share a pitch).
 */
function splitParagraph(p: TypedParagraph): TypedParagraph[] {
  const items = startsItem(p.texts[0]!) ? splitBefore(p, startsItem) : [p];
  return items.flatMap((q) => splitBefore(q, (text) => CAPTION.test(text)));
}

function isHeading(g: Geometry, p: TypedParagraph, regionWidth: number, followed: boolean): boolean {
  const text = p.texts.join(' ');
  if (p.rows.length > 2 || text.length > 90 || /[.,;:]$/.test(text) || CAPTION.test(text)) return false;
  const letters = text.replace(/[^\p{L}]/gu, '').length;
  if (letters < 0.6 * text.replace(/\s/g, '').length) return false;
  const box = rowBounds(g.boxes, p.rows);
  const rowHeights = p.rows.map((row) => {
    const b = rowBounds(g.boxes, [row]);
    return b.y1 - b.y0;
  });
  if (Math.min(...rowHeights) >= 1.25 * g.lineHeight) return true;
  if (p.rows.length > 1) return false;
  const words = text.split(/\s+/).length;
  if (SECTION.test(text) && words <= 12) return true;
  return followed && words <= 6 && /^\p{Lu}/u.test(text) && box.x1 - box.x0 < 0.6 * regionWidth;
}

function typeOf(g: Geometry, p: TypedParagraph, regionWidth: number, followed: boolean): BlockType {
  const first = p.texts[0]!;
  if (CAPTION.test(first)) return 'caption';
  if (startsItem(first) && !SECTION.test(first)) return 'list';
  return isHeading(g, p, regionWidth, followed) ? 'heading' : 'text';
}

/**
 * Paragraphs at the top or bottom edge of the page, alone on their band, short and set apart from the
 * rest: running headers, footers and page numbers.
 */
function edgeTypes(g: Geometry, paragraphs: TypedParagraph[]): Map<TypedParagraph, BlockType> {
  const types = new Map<TypedParagraph, BlockType>();
  if (paragraphs.length < 3) return types;
  const bounds = new Map(paragraphs.map((p) => [p, rowBounds(g.boxes, p.rows)]));
  const small = (p: TypedParagraph) => {
    const b = bounds.get(p)!;
    return p.rows.length === 1 && b.y1 - b.y0 < 1.3 * g.lineHeight;
  };
  for (const edge of ['top', 'bottom'] as const) {
    // Distance from the edge: the band is what comes before the first gap of half a line height.
    const near = (p: TypedParagraph) => (edge === 'top' ? bounds.get(p)!.y0 : -bounds.get(p)!.y1);
    const far = (p: TypedParagraph) => (edge === 'top' ? bounds.get(p)!.y1 : -bounds.get(p)!.y0);
    const sorted = [...paragraphs].sort((a, b) => near(a) - near(b));
    let reach = far(sorted[0]!);
    let k = 1;
    while (k < sorted.length && near(sorted[k]!) < reach + 0.5 * g.lineHeight) reach = Math.max(reach, far(sorted[k++]!));
    const band = sorted.slice(0, k);
    if (band.length > 2 || sorted.length - k < 2 || !band.every(small)) continue;
    for (const p of band) {
      if (types.has(p)) continue;
      types.set(p, PAGE_NUMBER.test(p.texts.join(' ').trim()) ? 'page_number' : edge === 'top' ? 'header' : 'footer');
    }
  }
  return types;
}

/** Whether a paragraph reads as prose: half its tokens or more are words of three letters or more. */
function isProse(p: TypedParagraph): boolean {
  const tokens = p.texts.join(' ').split(/\s+/).filter(Boolean);
  const words = tokens.filter((t) => /^[("'‘“]?\p{L}[\p{Ll}'’-]{2,}[)"'’”.,;:!?]*$/u.test(t));
  return words.length >= 0.5 * tokens.length;
}

/** Typed blocks in reading order from the regions' paragraphs; `rowText` gives each row's text. */
export function typeBlocks(boxes: LayoutBox[], lineHeight: number, regions: LayoutRegion[], rowText: (row: Row) => string): TypedBlock[] {
  const g: Geometry = { boxes, lineHeight };
  const perRegion = regions.map((region) => ({
    region,
    paragraphs: region.paragraphs.flatMap((rows) => splitParagraph({ rows, texts: rows.map(rowText) })),
  }));
  const edges = edgeTypes(
    g,
    perRegion.flatMap((r) => r.paragraphs),
  );
  const typed: { region: number; type: BlockType; paragraph: TypedParagraph }[] = [];
  perRegion.forEach(({ region, paragraphs }, r) => {
    if (paragraphs.length === 0) return;
    const area = rowBounds(
      boxes,
      paragraphs.flatMap((p) => p.rows),
    );
    paragraphs.forEach((p, k) => {
      const type = edges.get(p) ?? (region.table ? 'table' : typeOf(g, p, area.x1 - area.x0, k + 1 < paragraphs.length));
      typed.push({ region: r, type, paragraph: p });
    });
  });
  // The text of a figure (axis labels, legends, panel letters) comes just before its caption in the
  // reading order and does not read as prose.
  typed.forEach((t, k) => {
    if (t.type !== 'caption' || !/^fig/i.test(t.paragraph.texts[0]!)) return;
    for (let j = k - 1; j >= 0; j--) {
      const before = typed[j]!;
      if (
        before.type === 'caption' ||
        before.type === 'header' ||
        before.type === 'footer' ||
        before.type === 'page_number' ||
        isProse(before.paragraph)
      )
        break;
      before.type = 'figure';
    }
  });
  const blocks: TypedBlock[] = [];
  typed.forEach((t, k) => {
    const previous = blocks[blocks.length - 1];
    // Running text, list items, a table's rows and a figure's text gather into one block per region;
    // every other kind is a block of its own.
    const gathers = t.type === 'text' || t.type === 'list' || t.type === 'table' || t.type === 'figure';
    if (previous && gathers && previous.type === t.type && typed[k - 1]!.region === t.region) previous.paragraphs.push(t.paragraph);
    else blocks.push({ type: t.type, paragraphs: [t.paragraph] });
  });
  return blocks;
}
