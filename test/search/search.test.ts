import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { chunkDocument } from '../../src/batch/chunks.ts';
import { Embedder } from '../../src/search/embedder.ts';
import { IndexStore } from '../../src/search/index-store.ts';
import { ftsQuery, search } from '../../src/search/search.ts';
import type { SearchHit, TextChunk } from '../../src/contracts.ts';
import { bertModel } from '../../harness/bert-model.ts';
import { seededRandom } from '../../harness/seeded-random.ts';
import { FILLER, pageResults, paragraphBox, sentence } from '../helpers/text-corpus.ts';

const DOCUMENTS = 60;
/** Sentences put into one paragraph of one document: [document, page, paragraph, sentence]. */
const PLANTED: [string, number, number, string][] = [
  ['reports/report-07.pdf', 2, 1, 'The quarterly invoice from Zéphyr Logistics was paid in March.'],
  ['reports/report-19.pdf', 3, 2, 'Rainfall measurements near the Okavango delta exceeded every forecast.'],
  ['reports/report-23.pdf', 1, 0, 'The committee approved the Halvorsen bridge renovation.'],
  ['reports/report-41.pdf', 2, 3, 'The bridge over the river was closed for the renovation of its deck.'],
];

/** 60 documents of three pages of four paragraphs of office filler, the planted sentences among them; passages of 400 characters. */
function corpus(): TextChunk[][] {
  const random = seededRandom(23);
  return Array.from({ length: DOCUMENTS }, (_, d) => {
    const path = `reports/report-${String(d).padStart(2, '0')}.pdf`;
    const pages = [1, 2, 3].map((page) =>
      [0, 1, 2, 3].map((para) => {
        const planted = PLANTED.find(([doc, p, i]) => doc === path && p === page && i === para);
        return [sentence(random, 9), planted?.[3] ?? sentence(random, 8)].join(' ');
      }),
    );
    return chunkDocument(path, pageResults(pages), { size: 400, overlap: 0 });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'search-test-'));
const documents = corpus();
const passages = documents.flat();
let text: IndexStore, hybrid: IndexStore, embedder: Embedder;

/** A vocabulary for the test model: BERT's special tokens, the filler and planted words, punctuation. */
function vocabulary(): string[] {
  const words = new Set([
    ...FILLER,
    ...PLANTED.flatMap(([, , , s]) =>
      s
        .toLowerCase()
        .normalize('NFD')
        .replace(/\p{M}/gu, '')
        .match(/\p{L}+/gu)!,
    ),
  ]);
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words, '.', ','];
}

function fill(store: IndexStore, vectors?: Float32Array[]) {
  let at = 0;
  for (const chunks of documents) {
    const path = chunks[0]!.document;
    const space = vectors && { model: embedder.id, vectors: vectors.slice(at, (at += chunks.length)) };
    store.replaceDocument(
      { path, sha256: path, size: 1000, pages: 3, status: 'success' },
      [1, 2, 3].map((n) => ({ page_number: n, width: 800, height: 1000 })),
      chunks,
      space,
    );
  }
  store.optimize();
}

beforeAll(async () => {
  const vocab = vocabulary();
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeFileSync(join(dir, 'model.onnx'), bertModel({ vocabSize: vocab.length, hidden: 16, positions: 128, seed: 5 }));
  embedder = await Embedder.load({ model: join(dir, 'model.onnx'), vocab: join(dir, 'vocab.txt'), maxTokens: 128 });
  text = IndexStore.open(join(dir, 'text.sqlite'));
  fill(text);
  hybrid = IndexStore.open(join(dir, 'hybrid.sqlite'));
  fill(hybrid, await embedder.embed(passages.map((p) => p.text)));
});

