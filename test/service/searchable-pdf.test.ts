/**
 * The searchable PDF, hOCR and ALTO of PDFs read by the real engine, checked with real tools:
 * pdftotext, pdftoppm, pdfinfo and qpdf.
 */
import assert from 'node:assert/strict';
import { beforeAll, expect, test } from '@jest/globals';
import { degrees, PDFArray, PDFDict, PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';
import sharp from 'sharp';
import type { JobResult, PageResult } from '../../src/contracts.ts';
import { textLayerPageResult } from '../../src/jobs/page-result.ts';
import { buildJobResult } from '../../src/jobs/results.ts';
import { DEFAULT_LAYOUT, defaultOcrConfig } from '../../src/ocr/config.ts';
import { OcrEngine } from '../../src/ocr/engine.ts';
import { pointsBounds } from '../../src/ocr/image/geometry.ts';
import { writeOutput } from '../../src/outputs/index.ts';
import { writeImagePdf } from '../../src/outputs/pdf/image-pdf.ts';
import { pageList, parsePdf } from '../../src/outputs/pdf/read-pdf.ts';
import { writeSearchablePdf } from '../../src/outputs/pdf/searchable-pdf.ts';
import { PdfDocument } from '../../src/pdf/rasterizer.ts';
import { ocrPdf } from '../helpers/ocr-pdf.ts';
import { encryptWithQpdf, extractImages, pdfInfo, pdfToText, pdfWordBoxes, qpdfCheck, renderPages } from '../helpers/poppler.ts';
import { encryptedTextPagePdf, rawPdf, textPagePdf } from '../helpers/raw-pdf.ts';
import { cer, ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';
import { allElements, parseXml } from '../helpers/xml.ts';

const DPI = 144;
/** Pages of the mixed document read by OCR; the one after them has its own text layer. */
const OCR_PAGES = 4;
let engine: OcrEngine;
let scanJpeg: Buffer;
/** Five pages: a JPEG scan, a scan turned a quarter, a scan shown with /Rotate 90 inside a CropBox, a scan skewed 2 degrees, and vector text. */
let input: Uint8Array;
let result: JobResult;
let output: Uint8Array;

/** Adds a page showing a scan at 144 dpi. */
async function addScanPage(doc: PDFDocument, jpeg: Buffer, options: { rotate?: 90 | 270; crop?: boolean } = {}): Promise<void> {
  const image = await doc.embedJpg(jpeg);
  const page = doc.addPage([image.width / 2, image.height / 2]);
  page.drawImage(image, { x: 0, y: 0, width: page.getWidth(), height: page.getHeight() });
  if (options.rotate) page.setRotation(degrees(options.rotate));
  if (options.crop) page.setCropBox(20, 30, page.getWidth() - 40, page.getHeight() - 50);
}

const jpegOf = (png: Buffer) => sharp(png).jpeg({ quality: 85 }).toBuffer();

/** Page `n` of a PDF as the rasterizer reads a usable text layer (text_layer=auto). */
async function textLayerPage(pdf: Uint8Array, n: number): Promise<PageResult> {
  const doc = await PdfDocument.open(Uint8Array.from(pdf));
  const layer = await doc.textLayer(n, DPI);
  await doc.close();
  return textLayerPageResult(n, layer, DEFAULT_LAYOUT, DPI, 1, 'test');
}

beforeAll(async () => {
  engine = await OcrEngine.load(defaultOcrConfig());
  scanJpeg = await jpegOf(renderPage({ paragraphs: ENGLISH_PARAGRAPHS, width: 1200, height: 1000, fontSize: 26 }).image);
  const doc = await PDFDocument.create();
  await addScanPage(doc, scanJpeg);
  await addScanPage(
    doc,
    await jpegOf(renderPage({ paragraphs: ENGLISH_PARAGRAPHS, width: 1200, height: 900, fontSize: 26, turn: 90 }).image),
  );
  await addScanPage(doc, await jpegOf(renderPage({ paragraphs: ENGLISH_PARAGRAPHS, width: 1200, height: 900, fontSize: 26 }).image), {
    rotate: 90,
    crop: true,
  });
  const level = renderPage({
    paragraphs: [...ENGLISH_PARAGRAPHS, ['A longer line that runs across most of the page, skewed like the rest.']],
    width: 1400,
    height: 900,
    fontSize: 26,
  });
  await addScanPage(doc, await sharp(level.image).rotate(2, { background: '#ffffff' }).jpeg({ quality: 85 }).toBuffer());
  const font = await doc.embedFont('Helvetica');
  const vector = doc.addPage([612, 792]);
  ['A page with its own text layer', 'keeps that text and gets no second one.'].forEach((text, i) =>
    vector.drawText(text, { x: 54, y: 700 - 22 * i, size: 14, font }),
  );
  input = await doc.save({ useObjectStreams: false });
  const read = await ocrPdf(engine, input, DPI);
  const pages = [...read.results.slice(0, OCR_PAGES), await textLayerPage(input, OCR_PAGES + 1)];
  result = buildJobResult(
    { job_id: 'j', filename: 'mixed.pdf', file_size_bytes: input.length, total_pages: OCR_PAGES + 1, start: new Date(0), end: new Date(1) },
    pages,
    [],
  );
  output = await writeSearchablePdf(input, result);
});

test('the layer is an update appended to the untouched original, and qpdf finds nothing wrong', async () => {
  assert.ok(Buffer.from(output.subarray(0, input.length)).equals(Buffer.from(input)), 'the original bytes come first, unchanged');
  const check = await qpdfCheck(output);
  assert.equal(check.code, 0, check.output);
  assert.match(check.output, /No syntax or stream encoding errors/);
  assert.match(await pdfInfo(output), /Producer:\s+ocr-cluster/);
});

test('every page renders pixel for pixel as the input does', async () => {
  const [before, after] = await Promise.all([renderPages(input, 60), renderPages(output, 60)]);
  assert.equal(after.length, OCR_PAGES + 1);
  after.forEach((page, i) => assert.ok(page.equals(before[i]!), `page ${i + 1} differs`));
});

test("the scan's image stream is the input's JPEG, byte for byte", async () => {
  const { context } = await parsePdf(output, undefined);
  const page = pageList(context)[0]!.dict;
  const resources = page.lookup(PDFName.of('Resources')) as PDFDict;
  const xobjects = resources.lookup(PDFName.of('XObject')) as PDFDict;
  const image = xobjects.lookup(xobjects.keys()[0]!) as PDFRawStream;
  assert.ok(Buffer.from(image.contents).equals(scanJpeg));
});

test("pdftotext gives each OCR page's text, turned, rotated or skewed pages too, and a text-layer page its own text once", async () => {
  // In content-stream order (-raw): the layer's order is the OCR's reading order, which pdftotext's
  // own column finding may not agree with on multi-column pages.
  const [texts, originals] = await Promise.all([pdfToText(output, { raw: true }), pdfToText(input, { raw: true })]);
  for (let p = 0; p < OCR_PAGES; p++) {
    const rate = cer(texts[p]!, result.results[p]!.text);
    assert.ok(rate < 0.005, `page ${p + 1}: CER ${rate}: ${texts[p]}`);
  }
  assert.equal(texts[OCR_PAGES], originals[OCR_PAGES], 'the text-layer page is left alone');
});

test('pdfjs reads the layer back as the text layer of each page, line for line (text_layer=auto takes it)', async () => {
  for (let p = 0; p < OCR_PAGES; p++) {
    const page = await textLayerPage(output, p + 1);
    const ocr = result.results[p]!;
    expect({ page: p + 1, lines: page.lines.map((l) => l.text).sort() }).toEqual({
      page: p + 1,
      lines: ocr.lines.map((l) => l.text).sort(),
    });
  }
});

test("pdftotext's word boxes lie within 2 % of the page width of the OCR's word boxes", async () => {
  const pages = await pdfWordBoxes(output);
  result.results.slice(0, OCR_PAGES).forEach((page, p) => {
    const shown = pages[p]!;
    // Points per pixel; the page size pdftotext gives is before /Rotate.
    const scale = Math.max(shown.width, shown.height) / Math.max(page.width, page.height);
    const tolerance = 0.02 * Math.min(shown.width, shown.height);
    const found = shown.words;
    for (const word of page.lines.flatMap((l) => l.words)) {
      const b = pointsBounds(word.box);
      const off = Math.min(
        ...found
          .filter((w) => w.text === word.text)
          .map((w) =>
            Math.max(
              Math.abs(w.x0 - b.x0 * scale),
              Math.abs(w.x1 - b.x1 * scale),
              Math.abs(w.y0 - b.y0 * scale),
              Math.abs(w.y1 - b.y1 * scale),
            ),
          ),
      );
      assert.ok(off <= tolerance, `page ${p + 1} "${word.text}": ${off} pt`);
    }
  });
});

test('hOCR and ALTO of the job parse as XML and carry every word with its box; their words are the JSON text', async () => {
  const hocr = allElements(parseXml((await writeOutput('hocr', { result })) as string));
  const alto = allElements(parseXml((await writeOutput('alto', { result })) as string));
  const json = result.results.flatMap((p) => p.lines.flatMap((l) => l.words));
  const spans = hocr.filter((e) => e.attributes.class === 'ocrx_word');
  const strings = alto.filter((e) => e.name === 'String');
  expect(spans.map((s) => s.text)).toEqual(json.map((w) => w.text));
  expect(strings.map((s) => s.attributes.CONTENT)).toEqual(json.map((w) => w.text));
  json.forEach((word, i) => {
    const b = pointsBounds(word.box);
    assert.match(spans[i]!.attributes.title!, new RegExp(`^bbox ${b.x0} ${b.y0} ${b.x1} ${b.y1};`));
    expect(['HPOS', 'VPOS', 'WIDTH', 'HEIGHT'].map((k) => Number(strings[i]!.attributes[k]))).toEqual([
      b.x0,
      b.y0,
      b.x1 - b.x0,
      b.y1 - b.y0,
    ]);
  });
  const spaced = (s: string) => s.split(/\s+/).filter(Boolean).join(' ');
  assert.equal(spaced(json.map((w) => w.text).join(' ')), spaced(result.results.map((p) => p.text).join(' ')));
});

test('a Chinese page round-trips through pdftotext', async () => {
  const page = renderPage({
    paragraphs: [['中文识别测试的结果', '第二行文字在这里'], ['最后一段只有一行']],
    width: 900,
    height: 500,
    fontSize: 36,
    font: 'cjk',
  });
  const doc = await PDFDocument.create();
  await addScanPage(doc, await jpegOf(page.image));
  const pdf = await doc.save();
  const read = await ocrPdf(engine, pdf, DPI);
  assert.ok(cer(read.combined_text, page.truth) < 0.1, read.combined_text);
  const [text] = await pdfToText(await writeSearchablePdf(pdf, read));
  assert.equal(text!.replace(/\s+/g, ''), read.results[0]!.text.replace(/\s+/g, ''));
});

test('an encrypted input is refused without its password and written decrypted with it, the scan still byte for byte', async () => {
  const encrypted = await encryptWithQpdf(input, 'reader', 'owner');
  await assert.rejects(writeSearchablePdf(encrypted, result), { code: 'PDF_ENCRYPTED' });
  await assert.rejects(writeSearchablePdf(encrypted, result, { password: 'wrong' }), { code: 'PDF_ENCRYPTED' });
  for (const password of ['reader', 'owner']) {
    const out = await writeSearchablePdf(encrypted, result, { password });
    assert.match(await pdfInfo(out), /Encrypted:\s+no/);
    assert.equal((await qpdfCheck(out)).code, 0);
    const texts = await pdfToText(out);
    assert.ok(cer(texts[0]!, result.results[0]!.text) < 0.005, texts[0]);
    const { context } = await parsePdf(out, undefined);
    const images = [...context.enumerateIndirectObjects()]
      .map(([, o]) => o)
      .filter((o) => o instanceof PDFRawStream && o.dict.get(PDFName.of('Subtype')) === PDFName.of('Image'));
    assert.ok(images.some((o) => Buffer.from((o as PDFRawStream).contents).equals(scanJpeg)));
    const [before, after] = await Promise.all([renderPages(input, 40), renderPages(out, 40)]);
    after.forEach((p, i) => assert.ok(p.equals(before[i]!), `page ${i + 1} differs`));
  }
  // 40-bit RC4 (revision 2): nothing read by OCR, the page's own text now readable without a password.
  const none = buildJobResult(
    { job_id: 'e', filename: 'e.pdf', file_size_bytes: 1, total_pages: 1, start: new Date(0), end: new Date(1) },
    [],
    [],
  );
  const clear = await writeSearchablePdf(encryptedTextPagePdf('Secret ledger page', 'pw'), none, { password: 'pw' });
  assert.equal((await qpdfCheck(clear)).code, 0);
  const [text] = await pdfToText(clear);
  assert.equal(text!.trim(), 'Secret ledger page');
});

test('PDF/A-2b: XMP metadata that matches the document information and an sRGB output intent; an input with a font not embedded is refused with the reason', async () => {
  const doc = await PDFDocument.create();
  await addScanPage(doc, scanJpeg);
  const scan = await doc.save();
  const read = await ocrPdf(engine, scan, DPI);
  const out = await writeSearchablePdf(scan, read, { pdfa: true, now: new Date('2025-03-04T05:06:07Z') });
  assert.equal((await qpdfCheck(out)).code, 0);
  assert.match(await pdfInfo(out), /ModDate:\s+Tue Mar {2}4 05:06:07 2025 UTC/);
  const meta = await pdfInfo(out, true);
  const xmp = allElements(parseXml(meta.slice(meta.indexOf('<x:xmpmeta'), meta.indexOf('</x:xmpmeta>') + 12)));
  const value = (name: string) => xmp.find((e) => e.name === name)?.text;
  expect([value('pdfaid:part'), value('pdfaid:conformance'), value('xmp:ModifyDate')]).toEqual(['2', 'B', '2025-03-04T05:06:07Z']);
  assert.match(value('pdf:Producer')!, /^ocr-cluster /);
  const { context } = await parsePdf(out, undefined);
  const catalog = context.lookup(context.trailerInfo.Root) as PDFDict;
  const intent = catalog.lookup(PDFName.of('OutputIntents'), PDFArray).lookup(0, PDFDict);
  assert.equal(intent.get(PDFName.of('S')), PDFName.of('GTS_PDFA1'));
  assert.ok(intent.lookup(PDFName.of('DestOutputProfile')) instanceof PDFRawStream);
  await assert.rejects(
    writeSearchablePdf(input, result, { pdfa: true }),
    (e: { code: string; message: string }) => e.code === 'PDFA_UNSUPPORTED' && /Helvetica is not embedded/.test(e.message),
  );
});

test('a PDF with broken cross-references is written anew: qpdf passes it, pages render as before', async () => {
  const valid = textPagePdf('Broken offsets inside', [600, 200]);
  const broken = rawPdf(
    [
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 200] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
      Buffer.concat([
        Buffer.from('<< /Length 56 >>\nstream\n'),
        Buffer.from('BT /F1 36 Tf 40 88 Td (Broken offsets inside) Tj ET    '),
        Buffer.from('\nendstream'),
      ]),
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ],
    { xrefShift: 7 },
  );
  const read = await ocrPdf(engine, broken, DPI);
  assert.match(read.combined_text, /Broken offsets inside/);
  const out = await writeSearchablePdf(broken, read);
  assert.ok(!Buffer.from(out.subarray(0, broken.length)).equals(broken), 'not appended to a broken file');
  assert.equal((await qpdfCheck(out)).code, 0);
  const [before, after] = await Promise.all([renderPages(valid, 60), renderPages(out, 60)]);
  assert.ok(after[0]!.equals(before[0]!));
  // A sound file with nothing read gets only its document information updated.
  const none = buildJobResult(
    { job_id: 'n', filename: 'n.pdf', file_size_bytes: 1, total_pages: 1, start: new Date(0), end: new Date(1) },
    [],
    [],
  );
  const untouched = await writeSearchablePdf(valid, none);
  assert.ok(Buffer.from(untouched.subarray(0, valid.length)).equals(valid));
  const check = await qpdfCheck(untouched);
  assert.equal(check.code, 0, check.output);
});

test('a one-page PDF of an image: a JPEG goes in as it is, at the resolution it states; a PNG losslessly', async () => {
  const { image: png } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS, width: 1000, height: 700, fontSize: 24 });
  const jpeg = await sharp(png).jpeg({ quality: 90 }).withMetadata({ density: 200 }).toBuffer();
  const page = await engine.recognizeImage(jpeg, 50_000_000);
  const one = (p: typeof page) =>
    buildJobResult(
      { job_id: 'i', filename: 'a.jpg', file_size_bytes: 1, total_pages: 1, start: new Date(0), end: new Date(1) },
      [{ ...p, page_number: 1, worker: 't', source: 'ocr' }],
      [],
    );
  const fromJpeg = (await writeOutput('pdf', { result: one(page), input: jpeg })) as Uint8Array;
  assert.equal((await qpdfCheck(fromJpeg)).code, 0);
  assert.match(await pdfInfo(fromJpeg), /Page size:\s+360 x 252 pts/, '1000 x 700 pixels at 200 dpi');
  const { context } = await parsePdf(fromJpeg, undefined);
  const images = [...context.enumerateIndirectObjects()]
    .map(([, o]) => o)
    .filter((o) => o instanceof PDFRawStream && o.dict.get(PDFName.of('Subtype')) === PDFName.of('Image'));
  assert.ok(Buffer.from((images[0] as PDFRawStream).contents).equals(jpeg));
  const [text] = await pdfToText(fromJpeg);
  assert.ok(cer(text!, page.text) < 0.005, text);

  const stated = await sharp(png).withMetadata({ density: 96 }).png().toBuffer();
  const fromPng = await writeImagePdf(stated, { ...page, page_number: 1, worker: 't', source: 'ocr' });
  assert.equal((await qpdfCheck(fromPng)).code, 0);
  assert.match(await pdfInfo(fromPng), /Page size:\s+750 x 525 pts/, '1000 x 700 pixels at 96 dpi');
  const [extracted] = await extractImages(fromPng);
  const pixels = (image: Buffer) => sharp(image).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer();
  assert.ok((await pixels(extracted!)).equals(await pixels(png)), 'the PNG, pixel for pixel');
  const [pngText] = await pdfToText(fromPng);
  assert.ok(cer(pngText!, page.text) < 0.005, pngText);
});
