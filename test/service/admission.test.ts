/**
 * Many clients on the one-process server: pages wait in the node's queue and go out only where a
 * slot is free, jobs take turns, and past MAX_QUEUED_PAGES synchronous work is refused up front.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobProgress, JobResult, WorkersStatus } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';
import { renderChildren } from '../helpers/render-children.ts';

let tempDir: string;
/** Six small pages of short text: cheap to read, so the test is about scheduling. */
let sixPages: Buffer;

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'admission-'));
  sixPages = await buildPdf(
    Array.from({ length: 6 }, (_, i) => ({ size: [360, 140] as [number, number], lines: [`Queue page ${i + 1}`, `order ${7100 + i}`] })),
  );
});
afterAll(() => rm(tempDir, { recursive: true, force: true }));

function form(data: Uint8Array, filename: string, fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(data)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

/** Pages the engines were given to read, over every worker (`total_requests` of `GET /workers/status`). */
async function engineReads(base: string): Promise<number> {
  const status = (await (await fetch(`${base}/workers/status`)).json()) as WorkersStatus;
  return status.workers.reduce((n, w) => n + (w.total_requests ?? 0), 0);
}

test('30 concurrent 6-page PDFs: every job success, no page failed, no page read twice, at most PDF_RENDERERS render children', async () => {
  // A worker queue of 10 stands for any finite one: before the node kept pages in its own queue,
  // 30 jobs x 4 pages in flight overflowed it (WORKER_BUSY) and pages timed out while queued.
  const { server, base } = await startServer({ OCR_QUEUE_SIZE: '10', WORKER_REQUEST_TIMEOUT: '20', PDF_RENDERERS: '2' });
  let children = 0;
  const sampler = setInterval(() => (children = Math.max(children, renderChildren(server.pid!))), 50);
  try {
    const readsBefore = await engineReads(base);
    const replies = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await fetch(`${base}/ocr/pdf`, { method: 'POST', body: form(sixPages, `client-${i}.pdf`, { dpi: '100' }) });
        return { status: res.status, body: (await res.json()) as JobResult };
      }),
    );
    const reads = (await engineReads(base)) - readsBefore;
    const statuses = replies.map((r) => `${r.status} ${r.body.metrics?.status}`);
    const failed = replies.flatMap((r) => r.body.metrics?.errors ?? []);
    const delivered = replies.reduce((n, r) => n + (r.body.results?.length ?? 0), 0);
    console.log(
      `30 x 6 pages: ${delivered} pages delivered, ${failed.length} failed (${[...new Set(failed.map((e) => e.code))].join(', ')}), engines read ${reads}, at most ${children} render children`,
    );
    expect(statuses).toEqual(Array(30).fill('200 success'));
    assert.equal(failed.length, 0);
    assert.equal(delivered, 180);
    assert.ok(reads <= delivered * 1.05, `the engines read ${reads} pages to deliver ${delivered}`);
    assert.ok(children >= 1 && children <= 2, `${children} render children`);
  } finally {
    clearInterval(sampler);
    await stopProcess(server);
  }
});

test('past MAX_QUEUED_PAGES: 503 BUSY with Retry-After before the upload is stored; POST /jobs still queues; a cancelled job is not read', async () => {
  // One engine, and the backlog's 48 pages read at 300 dpi: it must outlast the requests below on a
  // quiet machine too (24 pages at 100 dpi on two engines were all read before the third POST /jobs).
  const { server, base } = await startServer({ TEMP_DIR: tempDir, MAX_QUEUED_PAGES: '4', MAX_QUEUED_JOBS: '2', OCR_CONCURRENCY: '1' });
  const stored = async () => (await readdir(tempDir)).filter((f) => f.endsWith('.upload'));
  try {
    const readsBefore = await engineReads(base);
    const big = await buildPdf(
      Array.from({ length: 48 }, (_, i) => ({ size: [360, 140] as [number, number], lines: [`Backlog page ${i + 1}`] })),
    );
    const first = await fetch(`${base}/jobs`, { method: 'POST', body: form(big, 'backlog.pdf', { dpi: '300' }) });
    assert.equal(first.status, 202);
    const firstId = ((await first.json()) as JobProgress).job_id;
    assert.equal((await stored()).length, 1, "the queued job's upload");

    for (const [path, data, name] of [
      ['/ocr/pdf', sixPages, 'sync.pdf'],
      ['/ocr/image', renderPage({ paragraphs: [['Refused image']] }).image, 'sync.png'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method: 'POST', body: form(data, name) });
      const body = await res.json();
      assert.equal(res.status, 503, `${path}: ${JSON.stringify(body.error ?? body.metrics?.status)}`);
      assert.equal(body.error.code, 'BUSY');
      assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/, `${path}: Retry-After`);
      console.log(`${path} refused: Retry-After ${res.headers.get('retry-after')} s, "${body.error.message}"`);
    }
    assert.equal((await stored()).length, 1, 'no refused upload was stored');

    // Big work is queued with POST /jobs whatever the backlog, up to MAX_QUEUED_JOBS jobs.
    const second = await fetch(`${base}/jobs`, { method: 'POST', body: form(sixPages, 'second.pdf', { dpi: '100' }) });
    assert.equal(second.status, 202);
    const secondId = ((await second.json()) as JobProgress).job_id;
    const third = await fetch(`${base}/jobs`, { method: 'POST', body: form(sixPages, 'third.pdf') });
    assert.equal(third.status, 503, `the backlog: ${JSON.stringify(await (await fetch(`${base}/jobs/${firstId}`)).json())}`);
    assert.equal((await third.json()).error.code, 'BUSY');
    assert.ok(third.headers.get('retry-after'));

    for (const id of [firstId, secondId]) assert.equal((await fetch(`${base}/jobs/${id}`, { method: 'DELETE' })).status, 200);
    const ended: JobProgress[] = [];
    for (const id of [firstId, secondId]) {
      for (;;) {
        const p = (await (await fetch(`${base}/jobs/${id}`)).json()) as JobProgress;
        if (p.finished) {
          ended.push(p);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const reads = (await engineReads(base)) - readsBefore;
    const kept = ended.reduce((n, p) => n + p.pages_done + p.pages_failed, 0);
    console.log(`cancelled: ${ended.map((p) => `${p.status} ${p.pages_done}/${p.total_pages}`).join(', ')}; engines read ${reads}`);
    expect(ended.map((p) => p.status)).toEqual(['cancelled', 'cancelled']);
    assert.equal(reads, kept, 'every page read is in its job; none was read after the cancel');
  } finally {
    await stopProcess(server);
  }
});
