/**
 * Untrusted PDFs are parsed and rendered, and untrusted images decoded, in child processes: a
 * renderer that crashes, hangs or balloons on one page fails that page with its code, within the
 * limits, and the next page renders; a decoder that crashes on one image fails that image only; a
 * PDF writer that crashes or hangs fails that PDF only.
 * The node's render children are a bounded pool shared by its documents.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { IsolatedDecoder } from '../../src/isolation/image-decoder.ts';
import { buildJobResult } from '../../src/jobs/results.ts';
import { IsolatedOutputWriter } from '../../src/outputs/isolated-writer.ts';
import { IsolatedPdf } from '../../src/pdf/isolated-pdf.ts';
import { RenderPool } from '../../src/pdf/render-pool.ts';
import { PdfDocument } from '../../src/pdf/rasterizer.ts';
import { ROOT } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';

let dir: string;
let path: string;
let pdf: Buffer;
const FAULTY = join(ROOT, 'test/fixtures/faulty-render-process.ts');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'isolated-pdf-'));
  path = join(dir, 'three.pdf');
  pdf = await buildPdf([1, 2, 3].map((n) => ({ lines: [`Isolated page ${n}`], size: [300, 120] as [number, number] })));
  await writeFile(path, pdf);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * The faulty renderer reads its fault from FAULT, and a child inherits the real environment, which a
 * test cannot change from jest's sandbox (its `process.env` is a copy): an entry file sets it first.
 */
async function faultyEntry(fault: string): Promise<string> {
  const entry = join(dir, `${fault}.mjs`);
  await writeFile(entry, `process.env.FAULT = ${JSON.stringify(fault)};\nawait import(${JSON.stringify(pathToFileURL(FAULTY).href)});\n`);
  return entry;
}

test('a PDF rendered in its child process gives the same pixels as in this one', async () => {
  const pool = new RenderPool(1, { memoryMb: 1024, deadlineMs: 30_000 });
  const isolated = await IsolatedPdf.open(path, undefined, pool);
  const local = await PdfDocument.open(new Uint8Array(pdf));
  assert.equal(isolated.pageCount, 3);
  const [a, b] = [await isolated.render(2, 100, 1e8), await local.render(2, 100, 1e8)];
  expect([a.raster.width, a.raster.height, a.dpi]).toEqual([b.raster.width, b.raster.height, b.dpi]);
  assert.ok(Buffer.from(a.raster.data).equals(Buffer.from(b.raster.data)));
  assert.equal((await isolated.textLayer(3, 100)).lines[0]?.text, 'Isolated page 3');
  isolated.close();
  await Promise.all([pool.close(), local.close()]);
});

test('ten documents read at once share a pool of two render children, never more', async () => {
  const pool = new RenderPool(2, { memoryMb: 1024, deadlineMs: 30_000 });
  const docs = await Promise.all(Array.from({ length: 10 }, () => IsolatedPdf.open(path, undefined, pool)));
  let most = 0;
  const texts = await Promise.all(
    docs.flatMap((doc) =>
      [1, 2, 3].map(async (n) => {
        most = Math.max(most, pool.running);
        const layer = await doc.textLayer(n, 100);
        most = Math.max(most, pool.running);
        return layer.lines[0]?.text;
      }),
    ),
  );
  expect(texts).toEqual(docs.flatMap(() => ['Isolated page 1', 'Isolated page 2', 'Isolated page 3']));
  assert.equal(most, 2);
  for (const doc of docs) doc.close();
  await pool.close();
  assert.equal(pool.running, 0);
});

/** Renders `pages` of `doc` all at once; the most render children running meanwhile. */
async function renderAtOnce(doc: IsolatedPdf, pool: RenderPool, pages: number[]): Promise<{ widths: number[]; most: number }> {
  let most = pool.running;
  const watch = setInterval(() => (most = Math.max(most, pool.running)), 5);
  try {
    const widths = await Promise.all(pages.map(async (n) => (await doc.render(n, 100, 1e8)).raster.width));
    return { widths, most: Math.max(most, pool.running) };
  } finally {
    clearInterval(watch);
  }
}

test('a document whose pages render quickly is read by the child that has it open, not opened in another', async () => {
  const pool = new RenderPool(2, { memoryMb: 1024, deadlineMs: 30_000 });
  const doc = await IsolatedPdf.open(path, undefined, pool);
  const { widths, most } = await renderAtOnce(doc, pool, [1, 2, 3, 1, 2, 3]);
  expect(widths).toEqual(Array(6).fill(Math.floor((300 * 100) / 72)));
  assert.equal(most, 1, 'a render takes milliseconds, starting a child and opening the document in it far longer');
  doc.close();
  await pool.close();
});

