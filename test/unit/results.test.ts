import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { buildJobResult, jobStatus } from '../../src/jobs/results.ts';
import { JobStore } from '../../src/jobs/job-store.ts';
import { jsonPieces } from '../../src/outputs/json.ts';
import type { PageResult } from '../../src/contracts.ts';

function page(n: number, worker: string, paragraphs: string[][]): PageResult {
  const lines = paragraphs.flat().map((text, i) => ({
    text,
    confidence: 0.9 + i * 0.01,
    box: [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
    ] as PageResult['lines'][0]['box'],
    words: [],
  }));
  let k = 0;
  return {
    page_number: n,
    width: 100,
    height: 100,
    rotation: 0,
    worker,
    source: 'ocr',
    text: paragraphs.map((p) => p.join('\n')).join('\n\n'),
    lines,
    paragraphs: paragraphs.map((p) => ({
      text: p.join(' '),
      box: [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
      ],
      lines: p.map(() => k++),
    })),
    blocks: paragraphs.map((_, i) => ({
      type: 'text',
      box: [
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
      ],
      lines: [],
      paragraphs: [i],
    })),
    avg_confidence: 0.9,
    timings: { decode_ms: 1, det_ms: 2, cls_ms: 3, rec_ms: 4, layout_ms: 1, total_ms: 10 * n },
  };
}

const facts = { job_id: 'j1', filename: 'a.pdf', file_size_bytes: 2 * 1048576, total_pages: 3, start: new Date(1000), end: new Date(4000) };

test('metrics add up from the pages, in page order whatever the arrival order', () => {
  const pages = [page(3, 'w2', [['gamma delta']]), page(1, 'w1', [['alpha beta', 'one'], ['two']])];
  const r = buildJobResult(facts, pages, [{ page: 2, code: 'IMAGE_UNREADABLE', message: 'bad' }]);
  expect(r.results.map((p) => p.page_number)).toEqual([1, 3]);
  const m = r.metrics;
  assert.equal(m.pages_processed, 2);
  assert.equal(m.pages_failed, 1);
  assert.equal(m.status, 'partial_success');
  assert.equal(m.total_words, 6);
  assert.equal(m.total_lines, 4);
  assert.equal(m.total_chars, 'alpha beta'.length + 3 + 3 + 'gamma delta'.length);
  assert.equal(m.total_duration_ms, 3000);
  assert.equal(m.file_size_mb, 2);
  expect(m.ocr_rounds_per_worker).toEqual({ w1: 1, w2: 1 });
  assert.equal(m.avg_page_time_ms, 20);
  expect(m.errors).toEqual([{ page: 2, code: 'IMAGE_UNREADABLE', message: 'bad' }]);
  assert.equal(r.combined_text, 'alpha beta\none\n\ntwo\fgamma delta');
  assert.equal(
    r.combined_markdown,
    '## Page 1\n\nalpha beta one\n\ntwo\n\n## Page 2\n\n> Page 2 could not be read (IMAGE_UNREADABLE): bad\n\n## Page 3\n\ngamma delta\n',
  );
});

test("a job's JSON is written from its pages kept as text: the text JSON.stringify makes of its result", () => {
  const store = new JobStore(60_000);
  const { id } = store.create({ filename: 'a.pdf', file_size_bytes: 10, total_pages: 3, output: 'json', pdfa: false });
  store.started(id);
  store.addPage(id, page(3, 'w2', [['gamma delta']]));
  const failed = { page: 2, code: 'IMAGE_UNREADABLE', message: 'bad', worker: 'w1' };
  store.addError(id, failed);
  store.addPage(id, page(1, 'w1', [['alpha beta', 'one'], ['two']]));
  store.finish(id);
  const result = store.result(id);
  const written = [...jsonPieces(store.serializedResult(id))].join('');
  assert.equal(written, JSON.stringify(result));
  expect(result.results.map((p) => p.page_number)).toEqual([1, 3]);
  expect(result.results[0]).toEqual(page(1, 'w1', [['alpha beta', 'one'], ['two']]));
  const { start_time, end_time, worker_metrics } = result.metrics;
  const made = buildJobResult(
    { job_id: id, filename: 'a.pdf', file_size_bytes: 10, total_pages: 3, start: new Date(start_time), end: new Date(end_time) },
    [page(3, 'w2', [['gamma delta']]), page(1, 'w1', [['alpha beta', 'one'], ['two']])],
    [failed],
  );
  expect(made).toEqual(result);
  expect(worker_metrics).toEqual({
    w1: { pages: 1, total_ms: 10, avg_ms: 10, errors: 1 },
    w2: { pages: 1, total_ms: 30, avg_ms: 30, errors: 0 },
  });
});

test('status: success, partial_success, failed', () => {
  assert.equal(jobStatus(3, 0), 'success');
  assert.equal(jobStatus(3, 1), 'partial_success');
  assert.equal(jobStatus(3, 3), 'failed');
});
