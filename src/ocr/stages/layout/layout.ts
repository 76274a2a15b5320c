/**
 * Reading order and paragraphs from line boxes alone.
 *
 * A region splits into columns at a vertical gutter that no line (or only lines spanning the page, like
 * headings) crosses, and only when the lines on each side fill their side as running text does; table
 * cells don't, so a table is read row by row. Lines spanning a gutter cut the columns into segments
 * read top to bottom. Inside a column, boxes on one baseline form a row; rows group into paragraphs
 * at wider gaps.
 */
import { DEFAULT_LAYOUT, type LayoutParams } from '../../config.ts';

export interface LayoutBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Indices of boxes on one text row, left to right. */
export type Row = number[];

export interface PageLayout {
  /** Paragraphs in reading order, each a list of rows. */
  paragraphs: Row[][];
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const cy = (b: LayoutBox) => (b.y0 + b.y1) / 2;
const cx = (b: LayoutBox) => (b.x0 + b.x1) / 2;

function spanningAllowance(params: LayoutParams, lines: number): number {
  return Math.max(2, Math.floor(params.maxSpanningShare * lines));
}

interface Gutter {
  x0: number;
  x1: number;
}

/** x-intervals covered by at most `allowance` boxes, strictly inside the region, widest first. */
function gutterCandidates(boxes: LayoutBox[], ids: number[], allowance: number, minWidth: number): Gutter[] {
  const left = Math.floor(Math.min(...ids.map((i) => boxes[i]!.x0)));
  const right = Math.ceil(Math.max(...ids.map((i) => boxes[i]!.x1)));
  const cover = new Int32Array(right - left + 2);
  for (const i of ids) {
    cover[Math.floor(boxes[i]!.x0) - left]! += 1;
    cover[Math.ceil(boxes[i]!.x1) - left]! -= 1;
  }
  const gutters: Gutter[] = [];
  let count = 0,
    start = -1;
  for (let x = 0; x <= right - left; x++) {
    count += cover[x]!;
    if (count <= allowance && start < 0) start = x;
    if ((count > allowance || x === right - left) && start >= 0) {
      if (start > 0 && count > allowance && x - start >= minWidth) gutters.push({ x0: left + start, x1: left + x });
      start = -1;
    }
  }
  return gutters.sort((a, b) => b.x1 - b.x0 - (a.x1 - a.x0));
}

interface ColumnSplit {
  spanning: number[];
  left: number[];
  right: number[];
}

interface Context {
  boxes: LayoutBox[];
  lineHeight: number;
  params: LayoutParams;
}

/** The first gutter at which the region splits into two text columns, if any. */
function findSplit(ctx: Context, ids: number[]): ColumnSplit | undefined {
  if (ids.length < 2) return undefined;
  const allowance = spanningAllowance(ctx.params, ids.length);
  for (const g of gutterCandidates(ctx.boxes, ids, allowance, ctx.params.minGutter * ctx.lineHeight)) {
    const split = splitAtGutter(ctx, ids, g);
    if (split) return split;
  }
  return undefined;
}

/**
 * Whether boxes form running text: wide enough for words, rows filling the width (word boxes of
 * justified lines merged into rows), and any inner gutter itself a split into text columns.
 * Table cells fail this: their columns are narrow or only partly filled.
 */
function isTextColumn(ctx: Context, ids: number[]): boolean {
  const { boxes, lineHeight, params } = ctx;
  const x0 = Math.min(...ids.map((i) => boxes[i]!.x0));
  const width = Math.max(...ids.map((i) => boxes[i]!.x1)) - x0;
  if (width < params.minColumnWidth * lineHeight) return false;
  const extents = groupRows(boxes, ids).map((row) => Math.max(...row.map((i) => boxes[i]!.x1)) - Math.min(...row.map((i) => boxes[i]!.x0)));
  if (median(extents) < params.minColumnFill * width) return false;
  const allowance = spanningAllowance(params, ids.length);
  return gutterCandidates(boxes, ids, allowance, params.minGutter * lineHeight).length === 0 || findSplit(ctx, ids) !== undefined;
}

function splitAtGutter(ctx: Context, ids: number[], g: Gutter): ColumnSplit | undefined {
  const { boxes } = ctx;
  const spanning: number[] = [],
    left: number[] = [],
    right: number[] = [];
  // Spanning lines reach a line height into both sides; a box that only pokes into the gutter (a
  // speck of dirt beside a line) belongs to the side its centre is on.
  const reach = ctx.lineHeight;
  for (const i of ids) {
    const b = boxes[i]!;
    if (b.x0 < g.x0 - reach && b.x1 > g.x1 + reach) spanning.push(i);
    else (cx(b) < (g.x0 + g.x1) / 2 ? left : right).push(i);
  }
  if (left.length === 0 || right.length === 0) return undefined;
  // Columns stand side by side: their vertical extents overlap.
  const top = (s: number[]) => Math.min(...s.map((i) => boxes[i]!.y0));
  const bottom = (s: number[]) => Math.max(...s.map((i) => boxes[i]!.y1));
  const overlap = Math.min(bottom(left), bottom(right)) - Math.max(top(left), top(right));
  const shorter = Math.min(bottom(left) - top(left), bottom(right) - top(right));
  if (overlap < 0.5 * shorter) return undefined;
  if (!isTextColumn(ctx, left) || !isTextColumn(ctx, right)) return undefined;
  return { spanning, left, right };
}

/** Groups boxes into rows by vertical overlap, rows top to bottom, boxes in a row left to right. */
export function groupRows(boxes: LayoutBox[], ids: number[]): Row[] {
  const sorted = [...ids].sort((a, b) => cy(boxes[a]!) - cy(boxes[b]!));
  const rows: { ids: number[]; y0: number; y1: number }[] = [];
  for (const i of sorted) {
    const b = boxes[i]!;
    const row = rows[rows.length - 1];
    if (row) {
      const overlap = Math.min(row.y1, b.y1) - Math.max(row.y0, b.y0);
      if (overlap > 0.5 * Math.min(row.y1 - row.y0, b.y1 - b.y0)) {
        row.ids.push(i);
        row.y0 = Math.min(row.y0, b.y0);
        row.y1 = Math.max(row.y1, b.y1);
        continue;
      }
    }
    rows.push({ ids: [i], y0: b.y0, y1: b.y1 });
  }
  return rows.map((r) => r.ids.sort((a, b) => boxes[a]!.x0 - boxes[b]!.x0));
}

/** Column blocks in reading order; each block is read as rows. */
function columnBlocks(ctx: Context, ids: number[]): number[][] {
  const split = findSplit(ctx, ids);
  if (!split) return [ids];
  const { boxes } = ctx;
  // Spanning lines cut the columns into segments, each read left column then right column.
  const cuts = split.spanning.sort((a, b) => cy(boxes[a]!) - cy(boxes[b]!));
  const blocks: number[][] = [];
  let above = -Infinity;
  for (let k = 0; k <= cuts.length; k++) {
    const below = k < cuts.length ? cy(boxes[cuts[k]!]!) : Infinity;
    const inSegment = (i: number) => cy(boxes[i]!) >= above && cy(boxes[i]!) < below;
    for (const side of [split.left, split.right]) {
      const part = side.filter(inSegment);
      if (part.length > 0) blocks.push(...columnBlocks(ctx, part));
    }
    if (k < cuts.length) blocks.push([cuts[k]!]);
    above = below;
  }
  return blocks;
}

/** Splits a block's rows into paragraphs where the gap to the previous row is wider than usual. */
function paragraphsOf(boxes: LayoutBox[], rows: Row[], lineHeight: number, params: LayoutParams): Row[][] {
  const rowTop = (r: Row) => Math.min(...r.map((i) => boxes[i]!.y0));
  const rowBottom = (r: Row) => Math.max(...r.map((i) => boxes[i]!.y1));
  const rowHeight = (r: Row) => rowBottom(r) - rowTop(r);
  const pitches: number[] = [];
  for (let k = 1; k < rows.length; k++) pitches.push(rowTop(rows[k]!) - rowTop(rows[k - 1]!));
  const pitch = pitches.length >= 2 ? median(pitches) : lineHeight * 1.35;
  const paragraphs: Row[][] = [];
  rows.forEach((row, k) => {
    const prev = rows[k - 1];
    const tallerThanPrev = prev !== undefined && (rowHeight(row) > 1.3 * rowHeight(prev) || rowHeight(prev) > 1.3 * rowHeight(row));
    if (!prev || rowTop(row) - rowTop(prev) > params.paragraphPitch * pitch || tallerThanPrev) paragraphs.push([row]);
    else paragraphs[paragraphs.length - 1]!.push(row);
  });
  return paragraphs;
}

/** Reading order of a page's line boxes as paragraphs of rows. */
export function layoutPage(boxes: LayoutBox[], params: LayoutParams = DEFAULT_LAYOUT): PageLayout {
  const ids = boxes.map((_, i) => i);
  if (ids.length === 0) return { paragraphs: [] };
  const lineHeight = median(boxes.map((b) => b.y1 - b.y0));
  const paragraphs: Row[][] = [];
  for (const block of columnBlocks({ boxes, lineHeight, params }, ids)) {
    paragraphs.push(...paragraphsOf(boxes, groupRows(boxes, block), lineHeight, params));
  }
  return { paragraphs };
}
