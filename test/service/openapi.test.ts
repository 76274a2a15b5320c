/**
 * GET /openapi.json against the server's real answers: every route, its successes and its errors,
 * checked for a documented status and media type, and a JSON body valid against the documented schema
 * (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it). Every documented operation must have been seen.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Box, JobProgress, JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { IndexStore } from '../../src/search/index-store.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';

const KEY = 'openapi-test-key';
let server: ChildProcess & { output: string[] };
let base: string;
let doc: any;
let dir: string;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
/** `METHOD template` of every operation a real answer was checked against. */
const seen = new Set<string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openapi-'));
  const index = join(dir, 'index.sqlite');
  const store = IndexStore.open(index);
  const chunk = { chunk_id: 'bridge.pdf#0', document: 'bridge.pdf', chunk_index: 0, pages: [1] };
  const text = 'The committee approved the bridge renovation after the vote.';
  const box: Box = [
    [10, 20],
    [300, 20],
    [300, 60],
    [10, 60],
  ];
  store.replaceDocument(
    { path: 'bridge.pdf', sha256: 'x', size: 1, pages: 1, status: 'success' },
    [{ page_number: 1, width: 400, height: 100 }],
    [{ ...chunk, text, boxes: [{ page: 1, box }] }],
  );
  store.close();
  ({ server, base } = await startServer({ API_KEYS: KEY, MAX_UPLOAD_MB: '1', OCR_CONCURRENCY: '1', SEARCH_INDEX: index }));
  doc = await (await fetch(`${base}/openapi.json`)).json();
  ajv.addSchema(doc, 'openapi');
});
afterAll(async () => {
  await stopProcess(server);
  await rm(dir, { recursive: true, force: true });
});

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** The documented path template a real path answers to: literal paths before templated ones. */
function template(path: string): string {
  const templates = Object.keys(doc.paths).sort((a, b) => a.split('{').length - b.split('{').length);
  const found = templates.find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  assert.ok(found, `${path} is not documented`);
  return found;
}

/** Checks an answer against the document; returns its body (JSON parsed, else text). */
async function check(method: string, path: string, res: Response, expectedStatus: number): Promise<any> {
  const route = template(path.split('?')[0]!);
  const op = doc.paths[route][method.toLowerCase()];
  assert.ok(op, `${method} ${route} is not documented`);
  seen.add(`${method} ${route}`);
  const text = await res.text();
  assert.equal(res.status, expectedStatus, `${method} ${path}: ${text.slice(0, 300)}`);
  const response = op.responses[String(res.status)];
  assert.ok(response, `${method} ${route} does not document ${res.status}`);
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
  assert.ok(response.content?.[type], `${method} ${route} ${res.status} does not document ${type}`);
  const body = type === 'application/json' ? JSON.parse(text) : text;
  if (type === 'application/json') {
    const at = pointer('paths', route, method.toLowerCase(), 'responses', String(res.status), 'content', type, 'schema');
    const validate = ajv.compile({ $ref: `openapi#/${at}` });
    assert.ok(validate(body), `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 500)}`);
  }
  return body;
}

function call(method: string, path: string, init: { body?: FormData; key?: string | null } = {}): Promise<Response> {
  const key = init.key === undefined ? KEY : init.key;
  return fetch(`${base}${path}`, { method, body: init.body, headers: key ? { Authorization: `Bearer ${key}` } : {} });
}

async function expectAnswer(
  method: string,
  path: string,
  status: number,
  init: { body?: FormData; key?: string | null } = {},
): Promise<any> {
  return check(method, path, await call(method, path, init), status);
}

