import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { OcrError } from '../../src/errors.ts';
import { JobStore } from '../../src/jobs/job-store.ts';
import { withRetries } from '../../src/broker/retry.ts';
import type { PageResult } from '../../src/contracts.ts';

const page = (n: number): PageResult => ({
  page_number: n,
  width: 1,
  height: 1,
  rotation: 0,
  text: `page ${n}`,
  lines: [],
  paragraphs: [],
  blocks: [],
  avg_confidence: 0,
  timings: { decode_ms: 0, det_ms: 0, cls_ms: 0, rec_ms: 0, layout_ms: 0, total_ms: 1 },
  worker: 'w',
  source: 'ocr',
});

test('a job gathers pages in any order and ends by how many failed', () => {
  const store = new JobStore(1000);
  const { id } = store.create({ filename: 'a.pdf', file_size_bytes: 10, total_pages: 3, output: 'json', pdfa: false });
  assert.throws(
    () => store.result(id),
    (e: unknown) => e instanceof OcrError && e.code === 'JOB_NOT_FINISHED',
  );
  store.started(id);
  store.addPage(id, page(3));
  store.addError(id, { page: 2, code: 'PAGE_UNREADABLE', message: 'x' });
  store.addPage(id, page(1));
  expect(store.progress(id)).toEqual({
    job_id: id,
    status: 'running',
    filename: 'a.pdf',
    output: 'json',
    total_pages: 3,
    pages_done: 2,
    pages_failed: 1,
    finished: false,
  });
  assert.equal(store.finish(id).status, 'partial_success');
  const result = store.result(id);
  expect(result.results.map((p) => p.page_number)).toEqual([1, 3]);
  assert.equal(result.combined_text, 'page 1\fpage 3');
});

test('a cancelled job ends cancelled; finished jobs are forgotten after the TTL', () => {
  const store = new JobStore(1000);
  const { id, signal } = store.create({ filename: 'a.pdf', file_size_bytes: 10, total_pages: 5, output: 'json', pdfa: false });
  store.cancel(id);
  assert.ok(signal.aborted);
  assert.equal(store.finish(id).status, 'cancelled');
  expect(store.sweep(Date.now() + 500)).toEqual([]);
  expect(store.sweep(Date.now() + 1500)).toEqual([id]);
  assert.throws(
    () => store.progress(id),
    (e: unknown) => e instanceof OcrError && e.code === 'NOT_FOUND',
  );
});

test('transient failures are retried with growing waits, permanent ones are not', async () => {
  const transient = new OcrError('WORKER_LOST', 'gone');
  const started: number[] = [];
  const t0 = Date.now();
  const value = await withRetries(
    async (n) => {
      started.push(Date.now() - t0);
      if (n < 2) throw transient;
      return 'read';
    },
    { retries: 3, delayMs: 20 },
    (e) => e instanceof OcrError && e.retryable,
  );
  assert.equal(value, 'read');
  assert.equal(started.length, 3);
  assert.ok(started[2]! - started[1]! >= 35, 'the second wait is about twice the first');
  let tries = 0;
  await assert.rejects(
    withRetries(
      async () => {
        tries++;
        throw new OcrError('IMAGE_UNREADABLE', 'bad');
      },
      { retries: 3, delayMs: 1 },
      (e) => e instanceof OcrError && e.retryable,
    ),
  );
  assert.equal(tries, 1);
  tries = 0;
  await assert.rejects(
    withRetries(
      async () => {
        tries++;
        throw transient;
      },
      { retries: 2, delayMs: 1 },
      () => true,
    ),
  );
  assert.equal(tries, 3);
});
