/**
 * The searchable PDF in a cluster whose aggregator runs on another node than the gateway and the
 * rasterizer that hold the upload: the result goes to the upload's node and the PDF comes back, both
 * as streams over NATS, and so does the JSON, each larger than one NATS message.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, test } from '@jest/globals';
import type { JobProgress, JobResult } from '../../src/contracts.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { pdfToText, qpdfCheck } from '../helpers/poppler.ts';

type Node = ChildProcess & { output: string[] };
let nats: NatsServer;
let front: Node;
let back: Node;
let base: string;

beforeAll(async () => {
  nats = await NatsServer.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  front = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    SERVICES: 'gateway,rasterizer',
    NODE_ID: 'front',
    COORDINATOR_PORT: String(port),
  });
  back = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    SERVICES: 'aggregator,ocr-worker',
    NODE_ID: 'back',
    OCR_CPU_THREADS: '1',
  });
  await waitForHttp(`${base}/health`, front, 120_000);
});

afterAll(async () => {
  await Promise.all([front, back].map((n) => stopProcess(n, 'SIGKILL')));
  await nats.kill();
});

test('a job aggregated on another node: its searchable PDF is written where the upload is and streamed back over NATS', async () => {
  // 40 pages of text layer (text_layer=auto, no OCR): a result of well over 1 MB, NATS's message limit.
  const lines = Array.from({ length: 30 }, (_, i) => `Line ${i + 1} of the ledger lists order ${7000 + i} with its amount and date`);
  const pdf = await buildPdf(Array.from({ length: 40 }, () => ({ lines })));
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(pdf)]), 'ledger.pdf');
  body.append('text_layer', 'auto');
  body.append('output', 'pdf');
  const job = (await (await fetch(`${base}/jobs`, { method: 'POST', body })).json()) as JobProgress;
  while (!((await (await fetch(`${base}/jobs/${job.job_id}`)).json()) as JobProgress).finished)
    await new Promise((r) => setTimeout(r, 200));
  const json = await (await fetch(`${base}/jobs/${job.job_id}/result?format=json`)).text();
  assert.ok(json.length > 1 << 20, `${json.length} bytes of JSON: ${json.slice(0, 300)}`);
  assert.equal((JSON.parse(json) as JobResult).metrics.text_layer_pages.length, 40);
  const res = await fetch(`${base}/jobs/${job.job_id}/result`);
  assert.equal(res.status, 200, `${await res.clone().text()}\n${front.output.join('').slice(-3000)}\n${back.output.join('').slice(-3000)}`);
  const out = Buffer.from(await res.arrayBuffer());
  assert.ok(out.subarray(0, pdf.length).equals(pdf), 'the input, then its update');
  assert.equal((await qpdfCheck(out)).code, 0);
  const texts = await pdfToText(out);
  assert.equal(texts.length, 40);
  assert.match(texts[39]!, /Line 30 of the ledger lists order 7029/);
});