function form(data: Uint8Array, filename: string, fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(data)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

/** A JobProgress sent as a server-sent event, checked like an answer's body. */
function checkEvent(data: string): any {
  const validate = ajv.compile({ $ref: 'openapi#/components/schemas/JobProgress' });
  const progress = JSON.parse(data);
  assert.ok(validate(progress), ajv.errorsText(validate.errors));
  return progress;
}

const PAGE = renderPage({ paragraphs: [['The quick brown fox jumps over the lazy dog.']], width: 900, height: 200 }).image;

test('the open routes: health, the description, the web page', async () => {
  await expectAnswer('GET', '/health', 200, { key: null });
  const described = await expectAnswer('GET', '/openapi.json', 200, { key: null });
  assert.equal(described.openapi, '3.1.0');
  await expectAnswer('GET', '/', 200, { key: null });
  await expectAnswer('GET', '/web/app.js', 200, { key: null });
  await expectAnswer('GET', '/web/style.css', 200, { key: null });
  await expectAnswer('GET', '/web/nothing.js', 404, { key: null });
  // Every schema compiles on its own.
  for (const name of Object.keys(doc.components.schemas)) ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
});

test('the workers and the metrics, with the key and without', async () => {
  const status = await expectAnswer('GET', '/workers/status', 200);
  assert.equal(status.healthy_workers, 1);
  await expectAnswer('GET', '/workers/status', 401, { key: null });
  await expectAnswer('GET', '/workers/status', 401, { key: 'wrong' });
  await expectAnswer('GET', '/metrics', 200);
  await expectAnswer('GET', '/metrics', 401, { key: null });
});

test('GET /search: hits, and a missing or bad query', async () => {
  const reply = await expectAnswer('GET', '/search?q=bridge%20renovation&k=3', 200);
  assert.equal(reply.hits.length, 1);
  await expectAnswer('GET', '/search', 400);
  await expectAnswer('GET', '/search?q=bridge&k=0', 400);
});

test('POST /ocr/image and POST /ocr/pdf: results in each format, and their refusals', async () => {
  const read = await expectAnswer('POST', '/ocr/image', 200, { body: form(PAGE, 'page.png') });
  assert.match(read.combined_text, /quick brown fox/);
  await expectAnswer('POST', '/ocr/image', 200, { body: form(PAGE, 'page.png', { output: 'txt' }) });
  await expectAnswer('POST', '/ocr/image', 200, { body: form(PAGE, 'page.png', { output: 'pdf' }) });
  await expectAnswer('POST', '/ocr/image', 400, { body: form(new Uint8Array(0), 'empty.png') });
  await expectAnswer('POST', '/ocr/image', 415, { body: form(Buffer.from('not an image'), 'x.png') });
  await expectAnswer('POST', '/ocr/image', 422, { body: form(PAGE, 'page.png', { language: 'klingon' }) });
  await expectAnswer('POST', '/ocr/image', 422, { body: form(PAGE, 'page.png', { output: 'docx' }) });
  await expectAnswer('POST', '/ocr/image', 413, { body: form(new Uint8Array(2 * 1024 * 1024).fill(1), 'big.png') });
  await expectAnswer('POST', '/ocr/image', 401, { body: form(PAGE, 'page.png'), key: null });

  const layer = [
    'The quick brown fox jumps over the lazy dog.',
    'Pack my box with five dozen liquor jugs.',
    'Sphinx of black quartz, judge my vow.',
  ];
  const pdf = await buildPdf([{ png: PAGE }, { lines: layer }]);
  const both = await expectAnswer('POST', '/ocr/pdf', 200, { body: form(pdf, 'doc.pdf', { text_layer: 'auto' }) });
  expect((both as JobResult).results.map((p) => p.source)).toEqual(['ocr', 'text_layer']);
  await expectAnswer('POST', '/ocr/pdf', 200, { body: form(pdf, 'doc.pdf', { output: 'hocr' }) });
  await expectAnswer('POST', '/ocr/pdf', 200, { body: form(pdf, 'doc.pdf', { output: 'alto' }) });
  await expectAnswer('POST', '/ocr/pdf', 200, { body: form(pdf, 'doc.pdf', { output: 'md' }) });
  await expectAnswer('POST', '/ocr/pdf', 415, { body: form(PAGE, 'page.png') });
  await expectAnswer('POST', '/ocr/pdf', 422, { body: form(pdf, 'doc.pdf', { dpi: '5' }) });
  await expectAnswer('POST', '/ocr/pdf', 422, { body: form(Buffer.from('%PDF-1.7\nbroken\n%%EOF'), 'broken.pdf') });
});

test('jobs: created, listed, followed, read page by page, their result in any format, cancelled, and the errors of each', async () => {
  const pdf = await buildPdf([{ png: PAGE }, { png: PAGE }]);
  const job = await expectAnswer('POST', '/jobs', 202, { body: form(pdf, 'two.pdf') });
  await expectAnswer('POST', '/jobs', 415, { body: form(Buffer.from('plain text'), 'notes.txt') });
  const id = job.job_id as string;

  // The events, each a JobProgress, until the last one.
  const events = await call('GET', `/jobs/${id}/events`);
  const stream = await check('GET', `/jobs/${id}/events`, events, 200);
  const progress = [...(stream as string).matchAll(/^data: (.*)$/gm)].map((m) => checkEvent(m[1]!));
  assert.equal(progress.at(-1).finished, true);

  const list = await expectAnswer('GET', '/jobs', 200);
  assert.ok((list as JobProgress[]).some((j) => j.job_id === id));
  await expectAnswer('GET', `/jobs/${id}`, 200);
  await expectAnswer('GET', '/jobs/no-such-job', 404);
  await expectAnswer('GET', '/jobs/no-such-job/events', 404);
  await expectAnswer('GET', `/jobs/${id}/result`, 200);
  await expectAnswer('GET', `/jobs/${id}/result?format=pdf&pdfa=true`, 200);
  await expectAnswer('GET', `/jobs/${id}/result?format=docx`, 422);
  await expectAnswer('GET', '/jobs/no-such-job/result', 404);
  await expectAnswer('GET', `/jobs/${id}/pages/1`, 200);
  await expectAnswer('GET', `/jobs/${id}/pages/9`, 404);
  await expectAnswer('GET', `/jobs/${id}/pages/one`, 422);
  await expectAnswer('GET', `/jobs/${id}/pages/1/image`, 200);
  await expectAnswer('GET', `/jobs/${id}/pages/1/image?format=png&width=200`, 200);
  await expectAnswer('GET', `/jobs/${id}/pages/1/image?format=gif`, 422);

  // A result asked for before the job ends.
  const longer = await expectAnswer('POST', '/jobs', 202, {
    body: form(await buildPdf(Array.from({ length: 8 }, () => ({ png: PAGE }))), 'eight.pdf'),
  });
  await expectAnswer('GET', `/jobs/${longer.job_id}/result`, 409);
  await expectAnswer('DELETE', `/jobs/${longer.job_id}`, 200);

  await expectAnswer('DELETE', `/jobs/${id}`, 200);
  await expectAnswer('DELETE', `/jobs/${id}`, 404);
});

test('every documented operation was checked against a real answer', () => {
  const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item as object)
      .filter((k) => ['get', 'post', 'delete'].includes(k))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
  expect([...seen].sort()).toEqual(documented.sort());
});
