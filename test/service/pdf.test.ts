/** PDFs and jobs end to end over HTTP against the one-process server, with PDFs built in the test. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobProgress, JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf, corruptImage, type TextPage } from '../helpers/pdf.ts';
import { cer, renderPage } from '../helpers/render.ts';

let server: ChildProcess & { output: string[] };
let base: string;
const tempDir = mkdtempSync(join(tmpdir(), 'ocr-pdf-test-'));
const words = (s: string) => s.split(/\s+/).filter(Boolean);

beforeAll(async () => {
  ({ server, base } = await startServer({ TEMP_DIR: tempDir }));
});
afterAll(() => stopProcess(server));

function form(pdf: Buffer, fields: Record<string, string> = {}, filename = 'doc.pdf'): FormData {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(pdf)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

async function call(method: string, path: string, body?: FormData): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${base}${path}`, { method, body });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

const TEXT_PAGES: TextPage[] = [
  { lines: ['Invoice number 4471 for the spring order', 'Delivery to the north warehouse'] },
  { lines: ['A landscape page with a wide table heading', 'Quantities are counted in boxes'], size: [842, 595] },
  { lines: ['This page is turned by its rotate entry', 'and must still be read upright'], rotate: 90 },
  { lines: ['A small page at the end', 'Thank you for your business'], size: [420, 595] },
];

function assertConsistent(result: JobResult): void {
  const m = result.metrics;
  assert.equal(m.pages_processed, result.results.length);
  assert.equal(m.pages_processed + m.pages_failed, m.total_pages);
  assert.equal(m.pages_failed, m.errors.length);
  assert.equal(
    m.total_lines,
    result.results.reduce((s, p) => s + p.lines.length, 0),
  );
  assert.equal(
    m.total_words,
    result.results.reduce((s, p) => s + words(p.text).length, 0),
  );
  assert.equal(
    m.total_chars,
    result.results.reduce((s, p) => s + p.lines.reduce((t, l) => t + l.text.length, 0), 0),
  );
  const ocrPages = result.results.filter((p) => p.source === 'ocr');
  assert.equal(
    Object.values(m.ocr_rounds_per_worker).reduce((s, n) => s + n, 0),
    ocrPages.length,
  );
  assert.equal(
    Object.values(m.worker_metrics).reduce((s, w) => s + w.pages, 0),
    ocrPages.length,
  );
  if (result.results.length)
    assert.ok(Math.abs(m.avg_page_time_ms - result.results.reduce((s, p) => s + p.timings.total_ms, 0) / result.results.length) < 0.2);
  assert.equal(Date.parse(m.end_time) - Date.parse(m.start_time), m.total_duration_ms);
  expect(result.results.map((p) => p.page_number)).toEqual([...result.results.map((p) => p.page_number)].sort((a, b) => a - b));
  assert.equal(result.combined_text.split('\f').length, result.results.length);
}

test('a vector-text PDF with mixed page sizes and a rotated page is read page by page', async () => {
  const pdf = await buildPdf(TEXT_PAGES);
  const { status, json } = await call('POST', '/ocr/pdf', form(pdf, { dpi: '150' }));
  assert.equal(status, 200, JSON.stringify(json));
  const result = json as JobResult;
  assert.equal(result.metrics.status, 'success');
  assert.equal(result.metrics.total_pages, 4);
  assert.equal(result.metrics.file_size_bytes, pdf.length);
  result.results.forEach((page, i) => {
    expect({ page: i + 1, words: words(page.text) }).toEqual({ page: i + 1, words: words(TEXT_PAGES[i]!.lines.join(' ')) });
    assert.equal(page.source, 'ocr');
    assert.equal(page.dpi, 150);
  });
  // Landscape page 2 is wider than tall; the /Rotate 90 page 3 is rendered turned, as a viewer shows it.
  assert.ok(result.results[1]!.width > result.results[1]!.height);
  assert.ok(result.results[2]!.width > result.results[2]!.height);
  assertConsistent(result);
  assert.equal(result.combined_text.split('\f').length, 4);
  assert.match(result.combined_markdown, /^## Page 1\n\nInvoice number 4471/);
  assert.match(result.combined_markdown, /## Page 4\n\nA small page at the end/);
});

test('text_layer=auto takes text from the PDF where it has a real text layer, and says so', async () => {
  const scan = renderPage({ paragraphs: [['This scanned page has no text layer', 'so it must go through OCR']] });
  const pdf = await buildPdf([TEXT_PAGES[0]!, { png: scan.image }]);
  const { status, json } = await call('POST', '/ocr/pdf', form(pdf, { text_layer: 'auto' }));
  assert.equal(status, 200);
  const result = json as JobResult;
  expect(result.results.map((p) => p.source)).toEqual(['text_layer', 'ocr']);
  expect(result.metrics.text_layer_pages).toEqual([1]);
  expect(words(result.results[0]!.text)).toEqual(words(TEXT_PAGES[0]!.lines.join(' ')));
  assert.ok(cer(result.results[1]!.text, scan.truth) <= 0.02, result.results[1]!.text);
  assertConsistent(result);
});

test('one broken page: partial_success, the good pages read, an error naming the bad page', async () => {
  const scan = renderPage({ paragraphs: [['The image on this page is damaged']], format: 'jpeg' });
  const pdf = corruptImage(await buildPdf([TEXT_PAGES[0]!, { jpeg: scan.image }, TEXT_PAGES[3]!]));
  const { status, json } = await call('POST', '/ocr/pdf', form(pdf));
  assert.equal(status, 200);
  const result = json as JobResult;
  assert.equal(result.metrics.status, 'partial_success');
  expect(result.results.map((p) => p.page_number)).toEqual([1, 3]);
  expect(result.metrics.errors.map((e) => [e.page, e.code])).toEqual([[2, 'PAGE_UNREADABLE']]);
  assert.match(result.combined_markdown, /## Page 2\n\n> Page 2 could not be read \(PAGE_UNREADABLE\)/);
  assertConsistent(result);
});

test("a job polled to completion gives the waiting endpoint's result; its events arrive in order", async () => {
  const pdf = await buildPdf(TEXT_PAGES);
  const created = await call('POST', '/jobs', form(pdf, { dpi: '150' }));
  assert.equal(created.status, 202);
  const id = created.json.job_id as string;
  assert.equal(created.headers.get('location'), `/jobs/${id}`);
  assert.equal(created.json.total_pages, 4);

  const events: JobProgress[] = [];
  const stream = await fetch(`${base}/jobs/${id}/events`);
  assert.equal(stream.headers.get('content-type'), 'text/event-stream');
  for (const block of (await stream.text()).split('\n\n').filter(Boolean)) {
    events.push(
      JSON.parse(
        block
          .split('\n')
          .find((l) => l.startsWith('data: '))!
          .slice(6),
      ),
    );
  }
  const done = events.map((e) => e.pages_done + e.pages_failed);
  expect(done).toEqual([...done].sort((a, b) => a - b)); // progress never goes back
  assert.equal(events.at(-1)!.status, 'success');
  assert.equal(events.at(-1)!.finished, true);
  assert.equal(events.filter((e) => e.finished).length, 1);

  const status = await call('GET', `/jobs/${id}`);
  expect([status.json.status, status.json.pages_done, status.json.total_pages]).toEqual(['success', 4, 4]);
  const polled = (await call('GET', `/jobs/${id}/result`)).json as JobResult;
  const waited = (await call('POST', '/ocr/pdf', form(pdf, { dpi: '150' }))).json as JobResult;
  assert.equal(polled.combined_text, waited.combined_text);
  assert.equal(polled.combined_markdown, waited.combined_markdown);
  expect(polled.results.map((p) => p.lines)).toEqual(waited.results.map((p) => p.lines));
  const stable = (r: JobResult) => ({
    ...r.metrics,
    job_id: 0,
    start_time: 0,
    end_time: 0,
    total_duration_ms: 0,
    avg_page_time_ms: 0,
    worker_metrics: 0,
  });
  expect(stable(polled)).toEqual(stable(waited));
});

test('a cancelled job stops running pages', async () => {
  const scan = renderPage({ paragraphs: [['A page of a long scanned document', 'with a second line of text']] }).image;
  const pdf = await buildPdf(Array.from({ length: 12 }, () => ({ png: scan })));
  const { json: job } = await call('POST', '/jobs', form(pdf));
  await new Promise((r) => setTimeout(r, 300));
  const cancelled = await call('DELETE', `/jobs/${job.job_id}`);
  assert.equal(cancelled.status, 200);
  let progress: JobProgress;
  do {
    await new Promise((r) => setTimeout(r, 200));
    progress = (await call('GET', `/jobs/${job.job_id}`)).json;
  } while (!progress.finished);
  assert.equal(progress.status, 'cancelled');
  assert.ok(progress.pages_done < 12, `${progress.pages_done} pages were read`);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await call('GET', `/jobs/${job.job_id}`)).json.pages_done, progress.pages_done, 'no page ran after the end');
  const result = (await call('GET', `/jobs/${job.job_id}/result`)).json as JobResult;
  assert.equal(result.metrics.status, 'cancelled');
});

test('bad PDFs and bad options get a 4xx with a stable code; their uploads are removed', async () => {
  // Uploads of the jobs before are kept for their searchable PDF until the jobs are removed.
  const kept = readdirSync(tempDir).filter((f) => f.endsWith('.upload'));
  const png = renderPage({ paragraphs: [['x']] }).image;
  const pdf = await buildPdf([TEXT_PAGES[0]!]);
  const cases: [FormData, number, string][] = [
    [form(png), 415, 'UNSUPPORTED_MEDIA'],
    [form(Buffer.from('%PDF-1.7\n' + 'garbage '.repeat(100))), 422, 'PDF_UNREADABLE'],
    [form(pdf, { dpi: '5000' }), 422, 'INVALID_PARAMS'],
    [form(pdf, { text_layer: 'maybe' }), 422, 'INVALID_PARAMS'],
  ];
  for (const [body, expected, code] of cases) {
    const { status, json } = await call('POST', '/ocr/pdf', body);
    assert.equal(status, expected, `${code}: ${JSON.stringify(json)}`);
    assert.equal(json.error.code, code);
  }
  assert.equal((await call('GET', '/jobs/no-such-job')).json.error.code, 'NOT_FOUND');
  await new Promise((r) => setTimeout(r, 300));
  expect(readdirSync(tempDir).filter((f) => f.endsWith('.upload'))).toEqual(kept); // no upload of a refused request was kept
});
