import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { chunkDocument, type ChunkedPage } from '../../src/batch/chunks.ts';
import type { Box } from '../../src/contracts.ts';

const box = (y: number): Box => [
  [0, y],
  [100, y],
  [100, y + 10],
  [0, y + 10],
];
const page = (n: number, paragraphs: string[]): ChunkedPage => ({
  page_number: n,
  paragraphs: paragraphs.map((text, i) => ({ text, box: box(i * 20), lines: [i] })),
});

test('paragraphs are packed into chunks no longer than the size, lines joined into prose', () => {
  const chunks = chunkDocument('a.pdf', [page(1, ['one two\nthree', 'four five', 'six seven eight'])], { size: 25, overlap: 0 });
  expect(chunks.map((c) => c.text)).toEqual(['one two three\n\nfour five', 'six seven eight']);
  expect(chunks.map((c) => c.chunk_id)).toEqual(['a.pdf#0', 'a.pdf#1']);
  expect(chunks[0]!.boxes).toEqual([
    { page: 1, box: box(0) },
    { page: 1, box: box(20) },
  ]);
});

test('a chunk starts with the whole trailing paragraphs of the one before that fit the overlap', () => {
  const chunks = chunkDocument('d', [page(1, ['alpha beta', 'gamma']), page(2, ['delta epsilon zeta'])], { size: 30, overlap: 6 });
  expect(chunks.map((c) => c.text)).toEqual(['alpha beta\n\ngamma', 'gamma\n\ndelta epsilon zeta']);
  expect(chunks.map((c) => c.pages)).toEqual([[1], [1, 2]]);
});

test('a paragraph longer than the size is cut at words, and nothing is emitted twice without new text', () => {
  const long = Array.from({ length: 12 }, (_, i) => `word${i}`).join(' ');
  const chunks = chunkDocument('d', [page(1, [long])], { size: 20, overlap: 8 });
  assert.ok(
    chunks.every((c) => c.text.length <= 20),
    JSON.stringify(chunks.map((c) => c.text)),
  );
  assert.equal(
    chunks
      .map((c) => c.text)
      .join(' ')
      .split(' ')
      .filter((w, i, all) => all.indexOf(w) === i)
      .join(' '),
    long,
  );
  expect(chunkDocument('d', [page(1, [])], { size: 20, overlap: 0 })).toEqual([]);
  assert.throws(() => chunkDocument('d', [], { size: 10, overlap: 10 }), RangeError);
});
