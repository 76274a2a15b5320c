/**
 * Two workers over a real NATS that read different languages: each advertises its own, the gateway
 * refuses a language neither reads, and the balancer sends a page only to a worker that reads its
 * language; once that worker has left, its language is 503 NO_WORKERS.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobResult, WorkersStatus } from '../../src/contracts.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { englishRecognizer } from '../helpers/models.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';

type Node = ChildProcess & { output: string[] };
// Undefined until beforeAll starts them: it fails part-way when the English model is not installed.
let nats: NatsServer | undefined;
let dir: string;
let gateway: Node | undefined;
let chinese: Node | undefined;
let english: Node | undefined;
let base: string;

beforeAll(async () => {
  const server = await NatsServer.start();
  nats = server;
  dir = await mkdtemp(join(tmpdir(), 'languages-cluster-'));
  const model = await englishRecognizer(dir);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = { TRANSPORTER: server.url, NAMESPACE: 'languages', OCR_CPU_THREADS: '1' };
  gateway = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'gateway,rasterizer,aggregator',
    NODE_ID: 'gateway',
    COORDINATOR_PORT: String(port),
  });
  // One worker reads Chinese only (the shipped recogniser, told so); the other English, with the English-only model added.
  chinese = startProcess('src/bin/main.ts', { ...env, SERVICES: 'ocr-worker', NODE_ID: 'chinese', OCR_REC_LANGUAGES: 'zh' });
  english = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'ocr-worker',
    NODE_ID: 'english',
    OCR_REC_LANGUAGES: 'zh',
    OCR_MODELS: `en=${model.rec}:${model.dict}`,
  });
  await waitForHttp(`${base}/health`, gateway, 120_000);
  for (;;) {
    const status = await (await fetch(`${base}/workers/status`)).json();
    if (status.healthy_workers === 2) break;
    await new Promise((r) => setTimeout(r, 500));
  }
});

afterAll(async () => {
  await Promise.all([gateway, chinese, english].flatMap((n) => (n ? [stopProcess(n)] : [])));
  await nats?.kill();
  await rm(dir, { recursive: true, force: true });
});

async function post(path: string, file: Uint8Array, name: string, fields: Record<string, string>): Promise<{ status: number; json: any }> {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(file)]), name);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  const res = await fetch(`${base}${path}`, { method: 'POST', body });
  return { status: res.status, json: await res.json() };
}

const PAGE = renderPage({ paragraphs: [['Every page of this job is English text.']], width: 900, height: 200 }).image;

test('each worker advertises its languages; one neither reads is 422 listing both', async () => {
  const status = (await (await fetch(`${base}/workers/status`)).json()) as WorkersStatus;
  const languages = Object.fromEntries(status.workers.map((w) => [w.node_id, Object.keys(w.languages ?? {})]));
  expect(languages).toEqual({ chinese: ['zh'], english: ['en', 'zh'] });
  const { status: code, json } = await post('/ocr/image', PAGE, 'page.png', { language: 'fr' });
  assert.equal(code, 422);
  assert.equal(json.error.code, 'UNSUPPORTED_LANGUAGE');
  assert.match(json.error.message, /"fr".*en, zh/);
});

test('pages in English all go to the worker that reads it; pages in Chinese to either', async () => {
  const pdf = await buildPdf(Array.from({ length: 6 }, () => ({ png: PAGE })));
  const en = await post('/ocr/pdf', pdf, 'six.pdf', { language: 'en' });
  assert.equal(en.status, 200, JSON.stringify(en.json));
  const result = en.json as JobResult;
  expect(result.metrics.ocr_rounds_per_worker).toEqual({ english: 6 });
  assert.match(result.combined_text, /English text/);
  // Sent there by the balancer, not bounced by the Chinese worker and sent again.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.doesNotMatch(metrics, /^ocr_pages_total\{nodeID="chinese"/m);
  assert.doesNotMatch(metrics, /^ocr_page_retries_total/m);
  // Without a language, or in one both read, both take pages.
  const zh = (await post('/ocr/pdf', pdf, 'six.pdf', { language: 'zh' })).json as JobResult;
  expect(Object.keys(zh.metrics.ocr_rounds_per_worker).sort()).toEqual(['chinese', 'english']);
});

test('once the English worker has left, English is 503 NO_WORKERS naming it, and Chinese is still read', async () => {
  await stopProcess(english!);
  for (;;) {
    const status = await (await fetch(`${base}/workers/status`)).json();
    if (status.total_workers === 1) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const { status, json } = await post('/ocr/image', PAGE, 'page.png', { language: 'en' });
  assert.equal(status, 503);
  assert.equal(json.error.code, 'NO_WORKERS');
  assert.match(json.error.message, /language "en"/);
  const zh = await post('/ocr/image', PAGE, 'page.png', { language: 'zh' });
  assert.equal(zh.status, 200);
  assert.equal((zh.json as JobResult).results[0]!.worker, 'chinese');
});
