/** The one-process server (`npm start`) over real HTTP. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { cer, ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';

let server: ChildProcess & { output: string[] };
let base: string;

/** The server's TMPDIR, to see what it leaves there. */
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'rest-tmp-'));
  ({ server, base } = await startServer({ MAX_UPLOAD_MB: '2', TMPDIR: tmp }));
});
afterAll(async () => {
  await stopProcess(server);
  await rm(tmp, { recursive: true, force: true });
});

function form(data: Uint8Array, filename: string, fields: Record<string, string> = {}, field = 'file'): FormData {
  const body = new FormData();
  body.append(field, new Blob([Buffer.from(data)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

async function post(path: string, body: FormData | string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body });
  return { status: res.status, json: await res.json() };
}

test('GET /health reports the node with its OCR worker', async () => {
  const res = await fetch(`${base}/health`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, 'ok');
  assert.equal(body.ocr_workers, 1);
});

test('POST /ocr/image returns text, pages and consistent metrics', async () => {
  const { image, truth } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const { status, json } = await post('/ocr/image', form(image, 'scan.png', { language: 'en' }));
  assert.equal(status, 200);
  const result = json as JobResult;
  assert.ok(cer(result.combined_text, truth) <= 0.01, result.combined_text);
  assert.equal(result.results.length, 1);
  const page = result.results[0]!;
  assert.equal(page.page_number, 1);
  const m = result.metrics;
  assert.equal(m.status, 'success');
  assert.equal(m.filename, 'scan.png');
  assert.equal(m.file_size_bytes, image.length);
  assert.equal(m.total_pages, 1);
  assert.equal(m.pages_processed, 1);
  assert.equal(m.pages_failed, 0);
  assert.equal(m.total_lines, page.lines.length);
  assert.equal(m.total_words, result.combined_text.split(/\s+/).length);
  assert.equal(
    m.total_chars,
    page.lines.reduce((s, l) => s + l.text.length, 0),
  );
  expect(m.errors).toEqual([]);
  assert.ok(m.total_duration_ms >= page.timings.total_ms);
  assert.equal(Date.parse(m.end_time) - Date.parse(m.start_time), m.total_duration_ms);
  assert.match(result.combined_markdown, /^## Page 1\n\nThe quick brown fox jumps over the lazy dog\. Pack my box/);
});

test('bad uploads get a 4xx with a stable code', async () => {
  const { image } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const cases: [FormData | string, number, string][] = [
    [form(new Uint8Array(0), 'empty.png'), 400, 'EMPTY_UPLOAD'],
    [form(image, 'scan.png', {}, 'other'), 400, 'MISSING_FILE'],
    ['plain body', 400, 'MISSING_FILE'],
    [form(Buffer.from('just some text'), 'notes.png'), 415, 'UNSUPPORTED_MEDIA'],
    [form(Buffer.from('%PDF-1.7\n%...'), 'doc.png'), 415, 'UNSUPPORTED_MEDIA'],
    [form(image.subarray(0, 400), 'truncated.png'), 422, 'IMAGE_UNREADABLE'],
    [form(new Uint8Array(3 * 1024 * 1024).fill(7), 'big.png'), 413, 'UPLOAD_TOO_LARGE'],
  ];
  for (const [body, expected, code] of cases) {
    const { status, json } = await post('/ocr/image', body);
    assert.equal(status, expected, `${code}: ${JSON.stringify(json)}`);
    assert.equal(json.error.code, code);
    assert.equal(typeof json.error.message, 'string');
    assert.doesNotMatch(json.error.message, /at .*\.ts:\d+/, 'no stack traces');
  }
  // The same server still reads a good page afterwards.
  const { status } = await post('/ocr/image', form(image, 'again.png'));
  assert.equal(status, 200);
});

test('unknown routes answer 404 as JSON', async () => {
  const res = await fetch(`${base}/nope`);
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, 'NOT_FOUND');
});

test('GET /search on a server started without SEARCH_INDEX says search is not configured', async () => {
  const res = await fetch(`${base}/search?q=invoice`);
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, 'SEARCH_NOT_CONFIGURED');
});

test('onnxruntime leaves no mat-debug-<pid>.log in TMPDIR (its telemetry is off)', async () => {
  assert.equal((await fetch(`${base}/health`)).status, 200, 'the engines have created their sessions');
  const left = (await readdir(tmp)).filter((f) => f.startsWith('mat-debug'));
  expect(left).toEqual([]);
});
