/**
 * The search index as a user meets it: `ocr-cluster batch --index` over generated documents, then
 * `ocr-cluster search` and `GET /search` on the one-process server. A rerun after a kill leaves every
 * passage once, a changed document's passages are replaced, `--prune` drops a deleted input, and with
 * EMBED_MODEL (a BERT-shaped model made here) the passages get vectors and the ranking is hybrid.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { ErrorBody, JobResult, SearchReply } from '../../src/contracts.ts';
import { chunkDocument } from '../../src/batch/chunks.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { cli, indexCounts, writeEncoder, type Run } from '../helpers/search.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';

/** Documents with a text layer (read from it with --text-layer auto) and one scan read by the OCR. */
const TEXT_DOCUMENTS: Record<string, string[][]> = {
  'reports/bridge.pdf': [
    ['The annual budget review of the office', 'was held by the board in the spring.'],
    ['The committee approved the Halvorsen', 'bridge renovation after the vote.'],
  ],
  'reports/harbour.pdf': [['The harbour ledger lists every invoice', 'paid before the summit meeting.']],
  'letters/orchard.pdf': [['An orchard record of the velvet series', 'was sent to the new manager.']],
  'letters/quarry.pdf': [['The granite quarry closed for the winter', 'and the staff moved to the mill.']],
};
const SCAN = 'scans/lantern.png';
const SCAN_TEXT = 'The lantern festival starts at dusk';
/** Every paragraph a passage of its own: a hit points at one page. */
const CHUNKING = ['--chunk-size', '80', '--chunk-overlap', '0'];

let dir: string;
let corpus: string;
let model: Record<string, string>;
let server: ChildProcess & { output: string[] };
let base: string;

async function batch(input: string, out: string, index: string, ...args: string[]): Promise<Run> {
  return cli(['batch', input, '--out', out, '--index', index, '--text-layer', 'auto', ...CHUNKING, ...args]).done;
}

async function searchJson(index: string, query: string, env: Record<string, string> = {}): Promise<SearchReply> {
  const run = await cli(['search', query, '--index', index, '--json'], env).done;
  assert.ok(run.code === 0 || run.code === 1, run.output);
  return JSON.parse(run.stdout) as SearchReply;
}

async function writeCorpus(root: string, documents: Record<string, string[][]>): Promise<void> {
  for (const [name, pages] of Object.entries(documents)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), await buildPdf(pages.map((lines) => ({ lines, size: [420, 180] }))));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocr-search-'));
  corpus = join(dir, 'corpus');
  await writeCorpus(corpus, TEXT_DOCUMENTS);
  await mkdir(join(corpus, 'scans'));
  await writeFile(join(corpus, SCAN), renderPage({ paragraphs: [[SCAN_TEXT]], width: 900, height: 200 }).image);

  model = await writeEncoder(dir, [...Object.values(TEXT_DOCUMENTS).flat(2), SCAN_TEXT]);
  // Its index is written later by an embedding batch: until then GET /search says it cannot open it.
  ({ server, base } = await startServer({ ...model, SEARCH_INDEX: join(dir, 'vectors', 'index.sqlite') }));
});

afterAll(async () => {
  if (server) await stopProcess(server);
  await rm(dir, { recursive: true, force: true });
});

