/**
 * A page's words as the writers nest them: areas (the layout's blocks, or its paragraphs where the
 * result has no blocks), paragraphs and lines, in reading order.
 */
import { pointsBounds, type Bounds } from '../ocr/image/geometry.ts';
import type { Box, OcrLine, PageResult } from '../contracts.ts';

/** A block of the page's layout, as far as the writers read it (`lines`, `paragraphs`: indices into the page's). */
export interface LayoutBlock {
  type: string;
  lines: number[];
  paragraphs?: number[];
}

/** A page result, with its layout's blocks when the layout found them. */
export type WrittenPage = PageResult & { blocks?: LayoutBlock[] };

export interface PageArea {
  type: string;
  /** Paragraphs of lines; every line has at least one word. */
  paragraphs: OcrLine[][];
}

/** Axis-aligned bounds in whole pixels. */
export type Rect = Bounds;

export function rectOf(boxes: readonly Box[]): Rect {
  const b = pointsBounds(boxes.flat());
  return { x0: Math.floor(b.x0), y0: Math.floor(b.y0), x1: Math.ceil(b.x1), y1: Math.ceil(b.y1) };
}

export function pageAreas(page: WrittenPage): PageArea[] {
  const lines = (indices: readonly number[]) => indices.map((i) => page.lines[i]!).filter((l) => l.words.length > 0);
  const areas: PageArea[] = page.blocks
    ? page.blocks.map((block) => ({
        type: block.type,
        paragraphs: block.paragraphs ? block.paragraphs.map((p) => lines(page.paragraphs[p]!.lines)) : [lines(block.lines)],
      }))
    : page.paragraphs.map((p) => ({ type: 'text', paragraphs: [lines(p.lines)] }));
  return areas.map((a) => ({ ...a, paragraphs: a.paragraphs.filter((p) => p.length > 0) })).filter((a) => a.paragraphs.length > 0);
}
