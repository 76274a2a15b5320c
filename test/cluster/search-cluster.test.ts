/**
 * Embedding in a cluster: only the worker started with EMBED_MODEL has `ocr.embed` (and says so in
 * its metadata); a batch joining over NATS sends it the passages, in more than one call, and a gateway
 * on another node sends it the queries, so both rank by words and vectors without a model of their own.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { SearchReply } from '../../src/contracts.ts';
import { IndexStore } from '../../src/search/index-store.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { cli, indexCounts, writeEncoder } from '../helpers/search.ts';

type Node = ChildProcess & { output: string[] };
let nats: NatsServer;
let worker: Node;
let gateway: Node;
let base: string;
let dir: string;
let model: Record<string, string>;

/** Ledger lines: with 80-character passages, the corpus makes more passages than one embed call takes (64). */
const LINES = Array.from({ length: 24 }, (_, i) => `Ledger line ${i + 1} lists the order of the month`);
const PLANTED = 'The Halvorsen bridge renovation was approved';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocr-search-cluster-'));
  model = await writeEncoder(dir, [...LINES, PLANTED]);
  nats = await NatsServer.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    SERVICES: 'ocr-worker',
    NODE_ID: 'embedder',
    OCR_CPU_THREADS: '1',
    ...model,
  });
  gateway = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    SERVICES: 'gateway',
    NODE_ID: 'front',
    COORDINATOR_PORT: String(port),
    SEARCH_INDEX: join(dir, 'out', 'index.sqlite'),
  });
  await waitForHttp(`${base}/health`, gateway, 120_000); // 200 once the worker has joined
});

afterAll(async () => {
  await Promise.all([worker, gateway].map((n) => stopProcess(n, 'SIGKILL')));
  await nats.kill();
  await rm(dir, { recursive: true, force: true });
});

test("a batch and a gateway without a model embed on the cluster's worker that has one", async () => {
  const input = join(dir, 'corpus');
  await mkdir(input, { recursive: true });
  const page = (lines: string[]) => ({ lines, size: [420, 260] as [number, number] });
  // A long document (more passages than one embed call takes) with the planted sentence on page 2, and a short one.
  const long = Array.from({ length: 16 }, (_, p) =>
    page(p === 1 ? [PLANTED, ...LINES.slice(0, 8)] : LINES.slice((p % 3) * 8, (p % 3) * 8 + 8)),
  );
  await writeFile(join(input, 'ledger-long.pdf'), await buildPdf(long));
  await writeFile(join(input, 'ledger-short.pdf'), await buildPdf([page(LINES.slice(0, 8))]));
  const index = join(dir, 'out', 'index.sqlite');
  // EMBED_MODEL for the batch makes vectors required: it waits for a worker that embeds (it runs no worker itself).
  const run = await cli(
    ['batch', input, '--out', join(dir, 'out'), '--index', index, '--text-layer', 'auto', '--chunk-size', '80', '--chunk-overlap', '0'],
    { ...model, TRANSPORTER: nats.url },
  ).done;
  assert.equal(run.code, 0, `${run.output}\n${worker.output.join('').slice(-3000)}`);
  assert.match(run.output, /index: passages and their vectors from encoder\.onnx@[0-9a-f]{12}/);
  const held = indexCounts(index);
  const store = IndexStore.open(index, { readOnly: true });
  const longHeld = store.document('ledger-long.pdf')!;
  store.close();
  assert.ok(longHeld.passages > 64, `${longHeld.passages} passages: more than one call's worth`);
  assert.equal(held.vectors, held.passages);

  const res = await fetch(`${base}/search?q=${encodeURIComponent('Halvorsen bridge renovation')}`);
  assert.equal(res.status, 200, gateway.output.join('').slice(-3000));
  const reply = (await res.json()) as SearchReply;
  assert.equal(reply.ranking, 'hybrid', reply.reason);
  expect({ document: reply.hits[0]?.document, pages: reply.hits[0]?.pages }).toEqual({ document: 'ledger-long.pdf', pages: [2] });
  assert.equal(reply.hits[0]!.ranks.vector !== undefined, true);
});
