/**
 * What an operator watches: Prometheus metrics at GET /metrics while a job runs, and JSON log lines
 * (LOG_FORMAT=json) that carry the job's id. And how the server process runs: one glibc malloc arena.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';

let server: ChildProcess & { output: string[] };
let base: string;

beforeAll(async () => {
  ({ server, base } = await startServer({ LOG_FORMAT: 'json', LOG_LEVEL: 'info', OCR_CONCURRENCY: '1' }));
});
afterAll(async () => {
  await stopProcess(server);
});

/** The value of each sample of a metric whose labels include `labels`, summed. */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const has = Object.entries(labels).every(([k, v]) => m[2]?.includes(`${k}="${v}"`));
    if (has) sum += Number(m[3]);
  }
  return sum;
}

async function scrape(): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

test('GET /metrics shows pages and stage latencies moving during a 20-page job, then the job by status', async () => {
  const pages = Array.from({ length: 20 }, (_, i) => ({
    lines: [`Page ${i + 1} of the metrics test`],
    size: [320, 100] as [number, number],
  }));
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(await buildPdf(pages))]), 'twenty.pdf');
  const before = await scrape();
  const job = await (await fetch(`${base}/jobs`, { method: 'POST', body })).json();
  const during: number[] = [];
  const queued: number[] = [];
  for (;;) {
    const text = await scrape();
    const status = await (await fetch(`${base}/jobs/${job.job_id}`)).json();
    if (status.finished) break;
    during.push(sample(text, 'ocr_pages_total', { outcome: 'read' }));
    queued.push(sample(text, 'ocr_queue_pages'));
    await new Promise((r) => setTimeout(r, 200));
  }
  const after = await scrape();
  assert.equal(sample(before, 'ocr_pages_total'), 0);
  // Seen part-way: some pages read, not all.
  assert.ok(
    during.some((n) => n > 0 && n < 20),
    `pages read while the job ran: ${during.join(', ')}`,
  );
  assert.equal(sample(after, 'ocr_pages_total', { outcome: 'read', language: 'default' }), 20);
  // The node's page queue: pages waiting for a worker while the job ran, none after.
  assert.ok(
    queued.some((n) => n > 0),
    `pages queued while the job ran: ${queued.join(', ')}`,
  );
  assert.equal(sample(after, 'ocr_queue_pages'), 0);
  for (const stage of ['render', 'det', 'rec', 'layout', 'ocr_total']) {
    assert.equal(sample(after, 'ocr_page_stage_seconds_count', { stage }), 20, stage);
    assert.ok(sample(after, 'ocr_page_stage_seconds_sum', { stage }) > 0, stage);
  }
  assert.equal(sample(after, 'ocr_page_stage_seconds_bucket', { stage: 'ocr_total', le: '+Inf' }), 20);
  assert.equal(sample(after, 'ocr_jobs', { status: 'success' }), 1);
  assert.equal(sample(after, 'ocr_jobs', { status: 'running' }), 0);
  // The worker's bulkhead: in flight and queued, per node.
  assert.match(after, /^moleculer_request_bulkhead_inflight\{nodeID="[^"]+",action="ocr\.recognize",service="ocr"\} 0$/m);
  assert.match(after, /^moleculer_request_bulkhead_queue_size\{nodeID="[^"]+",action="ocr\.recognize",service="ocr"\} 0$/m);
  // One HELP and TYPE per metric, as Prometheus wants.
  const helps = after.split('\n').filter((l) => l.startsWith('# HELP '));
  expect(new Set(helps).size).toBe(helps.length);

  // Every line the server wrote is a JSON object; those about the job carry its id (HTTP access lines aside).
  const lines = server.output
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const records = lines.map((l) => JSON.parse(l) as { level: string; msg: string; job_id?: string });
  const aboutJob = records.filter((r) => r.msg.includes(job.job_id) && !/^(=>|<=) /.test(r.msg));
  expect(aboutJob.map((r) => r.msg.replace(job.job_id, 'ID'))).toEqual([
    'Job ID started: twenty.pdf, 20 pages',
    'Job ID ended success: 20 pages read, 0 failed',
  ]);
  for (const r of aboutJob) assert.equal(r.job_id, job.job_id);
});

test('DELETE /jobs/:id: only the page in the engine is read after the cancel (none is sent after it; one already at the worker is dropped there)', async () => {
  const read = async () => sample(await scrape(), 'ocr_pages_total', { outcome: 'read' });
  const before = await read();
  const pages = Array.from({ length: 8 }, (_, i) => ({
    lines: [`Page ${i + 1} of the cancelled job`],
    size: [320, 100] as [number, number],
  }));
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(await buildPdf(pages))]), 'eight.pdf');
  const job = await (await fetch(`${base}/jobs`, { method: 'POST', body })).json();
  while ((await (await fetch(`${base}/jobs/${job.job_id}`)).json()).pages_done < 1) await new Promise((r) => setTimeout(r, 20));
  const cancelled = await (await fetch(`${base}/jobs/${job.job_id}`, { method: 'DELETE' })).json();
  // Settled: nothing in flight or waiting at the worker.
  for (;;) {
    const text = await scrape();
    const busy =
      sample(text, 'moleculer_request_bulkhead_inflight', { action: 'ocr.recognize' }) +
      sample(text, 'moleculer_request_bulkhead_queue_size', { action: 'ocr.recognize' });
    if (busy === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The page being read when the job was cancelled finishes; none other is read.
  const readAfter = (await read()) - before - cancelled.pages_done;
  assert.ok(readAfter <= 1, `${readAfter} pages were read after the cancel`);
});

/** The MALLOC_ARENA_MAX glibc read when process `pid` started: its environment as it was executed. */
function mallocArenaMax(pid: number): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .find((e) => e.startsWith('MALLOC_ARENA_MAX='));
  return entry?.slice('MALLOC_ARENA_MAX='.length);
}

test('the server runs with one malloc arena in the process that was started, and keeps a MALLOC_ARENA_MAX it is given', async () => {
  // Started with no MALLOC_ARENA_MAX (the harness passes none): the same process id answers, its logs still come.
  assert.equal(process.env.MALLOC_ARENA_MAX, undefined);
  assert.equal(mallocArenaMax(server.pid!), '1');
  assert.equal((await fetch(`${base}/health`)).status, 200);
  assert.match(server.output.join(''), /"level":"info"/);

  const given = await startServer({ MALLOC_ARENA_MAX: '2', OCR_CONCURRENCY: '1' });
  try {
    assert.equal(mallocArenaMax(given.server.pid!), '2');
    assert.equal((await fetch(`${given.base}/health`)).status, 200);
  } finally {
    await stopProcess(given.server);
  }
});
