import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { PDFDocument } from 'pdf-lib';
import sharp from 'sharp';
import { PdfDocument } from '../../src/pdf/rasterizer.ts';
import { ScanJpegs, singlePaint } from '../../src/pdf/scan-jpeg.ts';
import { renderPage } from '../helpers/render.ts';

/** A PDF of one page showing the PNG or JPEG `encoded` at `dpi`, over the whole page or its top half, with a caption or not. */
async function scanPdf(encoded: Buffer, dpi: number, coverage: 'page' | 'top half', caption?: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const image = encoded[0] === 0xff ? await doc.embedJpg(encoded) : await doc.embedPng(encoded);
  const [w, h] = [(image.width * 72) / dpi, (image.height * 72) / dpi];
  const page = doc.addPage([w, coverage === 'page' ? h : 2 * h]);
  page.drawImage(image, { x: 0, y: coverage === 'page' ? 0 : h, width: w, height: h });
  if (caption) page.drawText(caption, { x: 10, y: 10, size: 12 });
  return doc.save();
}

async function greyPixels(encoded: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(encoded).toColourspace('b-w').raw().toBuffer());
}

/** The first page's JPEG as ScanJpegs finds it, or undefined. */
async function firstPageJpeg(pdf: Uint8Array) {
  const doc = await PDFDocument.load(pdf);
  const ref = doc.getPage(0).ref;
  return (await ScanJpegs.load(pdf))!.pageJpeg({ num: ref.objectNumber, gen: ref.generationNumber });
}

const scan = renderPage({ paragraphs: [['A scanned page is one image', 'that fills the whole page.']], width: 850, height: 1100 });

test('a page that is one scanned image is taken at its own pixels, not drawn again', async () => {
  const doc = await PdfDocument.open(await scanPdf(scan.image, 200, 'page'));
  // Asked for 180 dpi, near the scan's own 200: its own pixels, where drawing would give 765x990.
  const page = await doc.render(1, 180, 1e8);
  assert.equal(page.dpi, 200);
  expect([page.raster.width, page.raster.height]).toEqual([850, 1100]);
  const expected = await greyPixels(scan.image);
  const worst = page.raster.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  assert.ok(worst <= 2, `largest difference ${worst}`);
  // Asked for a resolution far from the scan's own: drawn at the one asked for.
  const half = await doc.render(1, 100, 1e8);
  expect([half.dpi, half.raster.width, half.raster.height]).toEqual([100, 425, 550]);
  await doc.close();
});

test('an image that does not fill its page is drawn with the rest of the page', async () => {
  const doc = await PdfDocument.open(await scanPdf(scan.image, 200, 'top half'));
  const page = await doc.render(1, 200, 1e8);
  expect([page.dpi, page.raster.width, page.raster.height]).toEqual([200, 850, 2200]);
  const bottom = page.raster.data.subarray(850 * 1100);
  assert.ok(
    bottom.every((v) => v === 255),
    'the lower half is blank paper',
  );
  assert.ok(
    page.raster.data.subarray(0, 850 * 1100).some((v) => v < 100),
    'the upper half has the text',
  );
  await doc.close();
});

test('a page painting one image is recognised from its content stream, and nothing else is', () => {
  expect(singlePaint('q\n612 0 0 792 0 0 cm\n/Im0 Do\nQ\n')).toEqual({ name: 'Im0', ctm: [612, 0, 0, 792, 0, 0] });
  expect(singlePaint('q 1 0 0 1 10 20 cm 2 0 0 3 0 0 cm /X Do Q')).toEqual({ name: 'X', ctm: [2, 0, 0, 3, 10, 20] });
  assert.equal(singlePaint('q 612 0 0 792 0 0 cm /Im0 Do Q BT /F1 12 Tf (hidden text) Tj ET'), undefined, 'a text layer too');
  assert.equal(singlePaint('q 612 0 0 792 0 0 cm /Im0 Do /Im1 Do Q'), undefined, 'two images');
  assert.equal(singlePaint('q q 612 0 0 792 0 0 cm /Im0 Do Q Q'), undefined, 'nested states');
  assert.equal(singlePaint('q 0.5 g 0 0 612 792 re f Q'), undefined, 'a filled rectangle');
  assert.equal(singlePaint(''), undefined, 'an empty page');
});

test('a scanned page stored as a plain JPEG is decoded from its own bytes', async () => {
  const jpeg = await sharp(scan.image).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer();
  const pdf = await scanPdf(jpeg, 200, 'page');
  const found = await firstPageJpeg(pdf);
  assert.ok(found, 'the page is one JPEG');
  expect([found.width, found.height, found.components, Buffer.from(found.jpeg).equals(jpeg)]).toEqual([850, 1100, 1, true]);

  const doc = await PdfDocument.open(pdf);
  const page = await doc.render(1, 200, 1e8);
  expect([page.dpi, page.raster.width, page.raster.height]).toEqual([200, 850, 1100]);
  // libjpeg-turbo's pixels exactly (pdfjs's own decoder rounds differently, by 1 here and there).
  assert.ok(Buffer.from(page.raster.data).equals(await greyPixels(jpeg)));
  await doc.close();
});

test('a JPEG page with anything more on it, or a PNG page, goes through pdfjs', async () => {
  const jpeg = await sharp(scan.image).jpeg().toBuffer();
  assert.equal(await firstPageJpeg(await scanPdf(jpeg, 200, 'page', 'a caption')), undefined);
  assert.equal(await firstPageJpeg(await scanPdf(scan.image, 200, 'page')), undefined);
  // Found, but it covers half the page: drawn with the blank half.
  const doc = await PdfDocument.open(await scanPdf(jpeg, 200, 'top half'));
  const page = await doc.render(1, 200, 1e8);
  expect([page.raster.width, page.raster.height]).toEqual([850, 2200]);
  assert.ok(
    page.raster.data.subarray(850 * 1100).every((v) => v === 255),
    'the lower half is blank paper',
  );
  await doc.close();
});
