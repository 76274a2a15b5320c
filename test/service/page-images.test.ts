/**
 * What the web page needs from the API, over real HTTP: a job's pages once read (`GET
 * /jobs/:id/pages/:n`) and as images (`.../image?width=&format=`), for a PDF (scanned and text-layer
 * pages) and for an image sent to `POST /jobs`; the images are kept only while the job is.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import type { JobProgress, PageResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';

const TTL_SECONDS = 10;
let server: ChildProcess & { output: string[] };
let base: string;
const tempDir = mkdtempSync(join(tmpdir(), 'ocr-page-images-'));

beforeAll(async () => {
  ({ server, base } = await startServer({ TEMP_DIR: tempDir, JOB_TTL_SECONDS: String(TTL_SECONDS) }));
});
afterAll(async () => {
  if (server) await stopProcess(server);
  rmSync(tempDir, { recursive: true, force: true });
});

async function finishedJob(file: Buffer, filename: string, fields: Record<string, string> = {}): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(file)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  const res = await fetch(`${base}/jobs`, { method: 'POST', body });
  assert.equal(res.status, 202, await res.clone().text());
  const id = ((await res.json()) as JobProgress).job_id;
  // Wait on the event stream: it ends after the final event.
  await (await fetch(`${base}/jobs/${id}/events`)).text();
  return id;
}

const size = async (image: Buffer) => {
  const { width, height, format } = await sharp(image).metadata();
  return { width, height, format };
};

test("a PDF's pages, scanned and text-layer, as read and as images at a requested width", async () => {
  const scan = renderPage({ paragraphs: [['A scanned page with a few words']] }).image;
  const pdf = await buildPdf([{ png: scan }, { lines: ['A page with its own text layer', 'and a second line of real text'] }]);
  const id = await finishedJob(pdf, 'mixed.pdf', { text_layer: 'auto' });

  for (const n of [1, 2]) {
    const page = (await (await fetch(`${base}/jobs/${id}/pages/${n}`)).json()) as PageResult;
    assert.equal(page.page_number, n);
    assert.equal(page.source, n === 1 ? 'ocr' : 'text_layer');
    const full = await fetch(`${base}/jobs/${id}/pages/${n}/image`);
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('content-type'), 'image/jpeg');
    const kept = await size(Buffer.from(await full.arrayBuffer()));
    assert.equal(kept.format, 'jpeg');
    assert.ok(Math.max(kept.width, kept.height) <= 1400, `kept at most 1400 px: ${kept.width}x${kept.height}`);
    assert.ok(Math.abs(kept.width / kept.height - page.width / page.height) < 0.01, "the page's shape");
    const thumb = await fetch(`${base}/jobs/${id}/pages/${n}/image?width=300&format=png`);
    assert.equal(thumb.headers.get('content-type'), 'image/png');
    expect(await size(Buffer.from(await thumb.arrayBuffer()))).toEqual({
      width: 300,
      height: Math.round((300 * kept.height) / kept.width),
      format: 'png',
    });
    const huge = await size(Buffer.from(await (await fetch(`${base}/jobs/${id}/pages/${n}/image?width=9000`)).arrayBuffer()));
    assert.equal(huge.width, kept.width, 'never enlarged');
  }

  const cases: [string, number, string][] = [
    [`/jobs/${id}/pages/3/image`, 404, 'NOT_FOUND'],
    [`/jobs/${id}/pages/3`, 404, 'NOT_FOUND'],
    [`/jobs/${id}/pages/0/image`, 422, 'INVALID_PARAMS'],
    [`/jobs/${id}/pages/1/image?width=5`, 422, 'INVALID_PARAMS'],
    [`/jobs/${id}/pages/1/image?format=gif`, 422, 'INVALID_PARAMS'],
    ['/jobs/no-such-job/pages/1/image', 404, 'NOT_FOUND'],
  ];
  for (const [path, status, code] of cases) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, status, path);
    assert.equal((await res.json()).error.code, code, path);
  }
});

test('an image sent to POST /jobs is a one-page job, looked at like a PDF page; PDF-only /ocr/pdf still refuses it', async () => {
  const { image, truth } = renderPage({ paragraphs: [['An image as a job of one page']], format: 'jpeg' });
  const id = await finishedJob(image, 'photo.jpg');
  const result = await (await fetch(`${base}/jobs/${id}/result`)).json();
  assert.equal(result.metrics.status, 'success');
  assert.equal(result.metrics.total_pages, 1);
  assert.equal(result.combined_text, truth);
  assert.equal(result.results[0].dpi, undefined, 'an image has no rendering resolution');
  const kept = await size(Buffer.from(await (await fetch(`${base}/jobs/${id}/pages/1/image`)).arrayBuffer()));
  expect(kept).toEqual({ width: 1200, height: 900, format: 'jpeg' });

  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(image)]), 'photo.jpg');
  assert.equal((await fetch(`${base}/ocr/pdf`, { method: 'POST', body })).status, 415);
});

test('page images are kept while their job is kept, then removed with it', async () => {
  const id = await finishedJob(await buildPdf([{ png: renderPage({ paragraphs: [['Soon forgotten']] }).image }]), 'brief.pdf');
  assert.equal((await fetch(`${base}/jobs/${id}/pages/1/image`)).status, 200);
  const pagesDir = join(tempDir, 'pages');
  assert.ok(readdirSync(pagesDir).length > 0);
  // The job is swept TTL seconds after it ended (checked every TTL seconds), its images with it.
  const deadline = Date.now() + 2 * TTL_SECONDS * 1000 + 5000;
  while ((await fetch(`${base}/jobs/${id}`)).status !== 404 || readdirSync(pagesDir).length > 0) {
    assert.ok(Date.now() < deadline, `still there: ${readdirSync(pagesDir).join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal((await fetch(`${base}/jobs/${id}/pages/1/image`)).status, 404);
  assert.ok(existsSync(pagesDir));
});
