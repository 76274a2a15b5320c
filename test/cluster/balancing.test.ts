/** Capacity-aware balancing over real processes: a slowed worker beside a normal one gets fewer pages. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { JobResult } from '../../src/contracts.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';

let nats: NatsServer;
let gateway: ChildProcess & { output: string[] };
let fast: ChildProcess & { output: string[] };
let slow: ChildProcess & { output: string[] };
let base: string;

beforeAll(async () => {
  nats = await NatsServer.start();
  const env = { TRANSPORTER: nats.url, NAMESPACE: 'balancing', LOG_LEVEL: 'warn' };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  gateway = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'gateway,rasterizer,aggregator',
    NODE_ID: 'gateway',
    COORDINATOR_PORT: String(port),
  });
  fast = startProcess('src/bin/main.ts', { ...env, SERVICES: 'ocr-worker', NODE_ID: 'fast', OCR_CPU_THREADS: '2' });
  // The slowed worker: one inference thread (against two) and a detector input of 2560 px instead of
  // 1280, four times the pixels: each page costs it several times as long.
  slow = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'ocr-worker',
    NODE_ID: 'slow',
    OCR_CPU_THREADS: '1',
    OCR_DET_LIMIT_SIDE: '2560',
  });
  await waitForHttp(`${base}/health`, gateway, 120_000);
  for (;;) {
    const status = await (await fetch(`${base}/workers/status`)).json();
    if (status.healthy_workers === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(async () => {
  await Promise.all([gateway, fast, slow].map((n) => stopProcess(n, 'SIGKILL')));
  await nats.kill();
});

test('a slowed worker beside a normal one gets clearly fewer pages', async () => {
  const lines = [
    'Balancing test page with a few lines of text',
    'so that every page costs the worker some time',
    'and the faster worker can show that it is faster.',
  ];
  const pdf = await buildPdf(Array.from({ length: 16 }, () => ({ lines })));
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(pdf)]), 'balance.pdf');
  const result: JobResult = await (await fetch(`${base}/ocr/pdf`, { method: 'POST', body })).json();
  assert.equal(result.metrics.status, 'success');
  const rounds = result.metrics.ocr_rounds_per_worker;
  console.log(
    `pages per worker: ${JSON.stringify(rounds)}; ms per page: fast ${result.metrics.worker_metrics.fast?.avg_ms}, slow ${result.metrics.worker_metrics.slow?.avg_ms}`,
  );
  assert.ok((rounds.slow ?? 0) > 0, `the slow worker still takes pages: ${JSON.stringify(rounds)}`);
  assert.ok(rounds.slow! < rounds.fast! * 0.75, JSON.stringify(rounds));
});
