/**
 * A page's words as the writers nest them: areas (the layout's blocks), paragraphs and lines, in
 * reading order.
 */
import { pointsBounds, type Bounds } from '../ocr/image/geometry.ts';
import type { BlockType, Box, OcrLine, PageResult } from '../contracts.ts';

export interface PageArea {
  type: BlockType;
  /** Paragraphs of lines; every line has at least one word. */
  paragraphs: OcrLine[][];
}

/** Axis-aligned bounds in whole pixels. */
export type Rect = Bounds;

export function rectOf(boxes: readonly Box[]): Rect {
  const b = pointsBounds(boxes.flat());
  return { x0: Math.floor(b.x0), y0: Math.floor(b.y0), x1: Math.ceil(b.x1), y1: Math.ceil(b.y1) };
}

export function pageAreas(page: PageResult): PageArea[] {
  const lines = (indices: readonly number[]) => indices.map((i) => page.lines[i]!).filter((l) => l.words.length > 0);
  return page.blocks
    .map((block) => ({
      type: block.type,
      paragraphs: block.paragraphs.map((p) => lines(page.paragraphs[p]!.lines)).filter((p) => p.length > 0),
    }))
    .filter((a) => a.paragraphs.length > 0);
}
