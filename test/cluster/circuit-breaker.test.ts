/**
 * A worker whose engine fails on every page, beside two good ones: its pages are read elsewhere, its
 * circuit opens after a few failures, and from then on it gets no pages.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobResult, WorkersStatus } from '../../src/contracts.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';

let nats: NatsServer;
let nodes: (ChildProcess & { output: string[] })[] = [];
let base: string;

async function status(): Promise<WorkersStatus> {
  return (await fetch(`${base}/workers/status`)).json();
}

async function ocrPdf(pages: number): Promise<JobResult> {
  const pdf = await buildPdf(
    Array.from({ length: pages }, (_, i) => ({ lines: [`Circuit breaker page ${i + 1}`, 'read by a worker that works'] })),
  );
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(pdf)]), 'circuit.pdf');
  return (await fetch(`${base}/ocr/pdf`, { method: 'POST', body })).json();
}

beforeAll(async () => {
  nats = await NatsServer.start();
  const env = { TRANSPORTER: nats.url, NAMESPACE: 'circuit', RETRY_DELAY_SECONDS: '0.2' };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Half-open only after the test: the circuit must stay open for the second job.
  const gateway = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'gateway,rasterizer,aggregator',
    NODE_ID: 'gateway',
    COORDINATOR_PORT: String(port),
    CIRCUIT_HALF_OPEN_SECONDS: '600',
  });
  nodes = [
    gateway,
    startProcess('src/bin/main.ts', { ...env, SERVICES: 'ocr-worker', NODE_ID: 'good-1', OCR_CPU_THREADS: '1' }),
    startProcess('src/bin/main.ts', { ...env, SERVICES: 'ocr-worker', NODE_ID: 'good-2', OCR_CPU_THREADS: '1' }),
    startProcess('test/fixtures/broken-worker.ts', { ...env, NODE_ID: 'broken', OCR_CPU_THREADS: '1' }),
  ];
  await waitForHttp(`${base}/health`, gateway, 120_000);
  while ((await status()).healthy_workers < 3) await new Promise((r) => setTimeout(r, 200));
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => stopProcess(n, 'SIGKILL')));
  await nats.kill();
});

test('a worker whose engine keeps failing is cut off, and its pages are read by the others', async () => {
  const first = await ocrPdf(12);
  assert.equal(first.metrics.status, 'success', JSON.stringify(first.metrics.errors));
  expect(first.results.map((p) => p.page_number)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  first.results.forEach((p, i) => assert.match(p.text, new RegExp(`page ${i + 1}\\b`)));
  assert.equal(first.metrics.ocr_rounds_per_worker.broken, undefined);

  const afterFirst = await status();
  const broken = afterFirst.workers.find((w) => w.node_id === 'broken')!;
  console.log(
    `first job: pages per worker ${JSON.stringify(first.metrics.ocr_rounds_per_worker)}; broken worker: ${broken.total_requests} requests, ${broken.errors} errors, circuit ${broken.circuit}`,
  );
  assert.equal(broken.circuit, 'open');
  assert.equal(broken.status, 'healthy', 'it still answers: only its pages are kept away');
  assert.ok(broken.errors! >= 3 && broken.errors! <= 6, `tripped after a few failures, not after every page: ${broken.errors}`);
  expect(afterFirst.workers.filter((w) => w.node_id !== 'broken').map((w) => w.circuit)).toEqual(['closed', 'closed']);

  const second = await ocrPdf(6);
  assert.equal(second.metrics.status, 'success');
  const later = (await status()).workers.find((w) => w.node_id === 'broken')!;
  assert.equal(later.total_requests, broken.total_requests, 'no page of the second job went to the open circuit');
});