test('a document whose pages render slowly spreads over the render children', async () => {
  const pool = new RenderPool(2, { memoryMb: 1024, deadlineMs: 30_000 }, await faultyEntry('slow'));
  const doc = await IsolatedPdf.open(path, undefined, pool);
  const { widths, most } = await renderAtOnce(doc, pool, [1, 2, 3]);
  expect(widths).toEqual(Array(3).fill(Math.floor((300 * 100) / 72)));
  assert.equal(most, 2);
  doc.close();
  await pool.close();
});

for (const [fault, what, limits, message] of [
  ['crash', 'crashes', { memoryMb: 1024, deadlineMs: 30_000 }, /crashed/],
  // The deadline also covers starting a child and opening the document in it (the first request, and the one after
  // a kill): 2 s was too short on a loaded machine.
  ['hang', 'hangs', { memoryMb: 1024, deadlineMs: 5_000 }, /longer than 5 s/],
  ['balloon', 'balloons', { memoryMb: 400, deadlineMs: 30_000 }, /more than 400 MB/],
] as const) {
  test(`a renderer that ${what} on page 2 fails that page only, and the next page renders`, async () => {
    const pool = new RenderPool(1, limits, await faultyEntry(fault));
    const doc = await IsolatedPdf.open(path, undefined, pool);
    assert.equal((await doc.render(1, 100, 1e8)).raster.width > 0, true);
    const t0 = performance.now();
    await assert.rejects(doc.render(2, 100, 1e8), (err: { code: string; page: number; message: string }) => {
      assert.equal(err.code, 'PAGE_UNREADABLE');
      assert.equal(err.page, 2);
      assert.match(err.message, message);
      return true;
    });
    console.log(`${fault}: page 2 failed after ${Math.round(performance.now() - t0)} ms`);
    assert.equal((await doc.textLayer(3, 100)).lines[0]?.text, 'Isolated page 3', 'a fresh child reads the next page');
    doc.close();
    await pool.close();
  });
}

test('a decoder that crashes on one image fails that image as IMAGE_UNREADABLE; the next image decodes', async () => {
  const decoder = new IsolatedDecoder({ memoryMb: 1024, deadlineMs: 30_000 }, join(ROOT, 'test/fixtures/faulty-decode-process.ts'));
  const png = renderPage({ paragraphs: [['decoded elsewhere']], width: 300, height: 80 }).image;
  expect([(await decoder.decode(png, 1e8)).width]).toEqual([300]);
  await assert.rejects(decoder.decode(new Uint8Array([0, 1, 2, 3]), 1e8), (err: { code: string; message: string }) => {
    assert.equal(err.code, 'IMAGE_UNREADABLE');
    assert.match(err.message, /crashed/);
    return true;
  });
  const again = await decoder.decode(png, 1e8);
  expect([again.width, again.height]).toEqual([300, 80]);
  await decoder.close();
});

test('a child stopped while idle does not fail the request its successor took in the meantime', async () => {
  // The render pool stops an idle child; a job posted just then went to a new child, and the old one's
  // exit failed it as PDF_UNREADABLE (a flaky 422 in test/cluster/cluster.test.ts).
  const decoder = new IsolatedDecoder({ memoryMb: 1024, deadlineMs: 30_000 });
  const png = renderPage({ paragraphs: [['decoded again']], width: 300, height: 80 }).image;
  expect([(await decoder.decode(png, 1e8)).width]).toEqual([300]);
  const stopping = decoder.close();
  const next = await decoder.decode(png, 1e8);
  expect([next.width, next.height]).toEqual([300, 80]);
  await stopping;
  await decoder.close();
});

test('a PDF writer that crashes or hangs fails that PDF as PDF_UNREADABLE within the limits; the next one is written', async () => {
  const named = (filename: string) =>
    buildJobResult({ job_id: 'j', filename, file_size_bytes: pdf.length, total_pages: 3, start: new Date(0), end: new Date(1) }, [], []);
  const writer = new IsolatedOutputWriter({ memoryMb: 1024, deadlineMs: 3000 }, join(ROOT, 'test/fixtures/faulty-write-process.ts'));
  try {
    await assert.rejects(writer.write('pdf', { result: named('crash.pdf'), input: { path } }), {
      code: 'PDF_UNREADABLE',
      message: 'The PDF could not be written: its writer the process crashed',
    });
    const t0 = performance.now();
    await assert.rejects(writer.write('pdf', { result: named('hang.pdf'), input: { path } }), {
      code: 'PDF_UNREADABLE',
      message: 'The PDF could not be written: its writer took longer than 3 s',
    });
    assert.ok(performance.now() - t0 < 10_000);
    const written = Buffer.from(await writer.write('pdf', { result: named('three.pdf'), input: { path } }));
    assert.ok(written.subarray(0, pdf.length).equals(pdf), 'the input with its update');
    assert.equal(await writer.write('txt', { result: named('crash.pdf') }), '', 'the text formats need no child');
  } finally {
    await writer.close();
  }
});