test('a batch fills the index as documents finish; ocr-cluster search finds the right passage first, with its page, the words marked and the boxes', async () => {
  const out = join(dir, 'out');
  const index = join(out, 'index.sqlite');
  const run = await batch(corpus, out, index);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /index: passages, no vectors \(no embedding model\)/);
  assert.match(run.output, /; index: 5 documents, \d+ passages, 0 vectors/);

  // The index holds the passages the batch's chunking makes of each result, each once.
  let passages = 0;
  for (const name of [...Object.keys(TEXT_DOCUMENTS), SCAN]) {
    const result = JSON.parse(await readFile(join(out, `${name}.json`), 'utf8')) as JobResult;
    passages += chunkDocument(name, result.results, { size: 80, overlap: 0 }).length;
  }
  expect(indexCounts(index)).toEqual({ documents: 5, pages: 6, passages, vectors: 0 });

  const reply = await searchJson(index, 'Halvorsen bridge renovation');
  assert.equal(reply.ranking, 'bm25');
  assert.equal(reply.reason, 'the index has no vectors');
  const hit = reply.hits[0]!;
  expect({ document: hit.document, pages: hit.pages }).toEqual({ document: 'reports/bridge.pdf', pages: [2] });
  assert.match(hit.marked, /approved the <mark>Halvorsen<\/mark> <mark>bridge<\/mark> <mark>renovation<\/mark> after/);
  assert.ok(hit.boxes.length > 0 && hit.boxes.every((b) => b.page === 2 && b.box.length === 4), JSON.stringify(hit.boxes));
  expect(hit.page_sizes.map((s) => s.page)).toEqual([2]);
  const size = hit.page_sizes[0]!;
  for (const [x, y] of hit.boxes.flatMap((b) => b.box)) assert.ok(x >= 0 && x <= size.width && y >= 0 && y <= size.height);
  assert.ok(hit.score > 0);

  // The scan went through the OCR.
  expect((await searchJson(index, 'lantern festival')).hits[0]?.document).toEqual(SCAN);

  // For a person: the place, then the text with the words marked; exit status 1 when nothing is found.
  const shown = await cli(['search', 'quarry winter', '--index', index]).done;
  assert.equal(shown.code, 0, shown.output);
  assert.match(
    shown.stdout,
    /^1 hit for "quarry winter", ranked by words \(the index has no vectors\)\n\n1\. letters\/quarry\.pdf, page 1 /,
  );
  assert.match(shown.output, /The granite \*\*quarry\*\* closed for the \*\*winter\*\*/);
  const none = await cli(['search', 'zeppelin', '--index', index]).done;
  assert.equal(none.code, 1, none.output);
  const bad = await cli(['search', 'bridge', '--index', index, '--k', '0']).done;
  assert.equal(bad.code, 2);
  assert.match(bad.output, /--k must be a whole number from 1 to 1000/);
});

test("a changed document's passages are replaced; --prune removes a document whose input is gone", async () => {
  const out = join(dir, 'out');
  const index = join(out, 'index.sqlite');
  const before = indexCounts(index);
  await writeCorpus(corpus, { 'reports/harbour.pdf': [['The lighthouse keeper kept a logbook', 'of every passing ship and storm.']] });
  await rm(join(corpus, 'letters/orchard.pdf'));

  const rerun = await batch(corpus, out, index);
  assert.equal(rerun.code, 0, rerun.output);
  assert.match(rerun.output, /documents: 1 done, 3 skipped/);
  expect((await searchJson(index, 'lighthouse logbook')).hits.map((h) => h.document)).toEqual(['reports/harbour.pdf']);
  expect((await searchJson(index, 'harbour ledger invoice')).hits).toEqual([]);
  expect((await searchJson(index, 'orchard velvet')).hits.map((h) => h.document)).toEqual(['letters/orchard.pdf']); // kept without --prune
  expect(indexCounts(index)).toEqual(before);

  const pruned = await batch(corpus, out, index, '--prune');
  assert.equal(pruned.code, 0, pruned.output);
  assert.match(pruned.output, /pruned from the index \(input gone\): letters\/orchard\.pdf\n/);
  assert.match(pruned.output, /index: 4 documents, \d+ passages, 0 vectors, 1 pruned/);
  expect((await searchJson(index, 'orchard velvet')).hits).toEqual([]);
  assert.equal(indexCounts(index).documents, 4);
});

