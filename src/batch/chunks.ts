/**
 * Passages for an embedding model: a document's paragraphs, in reading order, packed into chunks of
 * at most `size` characters; a chunk starts with the last `overlap` characters' worth of whole
 * paragraphs (or words) of the one before, so a sentence cut at a boundary is whole in one of them.
 * Every chunk says which pages and paragraph boxes its text came from.
 */
import type { Box, PageResult, TextChunk } from '../contracts.ts';

export interface ChunkOptions {
  size: number;
  overlap: number;
}

/** A paragraph, or a piece of one too long for a chunk. */
interface Unit {
  text: string;
  page: number;
  box: Box;
}

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/** Cuts a paragraph longer than `size` at word boundaries (a word longer than `size` is cut hard). */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  let current = '';
  for (let word of words(text)) {
    while (word.length > size) {
      if (current) {
        out.push(current);
        current = '';
      }
      out.push(word.slice(0, size));
      word = word.slice(size);
    }
    if (current && current.length + 1 + word.length > size) {
      out.push(current);
      current = '';
    }
    current = current ? `${current} ${word}` : word;
  }
  if (current) out.push(current);
  return out;
}

/** What chunking reads of a page: its number and paragraphs. */
export type ChunkedPage = Pick<PageResult, 'page_number' | 'paragraphs'>;

function units(pages: readonly ChunkedPage[], size: number): Unit[] {
  return pages.flatMap((p) =>
    p.paragraphs.flatMap((para) => {
      // Lines of a paragraph become one run of text: the passage is prose, not layout.
      const text = words(para.text).join(' ');
      return pieces(text, size).map((piece) => ({ text: piece, page: p.page_number, box: para.box }));
    }),
  );
}

const SEPARATOR = '\n\n';

export function chunkDocument(document: string, pages: readonly ChunkedPage[], { size, overlap }: ChunkOptions): TextChunk[] {
  if (!(size > 0) || overlap < 0 || overlap >= size) throw new RangeError('Chunk size must be positive and overlap smaller than size');
  const all = units(pages, size);
  const chunks: TextChunk[] = [];
  let current: Unit[] = [];
  let fresh = 0; // units in `current` not already emitted in the previous chunk
  const length = (us: Unit[]) => us.reduce((n, u) => n + u.text.length, 0) + SEPARATOR.length * Math.max(0, us.length - 1);
  const emit = () => {
    const pagesOf = [...new Set(current.map((u) => u.page))];
    chunks.push({
      chunk_id: `${document}#${chunks.length}`,
      document,
      chunk_index: chunks.length,
      text: current.map((u) => u.text).join(SEPARATOR),
      pages: pagesOf,
      boxes: current.map((u) => ({ page: u.page, box: u.box })),
    });
    // Carry whole trailing units that fit the overlap into the next chunk.
    const carried: Unit[] = [];
    for (let i = current.length - 1; i >= 0 && length([current[i]!, ...carried]) <= overlap; i--) carried.unshift(current[i]!);
    current = carried;
    fresh = 0;
  };
  for (const unit of all) {
    if (current.length && length([...current, unit]) > size) {
      if (fresh > 0) emit();
      // The carried overlap alone may leave no room: drop it from the front until the unit fits.
      while (current.length && length([...current, unit]) > size) current.shift();
    }
    current.push(unit);
    fresh += 1;
  }
  if (fresh > 0) emit();
  return chunks;
}
