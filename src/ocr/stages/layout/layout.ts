/**
 * Reading order from line boxes alone: a recursive cut of the page at column gutters measured against
 * the text beside them.
 *
 * A gutter is a vertical strip, a little wider than the local text's word gaps, that no box crosses
 * over a run of lines, with the next column's lines starting at one x right of it (a left tab stop, as
 * in Tesseract's column finder) and text left of it. A box that crosses the strip while the columns go
 * on beside it on its row (a line poking into the gutter, a caption set in the gutter) does not end
 * the gutter; a box that crosses it with nothing beside it (a heading or a figure spanning the
 * columns) does. The longest gutter whose two sides read as running text (wide, rows filling their
 * width: table cells don't) splits a region into what lies above it, its left column, anything set in
 * the gutter, its right column and what lies below, read in that order, each part cut again the same
 * way. What no gutter splits is read as rows top to bottom, grouped into paragraphs at wider gaps.
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

/** A part of the page no gutter splits: read as its paragraphs of rows. */
export interface LayoutRegion {
  /** Paragraphs in reading order, each a list of rows. */
  paragraphs: Row[][];
  /** Cells in aligned columns too narrow or sparse for running text: read row by row. */
  table: boolean;
  /** Set in a gutter between two columns of text (a caption beside a picture the columns wrap around). */
  inGutter: boolean;
}

export interface PageLayout {
  /** The regions in reading order. */
  regions: LayoutRegion[];
  /** The gutters that split the page: the strip between the columns, over the rows beside it. */
  gutters: LayoutBox[];
  /** The median line height the page's text was measured against. */
  lineHeight: number;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const cy = (b: LayoutBox) => (b.y0 + b.y1) / 2;
const height = (b: LayoutBox) => b.y1 - b.y0;
/** Two boxes are on one row when they overlap vertically by more than half the lower one's height. */
const sameRow = (a: LayoutBox, b: LayoutBox) => Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) > 0.5 * Math.min(height(a), height(b));

interface Context {
  boxes: LayoutBox[];
  params: LayoutParams;
  gutters: LayoutBox[];
}

/** A candidate tab stop: where a column's rows start or where a justified column's rows end. */
interface Tab {
  kind: 'start' | 'end';
  x: number;
}

interface Gutter {
  /** The strip no box of the band crosses. */
  x0: number;
  x1: number;
  /** Boxes beside it, by side; boxes set in it. */
  left: number[];
  right: number[];
  inGutter: number[];
  /** Boxes wholly above and below the band. */
  above: number[];
  below: number[];
}

/** Counts distinct text rows among boxes (justified lines the detector cut into words count once). */
function rowCount(boxes: LayoutBox[], ids: number[]): number {
  return groupRows(boxes, ids).length;
}

/** Whether boxes read as running text: wide enough for words, most rows filling the width. */
function isRunningText(ctx: Context, ids: number[], lineHeight: number, nested = false): boolean {
  const { boxes, params } = ctx;
  if (ids.length === 0) return false;
  const x0 = Math.min(...ids.map((i) => boxes[i]!.x0));
  const width = Math.max(...ids.map((i) => boxes[i]!.x1)) - x0;
  if (width < params.minColumnWidth * lineHeight) return false;
  const extents = groupRows(boxes, ids).map((row) => Math.max(...row.map((i) => boxes[i]!.x1)) - Math.min(...row.map((i) => boxes[i]!.x0)));
  const full = extents.filter((e) => e >= params.minColumnFill * width).length;
  if (full >= 0.5 * extents.length && !isCells(boxes, ids, lineHeight)) return true;
  // A side that is itself two columns of running text (three columns on the page); looked for one level deep only.
  return !nested && findGutter(ctx, ids, true) !== undefined;
}

/**
 * The longest gutter in a region, if any. Candidates are the x's where at least three boxes start
 * within a quarter line height of each other.
 */
