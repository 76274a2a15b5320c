/**
 * The outputs through the REST API of the one-process server: `output=` on POST /ocr/pdf, /jobs and
 * /ocr/image, `GET /jobs/:id/result?format=`, checked with pdftotext, pdftoppm, qpdf and an XML parser.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import type { JobProgress, JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { encryptWithQpdf, extractImages, pdfInfo, pdfToText, qpdfCheck, renderPages } from '../helpers/poppler.ts';
import { cer, ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';
import { allElements, parseXml } from '../helpers/xml.ts';

let server: ChildProcess & { output: string[] };
let base: string;
const tempDir = mkdtempSync(join(tmpdir(), 'ocr-outputs-test-'));
/** A scanned page read by OCR, then a page with its own text layer (text_layer=auto takes it). */
let mixed: Buffer;
/** The job of `mixed` submitted with output=pdf, and its JSON result. */
let job: JobProgress;
let result: JobResult;

const uploads = () => readdirSync(tempDir).filter((f) => f.endsWith('.upload'));
const spaced = (s: string) => s.split(/\s+/).filter(Boolean).join(' ');

function form(data: Uint8Array, filename: string, fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  body.append('file', new Blob([Buffer.from(data)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

async function request(method: string, path: string, body?: FormData): Promise<Response> {
  return fetch(`${base}${path}`, { method, body });
}

async function bytes(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

async function finished(id: string): Promise<JobProgress> {
  for (;;) {
    const progress = (await (await request('GET', `/jobs/${id}`)).json()) as JobProgress;
    if (progress.finished) return progress;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  ({ server, base } = await startServer({ TEMP_DIR: tempDir }));
  const scan = renderPage({ paragraphs: ENGLISH_PARAGRAPHS, width: 1200, height: 900, fontSize: 28 }).image;
  mixed = await buildPdf([{ png: scan }, { lines: ['A page with its own text layer', 'keeps that text and gets no second one.'] }]);
  const res = await request('POST', '/jobs', form(mixed, 'Quarterly report.pdf', { output: 'pdf', text_layer: 'auto' }));
  assert.equal(res.status, 202);
  job = (await res.json()) as JobProgress;
  assert.equal(job.output, 'pdf');
  await finished(job.job_id);
  result = (await (await request('GET', `/jobs/${job.job_id}/result?format=json`)).json()) as JobResult;
});
afterAll(() => stopProcess(server));

test("GET /jobs/:id/result of a job with output=pdf is the searchable PDF: pdftotext gives the JSON's text, pages render as before, qpdf passes", async () => {
  const res = await request('GET', `/jobs/${job.job_id}/result`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/pdf');
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename="Quarterly report.pdf"');
  const pdf = await bytes(res);
  expect(result.metrics.text_layer_pages).toEqual([2]);
  const [texts, originals] = await Promise.all([pdfToText(pdf, { raw: true }), pdfToText(mixed, { raw: true })]);
  const rate = cer(texts[0]!, result.results[0]!.text);
  assert.ok(rate < 0.005, `page 1: CER ${rate}: ${texts[0]}`);
  assert.equal(texts[1], originals[1], 'the text-layer page gets no second layer');
  const [before, after] = await Promise.all([renderPages(mixed, 50), renderPages(pdf, 50)]);
  assert.equal(after.length, 2);
  after.forEach((page, i) => assert.ok(page.equals(before[i]!), `page ${i + 1} renders differently`));
  assert.equal((await qpdfCheck(pdf)).code, 0);
  assert.ok(pdf.subarray(0, mixed.length).equals(mixed), 'the input comes first, byte for byte');
});

test('every format by ?format= has its media type and a file name after the upload; txt, md, hOCR and ALTO carry the JSON text', async () => {
  const expected = {
    json: ['application/json; charset=utf-8', 'inline; filename="Quarterly report.json"'],
    txt: ['text/plain; charset=utf-8', 'attachment; filename="Quarterly report.txt"'],
    md: ['text/markdown; charset=utf-8', 'attachment; filename="Quarterly report.md"'],
    hocr: ['application/xhtml+xml; charset=utf-8', 'attachment; filename="Quarterly report.hocr"'],
    alto: ['application/xml; charset=utf-8', 'attachment; filename="Quarterly report.xml"'],
    pdf: ['application/pdf', 'attachment; filename="Quarterly report.pdf"'],
  };
  const bodies: Record<string, string> = {};
  for (const [format, [type, disposition]] of Object.entries(expected)) {
    const res = await request('GET', `/jobs/${job.job_id}/result?format=${format}`);
    assert.equal(res.status, 200, format);
    expect([res.headers.get('content-type'), res.headers.get('content-disposition')]).toEqual([type, disposition]);
    bodies[format] = format === 'pdf' ? (await bytes(res)).subarray(0, 5).toString('latin1') : await res.text();
  }
  assert.equal(bodies.pdf, '%PDF-');
  expect(JSON.parse(bodies.json!).results).toEqual(result.results);
  assert.equal(bodies.txt, result.combined_text);
  assert.equal(bodies.md, result.combined_markdown);
  const words = result.results.flatMap((p) => p.lines.flatMap((l) => l.words.map((w) => w.text)));
  const hocrWords = allElements(parseXml(bodies.hocr!)).filter((e) => e.attributes.class === 'ocrx_word');
  const altoWords = allElements(parseXml(bodies.alto!)).filter((e) => e.name === 'String');
  expect(hocrWords.map((w) => w.text)).toEqual(words);
  expect(altoWords.map((w) => w.attributes.CONTENT)).toEqual(words);
  assert.equal(spaced(words.join(' ')), spaced(result.combined_text));
});

test('POST /ocr/pdf answers in its output format: txt, md, hOCR, ALTO and the PDF', async () => {
  const scan = await buildPdf([
    { png: renderPage({ paragraphs: [['Invoice 4471 for the spring order']], width: 900, height: 300 }).image },
  ]);
  const want = { txt: 'text/plain', md: 'text/markdown', hocr: 'application/xhtml+xml', alto: 'application/xml', pdf: 'application/pdf' };
  for (const [output, type] of Object.entries(want)) {
    const res = await request('POST', '/ocr/pdf', form(scan, 'invoice.pdf', { output }));
    assert.equal(res.status, 200, output);
    assert.ok(res.headers.get('content-type')!.startsWith(type), `${output}: ${res.headers.get('content-type')}`);
    const body = await bytes(res);
    const xml = () => allElements(parseXml(body.toString('utf8')));
    const text = {
      txt: () => body.toString('utf8'),
      md: () => body.toString('utf8'),
      hocr: () =>
        xml()
          .filter((e) => e.attributes.class === 'ocrx_word')
          .map((e) => e.text)
          .join(' '),
      alto: () =>
        xml()
          .filter((e) => e.name === 'String')
          .map((e) => e.attributes.CONTENT)
          .join(' '),
      pdf: async () => (await pdfToText(body))[0]!,
    }[output as keyof typeof want];
    assert.match(await text(), /Invoice 4471 for the spring order/, output);
  }
});

test('an image with output=pdf comes back as a one-page PDF of the image at its resolution, with its text', async () => {
  const { image } = renderPage({ paragraphs: [['Shipping resumed on 14 September']], width: 1000, height: 300 });
  const jpeg = await sharp(image).jpeg({ quality: 90 }).withMetadata({ density: 200 }).toBuffer();
  const res = await request('POST', '/ocr/image', form(jpeg, 'note.jpg', { output: 'pdf' }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename="note.pdf"');
  const pdf = await bytes(res);
  const info = await pdfInfo(pdf);
  assert.match(info, /Pages:\s+1\n/);
  assert.match(info, /Page size:\s+360 x 108 pts/, '1000 x 300 pixels at 200 dpi');
  const [shown] = await extractImages(pdf);
  expect(await sharp(shown).raw().toBuffer()).toEqual(await sharp(jpeg).raw().toBuffer()); // the JPEG as it was
  assert.match((await pdfToText(pdf))[0]!, /Shipping resumed on 14 September/);
  const hocr = await request('POST', '/ocr/image', form(jpeg, 'note.jpg', { output: 'hocr' }));
  assert.ok(allElements(parseXml(await hocr.text())).some((e) => e.attributes.class === 'ocrx_word' && e.text === 'Shipping'));
});

test('an encrypted PDF: refused without its password; with it, the searchable PDF comes out decrypted', async () => {
  const encrypted = await encryptWithQpdf(
    await buildPdf([{ png: renderPage({ paragraphs: [['Secret ledger page']], width: 800, height: 300 }).image }]),
    'reader',
    'owner',
  );
  const refused = await request('POST', '/ocr/pdf', form(encrypted, 'ledger.pdf', { output: 'pdf' }));
  assert.equal(refused.status, 422);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'PDF_ENCRYPTED');
  const res = await request('POST', '/ocr/pdf', form(encrypted, 'ledger.pdf', { output: 'pdf', password: 'reader' }));
  assert.equal(res.status, 200);
  const pdf = await bytes(res);
  assert.match(await pdfInfo(pdf), /Encrypted:\s+no/);
  assert.match((await pdfToText(pdf))[0]!, /Secret ledger page/);
});

test('PDF/A-2b on request (pdfa=true, or ?pdfa=true later); an input that cannot be PDF/A is refused with the reason', async () => {
  const scan = await buildPdf([{ png: renderPage({ paragraphs: [['An archive copy']], width: 800, height: 300 }).image }]);
  const res = await request('POST', '/ocr/pdf', form(scan, 'archive.pdf', { output: 'pdf', pdfa: 'true' }));
  assert.equal(res.status, 200);
  assert.match(await pdfInfo(await bytes(res), true), /pdfaid:part>2<|pdfaid:part="2"/);
  const later = await request('GET', `/jobs/${job.job_id}/result?format=pdf&pdfa=true`);
  assert.equal(later.status, 422, 'the text page uses Helvetica, not embedded');
  const body = (await later.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'PDFA_UNSUPPORTED');
  assert.match(body.error.message, /Helvetica is not embedded/);
});

test('bad formats get 422 INVALID_PARAMS naming the field, and leave no upload behind; an unfinished job is 409', async () => {
  const kept = uploads();
  const png = renderPage({ paragraphs: [['x']], width: 200, height: 100 }).image;
  const cases: [string, FormData | undefined, string][] = [
    ['/ocr/pdf', form(mixed, 'a.pdf', { output: 'docx' }), 'output must be one of json, txt, md, hocr, alto, pdf'],
    ['/jobs', form(mixed, 'a.pdf', { output: 'PDF' }), 'output must be one of json, txt, md, hocr, alto, pdf'],
    ['/jobs', form(mixed, 'a.pdf', { pdfa: 'yes' }), 'pdfa must be "true" or "false"'],
    ['/ocr/image', form(png, 'a.png', { output: 'tiff' }), 'output must be one of json, txt, md, hocr, alto, pdf'],
    [`/jobs/${job.job_id}/result?format=docx`, undefined, 'format must be one of json, txt, md, hocr, alto, pdf'],
  ];
  for (const [path, body, message] of cases) {
    const res = await request(body ? 'POST' : 'GET', path, body);
    assert.equal(res.status, 422, path);
    expect(((await res.json()) as { error: unknown }).error).toEqual({ code: 'INVALID_PARAMS', message });
  }
  expect(uploads()).toEqual(kept);
  const slow = await buildPdf(Array.from({ length: 6 }, () => ({ png: renderPage({ paragraphs: ENGLISH_PARAGRAPHS }).image })));
  const running = (await (await request('POST', '/jobs', form(slow, 'slow.pdf'))).json()) as JobProgress;
  const early = await request('GET', `/jobs/${running.job_id}/result?format=pdf`);
  assert.equal(early.status, 409);
  assert.equal(((await early.json()) as { error: { code: string } }).error.code, 'JOB_NOT_FINISHED');
  await request('DELETE', `/jobs/${running.job_id}`);
  await finished(running.job_id);
});

test('DELETE of a finished job removes it and its kept upload', async () => {
  const before = uploads().length;
  const res = await request('DELETE', `/jobs/${job.job_id}`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as JobProgress).status, 'success');
  assert.equal((await request('GET', `/jobs/${job.job_id}/result?format=pdf`)).status, 404);
  assert.equal(uploads().length, before - 1);
});
