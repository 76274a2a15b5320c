import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import * as sqliteVec from 'sqlite-vec';
import { chunkDocument } from '../../src/batch/chunks.ts';
import { IndexStore, type PassageVectors } from '../../src/search/index-store.ts';
import { pageResults } from '../helpers/text-corpus.ts';

const dir = mkdtempSync(join(tmpdir(), 'index-store-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newIndex = () => IndexStore.open(join(dir, `index-${files++}.sqlite`));

/** Puts a document of the given pages (paragraphs each) in the index; passages of at most 60 characters. */
function put(store: IndexStore, path: string, pages: string[][], vectors?: (n: number) => PassageVectors) {
  const chunks = chunkDocument(path, pageResults(pages), { size: 60, overlap: 0 });
  const rows = pages.map((_, i) => ({ page_number: i + 1, width: 800, height: 1000 }));
  store.replaceDocument(
    { path, sha256: pages.flat().join('|'), size: 10, pages: pages.length, status: 'success' },
    rows,
    chunks,
    vectors?.(chunks.length),
  );
  return chunks.length;
}

const found = (store: IndexStore, word: string) => store.matchText(`"${word}"`, 100).length;
const unitVectors =
  (model: string, dimensions: number) =>
  (n: number): PassageVectors => ({
    model,
    vectors: Array.from({ length: n }, (_, i) => Float32Array.from({ length: dimensions }, (_, d) => (d === i % dimensions ? 1 : 0))),
  });

test('a document read again replaces its pages and passages: no duplicates, the old words gone', () => {
  const store = newIndex();
  const a = put(store, 'a.pdf', [['alpha apples on the first page', 'more alpha text'], ['second page of alpha']]);
  const b = put(store, 'b.pdf', [['bravo bananas', 'bravo again']]);
  expect(store.counts()).toEqual({ documents: 2, pages: 3, passages: a + b, vectors: 0 });
  assert.equal(found(store, 'apples'), 1);

  const a2 = put(store, 'a.pdf', [['alpha apricots only now']]);
  expect(store.counts()).toEqual({ documents: 2, pages: 2, passages: a2 + b, vectors: 0 });
  assert.equal(found(store, 'apples'), 0);
  assert.equal(found(store, 'apricots'), 1);
  assert.equal(store.document('a.pdf')?.sha256, 'alpha apricots only now');
  assert.equal(store.document('missing.pdf'), undefined);
  store.close();
});

test('a replacement that fails half-way leaves the document as it was', () => {
  const store = newIndex();
  const n = put(store, 'a.pdf', [['alpha apples'], ['alpha pears']]);
  const duplicate = { chunk_id: 'a.pdf#0', document: 'a.pdf', chunk_index: 0, text: 'alpha cherries', pages: [1], boxes: [] };
  assert.throws(
    () => store.replaceDocument({ path: 'a.pdf', sha256: 'x', size: 1, pages: 1, status: 'success' }, [], [duplicate, duplicate]),
    /UNIQUE/,
  );
  expect(store.counts()).toEqual({ documents: 1, pages: 2, passages: n, vectors: 0 });
  assert.equal(found(store, 'apples'), 1);
  assert.equal(found(store, 'cherries'), 0);
  assert.throws(
    () => store.replaceDocument({ path: 'b.pdf', sha256: 'x', size: 1, pages: 1, status: 'success' }, [], [duplicate]),
    /a\.pdf#0 is not of b\.pdf/,
  );
  store.close();
});

test('prune removes the documents whose input is gone, with their passages and vectors', () => {
  const store = newIndex();
  const vectors = unitVectors('model@1', 4);
  put(store, 'keep.pdf', [['kept kiwis']], vectors);
  put(store, 'gone/one.pdf', [['gone grapes']], vectors);
  put(store, 'gone/two.pdf', [['gone guavas']], vectors);
  assert.equal(store.counts().vectors, 3);
  expect(store.prune(new Set(['keep.pdf', 'never-indexed.pdf']))).toEqual(['gone/one.pdf', 'gone/two.pdf']);
  expect(store.counts()).toEqual({ documents: 1, pages: 1, passages: 1, vectors: 1 });
  assert.equal(found(store, 'grapes'), 0);
  expect(store.nearest(Float32Array.of(1, 0, 0, 0), 10).map((n) => store.passages([n.id]).get(n.id)?.document)).toEqual(['keep.pdf']);
  expect(store.prune(new Set(['keep.pdf']))).toEqual([]);
  store.close();
});

test("the first vectors fix the model; another model's vectors are refused; a document replaced without vectors loses them", () => {
  const store = newIndex();
  assert.equal(store.vectorSpace(), undefined);
  const n = put(store, 'a.pdf', [['alpha '.repeat(10)], ['beta '.repeat(10)]], unitVectors('minilm.onnx@abc', 3));
  expect(store.vectorSpace()).toEqual({ model: 'minilm.onnx@abc', dimensions: 3 });
  assert.throws(
    () => put(store, 'b.pdf', [['gamma']], unitVectors('other.onnx@def', 3)),
    /vectors of minilm\.onnx@abc \(3 dimensions\), not of other\.onnx@def/,
  );
  assert.throws(() => put(store, 'b.pdf', [['gamma']], unitVectors('minilm.onnx@abc', 5)), /3 dimensions/);
  assert.throws(
    () =>
      store.replaceDocument({ path: 'b.pdf', sha256: '', size: 0, pages: 0, status: 'success' }, [], [], {
        model: 'minilm.onnx@abc',
        vectors: [new Float32Array(3)],
      }),
    /1 vectors for 0 passages/,
  );
  expect(store.counts()).toEqual({ documents: 1, pages: 2, passages: n, vectors: n });
  assert.ok(n >= 2);
  put(store, 'a.pdf', [['alpha '.repeat(10)], ['beta '.repeat(10)]]);
  expect(store.counts()).toEqual({ documents: 1, pages: 2, passages: n, vectors: 0 });
  store.close();
});

test('a reader sees what the writer commits; it cannot write; a file that is not an index is refused', () => {
  const path = join(dir, 'shared.sqlite');
  const writer = IndexStore.open(path);
  put(writer, 'a.pdf', [['alpha apples']]);
  const reader = IndexStore.open(path, { readOnly: true });
  assert.equal(found(reader, 'apples'), 1);
  put(writer, 'a.pdf', [['alpha apricots']]);
  assert.equal(found(reader, 'apples'), 0);
  assert.equal(found(reader, 'apricots'), 1);
  assert.throws(() => put(reader, 'b.pdf', [['bravo']]), /readonly/);
  reader.close();
  writer.close();
  const other = join(dir, 'other.sqlite');
  const db = new DatabaseSync(other);
  db.exec('PRAGMA user_version = 7; CREATE TABLE t (x)');
  db.close();
  assert.throws(() => IndexStore.open(other), /not a search index of this version \(schema 7, expected 1\)/);
  assert.throws(() => IndexStore.open(join(dir, 'absent.sqlite'), { readOnly: true }), /unable to open/);
});

/** The index after a kill: SQLite's and FTS5's own checks pass, and every document has all its passages, from one round. */
function checkWhole(path: string, documents: number, passages: number) {
  const db = new DatabaseSync(path, { allowExtension: true });
  db.loadExtension(sqliteVec.getLoadablePath());
  expect(
    db
      .prepare('PRAGMA integrity_check')
      .all()
      .map((r) => ({ ...r })),
  ).toEqual([{ integrity_check: 'ok' }]);
  // FTS5 compares its index with the passages table; throws when they differ.
  db.exec("INSERT INTO passage_text (passage_text, rank) VALUES ('integrity-check', 1)");
  const perDocument = db
    .prepare(
      `SELECT d.path, count(p.id) AS n, count(DISTINCT substr(p.text, 1, instr(p.text, ' '))) AS rounds
    FROM documents d LEFT JOIN passages p ON p.document_id = d.id GROUP BY d.id`,
    )
    .all();
  db.close();
  assert.equal(perDocument.length, documents);
  for (const { path: doc, n, rounds } of perDocument) expect({ doc, n, rounds }).toEqual({ doc, n: passages, rounds: 1 });
}

test('a writer killed while writing leaves every document whole; a rerun leaves no duplicate rows', async () => {
  const path = join(dir, 'killed.sqlite');
  const [documents, passages] = [20, 50];
  // Each writer replaces every document round after round; killed at another moment each time, on the file the last one left.
  for (const delay of [20, 70, 120, 170, 220, 270]) {
    const writer = spawn(
      process.execPath,
      [join(import.meta.dirname, '../fixtures/index-writer.ts'), path, String(documents), String(passages)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(writer.stdout, 'data');
    await new Promise((r) => setTimeout(r, delay));
    writer.kill('SIGKILL');
    await once(writer, 'exit');
    checkWhole(path, documents, passages);
  }
  const store = IndexStore.open(path);
  for (let d = 0; d < documents; d++) put(store, `doc-${d}.pdf`, [[`rerun text of document ${d}`]]);
  expect(store.counts()).toEqual({ documents, pages: documents, passages: documents, vectors: 0 });
  assert.equal(store.matchText('round*', 10).length, 0);
  store.close();
});
