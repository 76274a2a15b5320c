/**
 * Idle engines on other workers read recognition batches of a busy worker's page: two single-engine
 * workers over a real NATS, one page image at a time, so one worker reads the page and the other idles.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobResult, WorkersStatus } from '../../src/contracts.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, startServer, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { renderPage } from '../helpers/render.ts';

type Node = ChildProcess & { output: string[] };
let nats: NatsServer;
let gateway: Node;
const workers: Node[] = [];
let base: string;

beforeAll(async () => {
  nats = await NatsServer.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = { TRANSPORTER: nats.url, NAMESPACE: 'lending', OCR_CPU_THREADS: '1', OCR_CONCURRENCY: '1' };
  gateway = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'gateway,rasterizer,aggregator',
    NODE_ID: 'gateway',
    COORDINATOR_PORT: String(port),
  });
  for (const name of ['worker-1', 'worker-2'])
    workers.push(startProcess('src/bin/main.ts', { ...env, SERVICES: 'ocr-worker', NODE_ID: name }));
  await waitForHttp(`${base}/health`, gateway, 120_000);
  while ((await workersStatus()).healthy_workers < 2) await new Promise((r) => setTimeout(r, 200));
});

afterAll(async () => {
  await Promise.all([gateway, ...workers].map((n) => stopProcess(n, 'SIGKILL')));
  await nats.kill();
});

async function workersStatus(): Promise<WorkersStatus> {
  return (await fetch(`${base}/workers/status`)).json();
}

async function readImage(url: string, image: Buffer): Promise<JobResult> {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(image)]), 'page.png');
  const res = await fetch(`${url}/ocr/image`, { method: 'POST', body });
  const result = await res.json();
  assert.equal(res.status, 200, JSON.stringify(result));
  return result;
}

// Forty lines: a dozen recognition batches or more, whatever the CPU's batch size.
const LINES = Array.from({ length: 40 }, (_, i) => `Line ${i + 1} of the shared page, invoice ${7300 + i * 13} paid`);
const PAGE = renderPage({ paragraphs: [LINES], width: 1000, height: 40 * 42 + 80, fontSize: 26 }).image;

test('a page sent to an idle cluster is read by both workers, with the text one process reads', async () => {
  const result = await readImage(base, PAGE);
  const [page] = result.results;
  expect(page!.lines.map((l) => l.text)).toEqual(LINES);

  const status = await workersStatus();
  const reader = status.workers.find((w) => w.node_id === page!.worker)!;
  const other = status.workers.find((w) => w.node_id !== page!.worker)!;
  assert.equal(reader.pages_done, 1);
  assert.equal(other.pages_done, 0);
  assert.ok(other.batches_read_for_others! > 0, `the idle worker read ${other.batches_read_for_others} batches`);
  assert.equal(reader.batches_read_for_others, 0);

  // The same page in the one-process server: every line and word box the same.
  const { server, base: alone } = await startServer({ OCR_CONCURRENCY: '1' }, 120_000);
  try {
    const single = (await readImage(alone, PAGE)).results[0]!;
    expect(page!.lines).toEqual(single.lines);
  } finally {
    await stopProcess(server);
  }
});
