/**
 * `npm run bench:search`: the search index on generated passages.
 *   1. BM25 only: passages written per second (a document of 10 passages a transaction), file size.
 *   2. With vectors: the same passages with a 384-dimension vector each (all-MiniLM-L6-v2's size;
 *      random unit vectors, since no real model ships: the encoder's own time is not in this number).
 *   3. Query latency, p50 and p95: BM25 alone, and hybrid (the query embedded by a one-layer BERT-shaped
 *      test model of 384 dimensions, kNN over every vector, BM25, fusion, passages read back).
 * Passages are ~1000 characters (the batch's default chunk size) of words drawn Zipf-like from 20,000
 * made-up words; queries are 1 to 3 words of middling frequency. Writes bench/out/search-bench-*.json.
 *
 *   options: --passages N (10000)  --queries Q (200)  --dimensions D (384)
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Embedder } from '../src/search/embedder.ts';
import { IndexStore, type PassageVectors } from '../src/search/index-store.ts';
import { search } from '../src/search/search.ts';
import type { TextChunk, TextEmbedder } from '../src/contracts.ts';
import { bertModel } from '../harness/bert-model.ts';
import { seededRandom } from '../harness/seeded-random.ts';

const { values } = parseArgs({ options: { passages: { type: 'string' }, queries: { type: 'string' }, dimensions: { type: 'string' } } });
const PASSAGES = Number(values.passages ?? 10_000);
const QUERIES = Number(values.queries ?? 200);
const DIMENSIONS = Number(values.dimensions ?? 384);
const PER_DOCUMENT = 10;
const random = seededRandom(2024);

// Words of two to four syllables: the test model's vocabulary is the syllables, so WordPiece cuts every word into pieces.
const SYLLABLES =
  'ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu'.split(
    ' ',
  );
const WORDS = Array.from({ length: 20_000 }, (_, i) => {
  let word = '',
    n = i;
  do {
    word += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  } while (n > 0 || word.length < 4);
  return word;
});
/** Zipf's law: the word of rank r is drawn in proportion to 1/r. */
const CUMULATIVE = (() => {
  let sum = 0;
  return WORDS.map((_, r) => (sum += 1 / (r + 1)));
})();
function word(): string {
  const x = random() * CUMULATIVE.at(-1)!;
  let lo = 0,
    hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUMULATIVE[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return WORDS[lo]!;
}
function passageText(): string {
  let text = '';
  while (text.length < 1000) text += `${Array.from({ length: 8 + Math.floor(random() * 10) }, word).join(' ')}. `;
  return text.trim();
}

const documents = Array.from({ length: Math.ceil(PASSAGES / PER_DOCUMENT) }, (_, d) => {
  const path = `archive/box-${Math.floor(d / 100)}/doc-${d}.pdf`;
  const chunks: TextChunk[] = Array.from({ length: Math.min(PER_DOCUMENT, PASSAGES - d * PER_DOCUMENT) }, (_, i) => ({
    chunk_id: `${path}#${i}`,
    document: path,
    chunk_index: i,
    text: passageText(),
    pages: [1 + Math.floor(i / 3)],
    boxes: [
      {
        page: 1 + Math.floor(i / 3),
        box: [
          [50, 40 * i],
          [750, 40 * i],
          [750, 40 * i + 30],
          [50, 40 * i + 30],
        ],
      },
    ],
  }));
  return { path, chunks };
});
const queries = Array.from({ length: QUERIES }, () =>
  Array.from({ length: 1 + Math.floor(random() * 3) }, () => WORDS[50 + Math.floor(random() * 2000)]).join(' '),
);

function unitVector(): Float32Array {
  const v = Float32Array.from({ length: DIMENSIONS }, () => random() - 0.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const dir = await mkdtemp(join(tmpdir(), 'search-bench-'));

/** Writes every document; passages per second over the whole run, and the file's size once closed. */
async function build(file: string, vectors?: (n: number) => PassageVectors): Promise<{ passages_per_s: number; file_mb: number }> {
  // Vectors are made before the clock starts: what is timed is the index, not the vector source.
  const prepared = documents.map((d) => vectors?.(d.chunks.length));
  const store = IndexStore.open(file);
  const t0 = performance.now();
  documents.forEach((d, i) =>
    store.replaceDocument({ path: d.path, sha256: '0', size: 1, pages: 4, status: 'success' }, [], d.chunks, prepared[i]),
  );
  store.optimize();
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  return { passages_per_s: Math.round(PASSAGES / seconds), file_mb: Math.round(((await stat(file)).size / 2 ** 20) * 10) / 10 };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 100) / 100;
}

async function latency(store: IndexStore, embedder?: TextEmbedder): Promise<{ p50_ms: number; p95_ms: number; ranking: string }> {
  let ranking = '';
  for (const q of queries.slice(0, 10)) await search(store, q, { embedder }); // warm the statements and the page cache
  const ms: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    ranking = (await search(store, q, { embedder, k: 10 })).ranking;
    ms.push(performance.now() - t0);
  }
  return { p50_ms: percentile(ms, 0.5), p95_ms: percentile(ms, 0.95), ranking };
}

const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', ...SYLLABLES, ...SYLLABLES.map((s) => `##${s}`)];
await writeFile(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
await writeFile(join(dir, 'model.onnx'), bertModel({ vocabSize: vocab.length, hidden: DIMENSIONS, positions: 256 }));
const embedder = await Embedder.load({ model: join(dir, 'model.onnx'), vocab: join(dir, 'vocab.txt') });

const bm25File = join(dir, 'bm25.sqlite'),
  hybridFile = join(dir, 'hybrid.sqlite');
const bm25Build = await build(bm25File);
const hybridBuild = await build(hybridFile, (n) => ({ model: embedder.id, vectors: Array.from({ length: n }, unitVector) }));

const embedMs: number[] = [];
for (const q of queries) {
  const t0 = performance.now();
  await embedder.embed([q]);
  embedMs.push(performance.now() - t0);
}
const bm25Store = IndexStore.open(bm25File, { readOnly: true });
const hybridStore = IndexStore.open(hybridFile, { readOnly: true });
const bm25Query = await latency(bm25Store);
const hybridQuery = await latency(hybridStore, embedder);
bm25Store.close();
hybridStore.close();
await embedder.close();
await rm(dir, { recursive: true, force: true });

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const result = {
  date: new Date().toISOString(),
  machine,
  passages: PASSAGES,
  queries: QUERIES,
  dimensions: DIMENSIONS,
  index_bm25: bm25Build,
  index_with_vectors: hybridBuild,
  query_bm25: bm25Query,
  query_hybrid: hybridQuery,
  query_embedding_test_model: { p50_ms: percentile(embedMs, 0.5), p95_ms: percentile(embedMs, 0.95) },
};
console.log(`${PASSAGES} passages of ~1000 characters, ${QUERIES} queries; ${machine}\n`);
console.log(`index, BM25 only        ${bm25Build.passages_per_s} passages/s   ${bm25Build.file_mb} MB`);
console.log(`index, + ${DIMENSIONS}-d vectors  ${hybridBuild.passages_per_s} passages/s   ${hybridBuild.file_mb} MB`);
console.log(`query, BM25             p50 ${bm25Query.p50_ms} ms   p95 ${bm25Query.p95_ms} ms`);
console.log(
  `query, hybrid           p50 ${hybridQuery.p50_ms} ms   p95 ${hybridQuery.p95_ms} ms   (${hybridQuery.ranking}; of which the test model's embedding p50 ${result.query_embedding_test_model.p50_ms} ms)`,
);
const out = resolve('bench/out');
await mkdir(out, { recursive: true });
const file = join(out, `search-bench-${result.date.replace(/[:.]/g, '-')}.json`);
await writeFile(file, JSON.stringify(result, null, 2));
console.log(`\nwritten to ${file}`);