function findGutter(ctx: Context, ids: number[], nested = false): Gutter | undefined {
  const { boxes, params } = ctx;
  if (ids.length < 4) return undefined;
  const lineHeight = median(ids.map((i) => height(boxes[i]!)));
  const strip = params.minGutter * lineHeight;
  const tab = 0.25 * lineHeight;
  const byY = [...ids].sort((a, b) => boxes[a]!.y0 - boxes[b]!.y0);
  // Boxes on each box's row, for telling a passable crossing box from a spanning one.
  const rowMates = new Map<number, number[]>();
  for (let k = 0; k < byY.length; k++) {
    const a = boxes[byY[k]!]!;
    const mates: number[] = [];
    for (let m = k - 1; m >= 0 && boxes[byY[m]!]!.y0 > a.y0 - 3 * lineHeight; m--) if (sameRow(a, boxes[byY[m]!]!)) mates.push(byY[m]!);
    for (let m = k + 1; m < byY.length && boxes[byY[m]!]!.y0 < a.y1; m++) if (sameRow(a, boxes[byY[m]!]!)) mates.push(byY[m]!);
    rowMates.set(byY[k]!, mates);
  }
  // Tab stops: x's where three or more boxes start (a column's left edge) or end (a justified column's right edge).
  const candidates: Tab[] = [];
  for (const kind of ['start', 'end'] as const) {
    const xs = ids.map((i) => (kind === 'start' ? boxes[i]!.x0 : -boxes[i]!.x1)).sort((p, q) => p - q);
    let last = -Infinity;
    for (let k = 0; k + 2 < xs.length; k++) {
      if (xs[k + 2]! - xs[k]! > tab || xs[k]! - last <= tab) continue;
      last = xs[k]!;
      candidates.push({ kind, x: kind === 'start' ? xs[k]! : -xs[k]! });
    }
  }
  let best: { gutter: Gutter; extent: number } | undefined;
  for (const { kind, x } of candidates) {
    const [s0, s1] = kind === 'start' ? [x - strip, x] : [x, x + strip];
    // Boxes on a crossing box's row that lie mostly beside it, across the strip from the box's middle: a
    // line poking into the gutter has the other column beside it. A line poking out of its column into
    // the margin (a speck before it) has only its own row's next column beside it, on its own side.
    const beside = (i: number) => {
      const b = boxes[i]!;
      const middle = (b.x0 + b.x1) / 2;
      const mates = rowMates.get(i)!.map((m) => boxes[m]!);
      return {
        leftBeside: middle > s0 - lineHeight && mates.some((m) => (m.x0 + m.x1) / 2 < b.x0 && m.x1 < s1),
        rightBeside: middle < s1 + lineHeight && mates.some((m) => (m.x0 + m.x1) / 2 > b.x1 && m.x0 > s0),
      };
    };
    // Boxes crossing the strip end a gutter unless the columns go on beside them on their row. A box
    // reaching a quarter line height past the tab stop is the aligned column's jitter, not a crossing.
    const hard: LayoutBox[] = [];
    const soft = new Set<number>();
    for (const i of ids) {
      const b = boxes[i]!;
      if (b.x1 <= s0 + (kind === 'end' ? tab / 2 : 0) || b.x0 >= s1 - (kind === 'start' ? tab / 2 : 0)) continue;
      const { leftBeside, rightBeside } = beside(i);
      if (leftBeside || rightBeside) soft.add(i);
      else hard.push(b);
    }
    hard.sort((p, q) => p.y0 - q.y0);
    // Free bands between the hard crossings.
    const bands: [number, number][] = [];
    let top = -Infinity;
    for (const h of hard) {
      if (h.y0 > top) bands.push([top, h.y0]);
      top = Math.max(top, h.y1);
    }
    bands.push([top, Infinity]);
    for (const [y0, y1] of bands) {
      const inBand = ids.filter((i) => cy(boxes[i]!) > y0 && cy(boxes[i]!) < y1);
      if (inBand.length < 4) continue;
      const left: number[] = [],
        right: number[] = [],
        inGutter: number[] = [];
      for (const i of inBand) {
        const b = boxes[i]!;
        if (soft.has(i)) {
          const { leftBeside, rightBeside } = beside(i);
          if (leftBeside && rightBeside) inGutter.push(i);
          else (rightBeside ? left : right).push(i);
        } else ((b.x0 + b.x1) / 2 < (s0 + s1) / 2 ? left : right).push(i);
      }
      if (left.length === 0 || right.length === 0) continue;
      const offset = (i: number) => (kind === 'start' ? boxes[i]!.x0 - x : x - boxes[i]!.x1);
      // The columns are where their rows keep meeting the gutter: the band is cut down to the longest run
      // of lines (three line heights wide or more: not a page number) reaching within a line height and a
      // half of the strip on either side (gaps of up to eight
      // line heights: a figure or equation in a column), and the rows just above and below it. A box
      // across the whole strip is no column's line, nor is one under half as wide as its side's other
      // lines there: a table set above two columns, its cells crossing the gutter or ending near it.
      const boxWidth = (i: number) => boxes[i]!.x1 - boxes[i]!.x0;
      const nearStrip = (i: number) => {
        const b = boxes[i]!;
        if (b.x0 < s0 && b.x1 > s1) return false;
        return boxWidth(i) >= 3 * lineHeight && (b.x1 <= s0 + tab ? s0 - b.x1 : b.x0 - s1) <= 1.5 * lineHeight;
      };
      const meeting = new Set(
        [left, right].flatMap((side) => {
          const near = side.filter(nearStrip);
          const halfWidth = 0.5 * median(near.map(boxWidth));
          return near.filter((i) => boxWidth(i) >= halfWidth);
        }),
      );
      const [y0c, y1c] = alignedRun(boxes, [...left, ...right], (i) => meeting.has(i), lineHeight);
      const within = (i: number) => cy(boxes[i]!) >= y0c && cy(boxes[i]!) <= y1c;
      const [l, r, g] = [left.filter(within), right.filter(within), inGutter.filter(within)];
      if (l.length === 0 || r.length === 0) continue;
      left.splice(0, left.length, ...l);
      right.splice(0, right.length, ...r);
      inGutter.splice(0, inGutter.length, ...g);
      // The tab stop is a column's edge: most of its rows start (or end) there, or a paragraph indent in.
      const [tabbed, other] = kind === 'start' ? [right, left] : [left, right];
      const alignedRows = rowCount(
        boxes,
        tabbed.filter((i) => Math.abs(offset(i)) <= tab),
      );
      const tabbedRows = rowCount(boxes, tabbed);
      const nearRows = rowCount(
        boxes,
        tabbed.filter((i) => offset(i) <= 3 * lineHeight),
      );
      if (alignedRows < 3 || nearRows < 0.6 * tabbedRows || alignedRows < 0.3 * tabbedRows) continue;
      const all = [...left, ...right];
      const extent = Math.max(...all.map((i) => boxes[i]!.y1)) - Math.min(...all.map((i) => boxes[i]!.y0));
      if (extent < 3 * lineHeight || (best && extent <= best.extent)) continue;
      // The aligned side is running text; the other side is too, or floats beside it (a table, a figure).
      if (!isRunningText(ctx, tabbed, lineHeight, nested)) continue;
      if (other.length >= 4 && isCells(boxes, other, lineHeight) && !isRunningText(ctx, other, lineHeight, nested)) continue;
      const taken = new Set([...left, ...right, ...inGutter]);
      const rest = ids.filter((i) => !taken.has(i));
      const gutter: Gutter = {
        x0: s0,
        x1: s1,
        left,
        right,
        inGutter,
        above: rest.filter((i) => cy(boxes[i]!) < y0c),
        below: rest.filter((i) => cy(boxes[i]!) > y1c),
      };
      best = { gutter, extent };
    }
  }
  return best?.gutter;
}

