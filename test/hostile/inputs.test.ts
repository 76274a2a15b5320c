/**
 * Hostile and malformed inputs, generated here, against one server: each gets its status and code
 * within seconds, and afterwards the same server still reads a good page.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { PDFDocument } from 'pdf-lib';
import type { JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { encryptedTextPagePdf, rawPdf, textPagePdf } from '../helpers/raw-pdf.ts';
import { renderPage } from '../helpers/render.ts';

let server: ChildProcess & { output: string[] };
let base: string;

beforeAll(async () => {
  ({ server, base } = await startServer({ MAX_UPLOAD_MB: '20' }));
});
afterAll(() => stopProcess(server));

async function send(
  path: string,
  data: Uint8Array | null,
  filename: string,
  fields: Record<string, string> = {},
): Promise<{ status: number; body: any; ms: number }> {
  const form = new FormData();
  if (data) form.append('file', new Blob([new Uint8Array(data)]), filename);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, { method: 'POST', body: form, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: await res.json(), ms: performance.now() - t0 };
}

function pngHeaderClaiming(width: number, height: number): Buffer {
  const png = renderPage({ paragraphs: [['x']], width: 40, height: 40 }).image;
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16); // IHDR width and height, with the chunk's CRC made right again
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

async function pdfWithPages(n: number, size: [number, number] = [200, 200]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  for (let i = 0; i < n; i++) doc.addPage(size);
  return Buffer.from(await doc.save({ useObjectStreams: true }));
}

const random = (n: number, seed = 1) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (Math.sin(seed * 9301 + i * 49297) * 233280) & 255));

test('every hostile input gets its 4xx and code within seconds', async () => {
  const goodPdf = textPagePdf('A quiet ledger page');
  const goodPng = renderPage({ paragraphs: [['A quiet ledger page']], width: 800, height: 200 }).image;
  const nested = rawPdf([
    `<< /Type /Catalog /Pages 2 0 R /Deep ${'['.repeat(100_000)}${']'.repeat(100_000)} >>`,
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>',
  ]);
  const loop = rawPdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>',
  ]);
  const cases: {
    name: string;
    path: string;
    data: Uint8Array | null;
    filename?: string;
    fields?: Record<string, string>;
    status: number;
    code: string;
  }[] = [
    { name: 'zero-byte PDF upload', path: '/ocr/pdf', data: new Uint8Array(0), status: 400, code: 'EMPTY_UPLOAD' },
    { name: 'zero-byte image upload', path: '/ocr/image', data: new Uint8Array(0), status: 400, code: 'EMPTY_UPLOAD' },
    { name: 'multipart without the file field', path: '/ocr/pdf', data: null, fields: { dpi: '200' }, status: 400, code: 'MISSING_FILE' },
    { name: 'truncated PDF', path: '/ocr/pdf', data: goodPdf.subarray(0, goodPdf.length / 3), status: 422, code: 'PDF_UNREADABLE' },
    { name: 'truncated PNG', path: '/ocr/image', data: goodPng.subarray(0, 300), status: 422, code: 'IMAGE_UNREADABLE' },
    {
      name: 'encrypted PDF without its password',
      path: '/ocr/pdf',
      data: encryptedTextPagePdf('Secret page', 'hunter2'),
      status: 422,
      code: 'PDF_ENCRYPTED',
    },
    {
      name: 'encrypted PDF with a wrong password',
      path: '/ocr/pdf',
      data: encryptedTextPagePdf('Secret page', 'hunter2'),
      fields: { password: 'letmein' },
      status: 422,
      code: 'PDF_ENCRYPTED',
    },
    { name: 'a PNG named .pdf', path: '/ocr/pdf', data: goodPng, filename: 'scan.pdf', status: 415, code: 'UNSUPPORTED_MEDIA' },
    { name: 'a PDF named .png', path: '/ocr/image', data: goodPdf, filename: 'scan.png', status: 415, code: 'UNSUPPORTED_MEDIA' },
    {
      name: 'plain text named .pdf',
      path: '/ocr/pdf',
      data: Buffer.from('Dear archivist,\nthis is not a PDF.\n'),
      filename: 'letter.pdf',
      status: 415,
      code: 'UNSUPPORTED_MEDIA',
    },
    {
      name: 'a PDF header and random bytes',
      path: '/ocr/pdf',
      data: Buffer.concat([Buffer.from('%PDF-1.7\n'), random(200_000)]),
      status: 422,
      code: 'PDF_UNREADABLE',
    },
    {
      name: 'a PDF with zero pages',
      path: '/ocr/pdf',
      data: rawPdf(['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [] /Count 0 >>']),
      status: 422,
      code: 'PDF_UNREADABLE',
    },
    { name: 'a PDF with 10,000 pages', path: '/ocr/pdf', data: await pdfWithPages(10_000), status: 413, code: 'TOO_MANY_PAGES' },
    { name: 'a page tree that loops', path: '/ocr/pdf', data: loop, status: 422, code: 'PDF_UNREADABLE' },
    { name: '100,000 nested arrays', path: '/ocr/pdf', data: nested, status: 422, code: 'PDF_UNREADABLE' },
    {
      name: 'a PNG header claiming 65535x65535',
      path: '/ocr/image',
      data: pngHeaderClaiming(65535, 65535),
      status: 413,
      code: 'IMAGE_TOO_LARGE',
    },
    {
      name: 'a 20000x20000 image',
      path: '/ocr/image',
      status: 413,
      code: 'IMAGE_TOO_LARGE',
      data: await sharp({ create: { width: 20000, height: 20000, channels: 3, background: '#fff' }, limitInputPixels: false })
        .png({ compressionLevel: 1 })
        .toBuffer(),
    },
  ];
  for (const c of cases) {
    const { status, body, ms } = await send(c.path, c.data, c.filename ?? (c.path === '/ocr/pdf' ? 'doc.pdf' : 'page.png'), c.fields);
    console.log(`${c.name}: ${status} ${body.error?.code} in ${Math.round(ms)} ms`);
    assert.equal(status, c.status, `${c.name}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, c.code, c.name);
    assert.ok(ms < 15_000, `${c.name} took ${ms} ms`);
    assert.doesNotMatch(JSON.stringify(body), /\.ts:\d+|node_modules/, 'no stack traces');
  }
});

test('inputs that are odd but valid are read', async () => {
  const encrypted = await send('/ocr/pdf', encryptedTextPagePdf('Secret ledger page', 'hunter2'), 'locked.pdf', { password: 'hunter2' });
  assert.equal(encrypted.status, 200, JSON.stringify(encrypted.body));
  assert.match(encrypted.body.combined_text, /Secret ledger page/);

  const huge = await send('/ocr/pdf', textPagePdf('A very large poster page', [14400, 14400], 700), 'poster.pdf');
  assert.equal(huge.status, 200, JSON.stringify(huge.body));
  const page = (huge.body as JobResult).results[0]!;
  console.log(`14400x14400 pt page: rendered at ${page.dpi} dpi, ${page.width}x${page.height} px: ${JSON.stringify(page.text)}`);
  assert.ok(page.width * page.height <= 100_000_000, 'rendered at a capped scale');
  assert.match(page.text, /A very large poster page/);

  const shifted = await send(
    '/ocr/pdf',
    rawPdf(
      [
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 200] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
        '<< /Length 45 >>\nstream\nBT /F1 36 Tf 40 88 Td (Broken xref page) Tj ET\nendstream',
        '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      ],
      { xrefShift: 37 },
    ),
    'shifted.pdf',
  );
  assert.equal(shifted.status, 200, `broken xref offsets are repaired by rebuilding the xref: ${JSON.stringify(shifted.body)}`);
  assert.match(shifted.body.combined_text, /Broken xref page/);

  const tiny = await send(
    '/ocr/image',
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } })
      .png()
      .toBuffer(),
    'dot.png',
  );
  assert.equal(tiny.status, 200, JSON.stringify(tiny.body));
  assert.equal(tiny.body.combined_text, '');

  // After all of that, the same server reads a good page.
  const good = await send(
    '/ocr/image',
    renderPage({ paragraphs: [['The server is still reading pages']], width: 900, height: 200 }).image,
    'good.png',
  );
  assert.equal(good.status, 200);
  assert.match(good.body.combined_text, /still reading pages/);
});

test('a PNG header claiming 65535x65535 gets its 413 at the upload, before any worker, even while the engines are busy', async () => {
  const requests = async () =>
    ((await (await fetch(`${base}/workers/status`)).json()) as { workers: { total_requests: number }[] }).workers.reduce(
      (n, w) => n + w.total_requests,
      0,
    );
  const before = await requests();
  // Small print in many lines: the detector reads it at full size and the recogniser has work.
  const page = renderPage({
    paragraphs: Array.from({ length: 12 }, (_, i) => [
      `Paragraph ${i + 1} of a page that keeps an engine busy for a while,`,
      'with a second line of ordinary text',
    ]),
    fontSize: 14,
    height: 1400,
  }).image;
  const answered: string[] = [];
  const busy = Array.from({ length: 4 }, (_, i) =>
    send('/ocr/image', page, `busy-${i}.png`).then((r) => answered.push(`busy ${r.status}`)),
  );
  await new Promise((r) => setTimeout(r, 200)); // the good pages are with the engines
  const huge = await send('/ocr/image', pngHeaderClaiming(65535, 65535), 'huge.png');
  answered.push(`huge ${huge.status}`);
  await Promise.all(busy);
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error.code, 'IMAGE_TOO_LARGE');
  expect(answered).toEqual(['huge 413', 'busy 200', 'busy 200', 'busy 200', 'busy 200']); // the refusal did not wait behind the pages being read
  assert.equal(await requests(), before + 4, 'the refused image never reached a worker');
});