test('a batch killed while it fills the index and run again leaves every passage once', async () => {
  const input = join(dir, 'killed');
  const words = ['walnut', 'copper', 'falcon', 'meadow', 'cobalt', 'saffron'];
  // No text layer to read: each page goes through the OCR, which gives the kill time to land mid-run.
  for (const [i, word] of words.entries()) {
    await mkdir(input, { recursive: true });
    await writeFile(join(input, `doc-${i}.pdf`), await buildPdf([{ lines: [`Record ${i + 1} holds the ${word} file`], size: [420, 120] }]));
  }
  const out = join(dir, 'out-killed');
  const index = join(out, 'index.sqlite');
  const first = cli(['batch', input, '--out', out, '--index', index, '--concurrency', '1']);
  for (;;) {
    const held = await Promise.resolve()
      .then(() => indexCounts(index).documents)
      .catch(() => 0);
    if (held >= 2 || first.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  first.kill('SIGKILL');
  const killed = await first.done;
  assert.equal(killed.code, null, `the first run was killed before it finished:\n${killed.output}`);

  const second = await cli(['batch', input, '--out', out, '--index', index, '--concurrency', '1']).done;
  assert.equal(second.code, 0, second.output);
  console.log(`killed with ${indexCounts(index).documents} documents indexed; the rerun: ${second.output.trim().split('\n').at(-1)}`);
  assert.equal(indexCounts(index).documents, words.length);
  for (const [i, word] of words.entries()) {
    const { hits } = await searchJson(index, word);
    expect(hits.map((h) => h.document)).toEqual([`doc-${i}.pdf`]);
  }
  assert.equal(indexCounts(index).passages, words.length);
});

test('with EMBED_MODEL the passages get vectors and the ranking is hybrid, from the CLI and from GET /search', async () => {
  const status = await fetch(`${base}/search?q=bridge`);
  assert.equal(status.status, 503);
  assert.equal(((await status.json()) as ErrorBody).error.code, 'SEARCH_UNAVAILABLE');

  const input = join(dir, 'embedded');
  await cp(corpus, input, { recursive: true });
  const out = join(dir, 'vectors');
  const index = join(out, 'index.sqlite');
  const run = await cli(['batch', input, '--out', out, '--index', index, '--text-layer', 'auto', ...CHUNKING], model).done;
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /index: passages and their vectors from encoder\.onnx@[0-9a-f]{12}/);
  const held = indexCounts(index);
  assert.ok(held.passages > 0);
  assert.equal(held.vectors, held.passages, 'every passage has its vector');

  const hybrid = await searchJson(index, 'Halvorsen bridge renovation', model);
  assert.equal(hybrid.ranking, 'hybrid');
  expect({ document: hybrid.hits[0]?.document, pages: hybrid.hits[0]?.pages }).toEqual({ document: 'reports/bridge.pdf', pages: [2] });
  assert.equal(hybrid.hits[0]!.ranks.bm25, 1);
  assert.ok(
    hybrid.hits.every((h) => h.ranks.vector !== undefined),
    'every passage is ranked by its vector too',
  );
  assert.ok(
    hybrid.hits.some((h) => h.ranks.bm25 === undefined),
    'passages without the words are found by their vectors',
  );
  const words = await searchJson(index, 'Halvorsen bridge renovation');
  assert.equal(words.ranking, 'bm25');
  assert.equal(words.reason, 'no embedding model is configured');

  // The server embeds the query on its worker (ocr.embed) and opens the index now that it exists.
  const res = await fetch(`${base}/search?q=${encodeURIComponent('Halvorsen bridge renovation')}&k=3`);
  assert.equal(res.status, 200);
  const served = (await res.json()) as SearchReply;
  expect({ query: served.query, k: served.k, ranking: served.ranking, hits: served.hits.length }).toEqual({
    query: 'Halvorsen bridge renovation',
    k: 3,
    ranking: 'hybrid',
    hits: 3,
  });
  expect(served.hits[0]).toEqual(hybrid.hits[0]);

  for (const [query, code] of [
    ['', 'MISSING_QUERY'],
    ['?q=%20%20', 'MISSING_QUERY'],
    ['?q=bridge&k=0', 'INVALID_QUERY'],
    ['?q=bridge&k=1001', 'INVALID_QUERY'],
    ['?q=bridge&k=two', 'INVALID_QUERY'],
  ] as const) {
    const refused = await fetch(`${base}/search${query}`);
    assert.equal(refused.status, 400, query);
    assert.equal(((await refused.json()) as ErrorBody).error.code, code, query);
  }

  // Vectors of two models cannot be compared: a run without the model is refused before it reads anything.
  const without = await cli(['batch', input, '--out', out, '--index', index]).done;
  assert.equal(without.code, 1, without.output);
  assert.match(without.output, /The index holds vectors of encoder\.onnx@[0-9a-f]{12}, no worker embeds/);
});