/**
 * The y-range of the longest run of aligned boxes among `ids` with no gap over eight line heights,
 * widened to the boxes that follow on within a line height and a half above and below.
 */
function alignedRun(boxes: LayoutBox[], ids: number[], aligned: (i: number) => boolean, lineHeight: number): [number, number] {
  const sorted = [...ids].sort((a, b) => boxes[a]!.y0 - boxes[b]!.y0);
  let best: [number, number] = [0, -1],
    start = -1,
    lastEnd = -Infinity;
  sorted.forEach((i, k) => {
    if (!aligned(i)) return;
    if (start < 0 || boxes[i]!.y0 - lastEnd > 8 * lineHeight) start = k;
    lastEnd = Math.max(lastEnd, boxes[i]!.y1);
    if (boxes[i]!.y1 - boxes[sorted[start]!]!.y0 > best[1] - best[0]) best = [boxes[sorted[start]!]!.y0, lastEnd];
  });
  let [top, bottom] = best;
  // A box reaching past the run's edge counts, even one overlapping it (a column's last line a little
  // lower than the other column's).
  for (const i of [...sorted].reverse()) if (boxes[i]!.y0 < top && boxes[i]!.y1 > top - 1.5 * lineHeight) top = Math.min(top, boxes[i]!.y0);
  for (const i of sorted) if (boxes[i]!.y1 > bottom && boxes[i]!.y0 < bottom + 1.5 * lineHeight) bottom = Math.max(bottom, boxes[i]!.y1);
  return [top - 1, bottom + 1];
}