afterAll(async () => {
  text.close();
  hybrid.close();
  await embedder.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The first hit's document, and whether its passage has text of the page. */
const top = (hits: SearchHit[], page: number) => hits[0] && { document: hits[0].document, onPage: hits[0].pages.includes(page) };

test('a query finds the passage that holds its words first, with the page, the words marked and the boxes to highlight', async () => {
  const { ranking, reason, hits } = await search(text, 'zephyr INVOICE', { k: 5 });
  assert.equal(ranking, 'bm25');
  assert.equal(reason, 'the index has no vectors');
  expect(top(hits, 2)).toEqual({ document: 'reports/report-07.pdf', onPage: true });
  const hit = hits[0]!;
  assert.match(hit.marked, /The quarterly <mark>invoice<\/mark> from <mark>Zéphyr<\/mark> Logistics/);
  expect(hit.matches.map(([s, e]) => hit.text.slice(s, e))).toEqual(['invoice', 'Zéphyr']);
  assert.ok(
    hit.boxes.some((b) => b.page === 2 && JSON.stringify(b.box) === JSON.stringify(paragraphBox(1))),
    JSON.stringify(hit.boxes),
  );
  expect(hit.ranks).toEqual({ bm25: 1 });
  assert.ok(hit.score > 0);

  expect(top((await search(text, 'okavango rainfall')).hits, 3)).toEqual({ document: 'reports/report-19.pdf', onPage: true });
  // A phrase: the document with the two words side by side, not the one with both apart.
  const bridge = await search(text, '"halvorsen bridge"');
  expect(bridge.hits.map((h) => h.document)).toEqual(['reports/report-23.pdf']);
  const words = await search(text, 'bridge renovation', { k: 3, marks: { open: '[', close: ']' } });
  expect(words.hits.map((h) => h.document).sort()).toEqual(['reports/report-23.pdf', 'reports/report-41.pdf']);
  assert.ok(words.hits.every((h) => h.marked.includes('[bridge]') && h.marked.includes('[renovation]')));
});

test('BM25 alone: scores fall with rank and k bounds the hits', async () => {
  const { hits } = await search(text, 'budget payment', { k: 7 });
  assert.equal(hits.length, 7);
  expect(hits.map((h) => h.ranks.bm25)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
  await assert.rejects(search(text, 'budget', { k: 0 }), RangeError);
  await assert.rejects(search(text, 'budget', { k: 1.5 }), RangeError);
});

test("hybrid: BM25 and vector ranks fused by 1/(60 + rank); a passage's own text finds it first among the vectors", async () => {
  const { ranking, hits } = await search(hybrid, 'zephyr invoice', { embedder, k: 10 });
  assert.equal(ranking, 'hybrid');
  expect(top(hits, 2)).toEqual({ document: 'reports/report-07.pdf', onPage: true });
  assert.equal(hits[0]!.ranks.bm25, 1);
  const fused = (h: SearchHit) => Object.values(h.ranks).reduce((s, r) => s + 1 / (60 + r), 0);
  for (const h of hits) assert.ok(Math.abs(h.score - fused(h)) < 1e-12, JSON.stringify(h.ranks));
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
  assert.ok(
    hits.some((h) => h.ranks.bm25 === undefined),
    'passages found by their vectors alone are among the hits',
  );

  const own = passages[37]!;
  const exact = await search(hybrid, own.text, { embedder, k: 10 });
  const mine = exact.hits.find((h) => h.document === own.document && h.chunk_index === own.chunk_index);
  assert.equal(mine?.ranks.vector, 1);
});

test('words are marked in passages that only the vectors found', async () => {
  // "the" is in most passages: BM25's 100 candidates miss some that the vectors bring.
  const { hits } = await search(hybrid, 'The', { embedder, k: 100 });
  const vectorOnly = hits.filter((h) => h.ranks.bm25 === undefined && /\bthe\b/i.test(h.text));
  assert.ok(vectorOnly.length > 0);
  for (const h of vectorOnly) {
    assert.equal(h.marked.split('<mark>').length - 1, h.text.match(/\bthe\b/gi)!.length);
    assert.ok(h.matches.every(([s, e]) => h.text.slice(s, e).toLowerCase() === 'the'));
  }
});

test('vectors are used only with the model they came from; BM25 alone says why otherwise', async () => {
  const other = { id: 'other.onnx@000000000000', embed: embedder.embed.bind(embedder) };
  const mismatch = await search(hybrid, 'zephyr invoice', { embedder: other });
  assert.equal(mismatch.ranking, 'bm25');
  assert.match(mismatch.reason!, /vectors come from model\.onnx@[0-9a-f]{12}, the configured model is other\.onnx/);
  expect(top(mismatch.hits, 2)).toEqual({ document: 'reports/report-07.pdf', onPage: true });
  assert.equal((await search(hybrid, 'zephyr')).reason, 'no embedding model is configured');
  assert.equal((await search(text, 'zephyr', { embedder })).reason, 'the index has no vectors');
});

test('what the user types is never FTS5 syntax: hostile queries give hits or none, never an error', async () => {
  const hostile = [
    '"',
    '""',
    '"unbalanced invoice',
    'invoice"',
    'NEAR(',
    'NEAR(invoice zephyr',
    'NEAR(invoice, 2)',
    '*',
    'invoice*',
    '-',
    '-invoice',
    'zephyr -invoice',
    '(',
    ')',
    '((invoice)',
    'invoice AND',
    'OR',
    'NOT invoice',
    'AND OR NOT',
    '^invoice',
    ':',
    'text:invoice',
    '{text}: invoice',
    "it's",
    '\\',
    '\u0000invoice',
    '🙂',
    'a"b"c',
    '+invoice',
    '.',
    'invoice + zephyr',
    '   ',
    '',
    "'; DROP TABLE passages; --",
    'x'.repeat(20000),
    Array.from({ length: 500 }, (_, i) => `word${i}`).join(' '),
  ];
  for (const store of [text, hybrid]) {
    for (const q of hostile) {
      const { hits } = await search(store, q, { embedder });
      assert.ok(Array.isArray(hits), q);
    }
  }
  for (const q of ['invoice*', 'NEAR(invoice zephyr', '+invoice', 'NOT invoice', 'text:invoice', '"unbalanced invoice']) {
    assert.equal((await search(text, q)).hits[0]?.document, 'reports/report-07.pdf', q);
  }
  expect((await search(text, '*')).hits).toEqual([]);
  assert.equal(text.counts().passages, passages.length);
});

test('the FTS5 query: quoted terms joined by OR, "phrases" kept, repeats dropped', () => {
  assert.equal(ftsQuery('Zephyr invoice zephyr'), '"Zephyr" OR "invoice"');
  assert.equal(ftsQuery('"paid in March" zephyr'), '"paid in March" OR "zephyr"');
  assert.equal(ftsQuery('NEAR(a, 2) OR b*'), '"NEAR" OR "a" OR "2" OR "OR" OR "b"');
  assert.equal(ftsQuery('"unclosed zephyr invoice'), '"unclosed" OR "zephyr" OR "invoice"');
  assert.equal(ftsQuery('*-()"'), undefined);
});