/**
 * Whether boxes are table cells: three or more rows, most of them parted by gaps wider than a line
 * height whose middle lies in such gaps on two other rows (a justified line's wide word gaps don't).
 */
function isCells(boxes: LayoutBox[], ids: number[], lineHeight: number): boolean {
  const rows = groupRows(boxes, ids);
  if (rows.length < 3) return false;
  const gaps = rows.map((r) =>
    r.flatMap((id, k) => {
      const before = boxes[r[k - 1]!];
      return before && boxes[id]!.x0 - before.x1 > 1.2 * lineHeight ? [[before.x1, boxes[id]!.x0] as const] : [];
    }),
  );
  const holds = (h: readonly [number, number], x: number) => h[0] < x && x < h[1];
  const celled = gaps.filter((own, r) =>
    own.some((g) => gaps.filter((other, q) => q !== r && other.some((h) => holds(h, (g[0] + g[1]) / 2))).length >= 2),
  );
  return celled.length >= Math.max(3, 0.6 * rows.length);
}

/** Regions in reading order. */
function regionsOf(ctx: Context, ids: number[], lineHeight: number, inGutter = false): LayoutRegion[] {
  if (ids.length === 0) return [];
  const gutter = findGutter(ctx, ids);
  if (!gutter) {
    const rows = groupRows(ctx.boxes, ids);
    return [{ paragraphs: paragraphsOf(ctx.boxes, rows, lineHeight, ctx.params), table: isCells(ctx.boxes, ids, lineHeight), inGutter }];
  }
  const beside = [...gutter.left, ...gutter.right].map((i) => ctx.boxes[i]!);
  ctx.gutters.push({ x0: gutter.x0, x1: gutter.x1, y0: Math.min(...beside.map((b) => b.y0)), y1: Math.max(...beside.map((b) => b.y1)) });
  return [
    ...regionsOf(ctx, gutter.above, lineHeight),
    ...regionsOf(ctx, gutter.left, lineHeight),
    ...regionsOf(ctx, gutter.inGutter, lineHeight, true),
    ...regionsOf(ctx, gutter.right, lineHeight),
    ...regionsOf(ctx, gutter.below, lineHeight),
  ];
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

/** Splits a region's rows into paragraphs where the gap to the previous row is wider than usual. */
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

/** Reading order of a page's line boxes as regions of paragraphs of rows. */
export function layoutPage(boxes: LayoutBox[], params: LayoutParams = DEFAULT_LAYOUT): PageLayout {
  const lineHeight = median(boxes.map(height));
  const ctx: Context = { boxes, params, gutters: [] };
  return {
    regions: regionsOf(
      ctx,
      boxes.map((_, i) => i),
      lineHeight,
    ),
    gutters: ctx.gutters,
    lineHeight,
  };
}
