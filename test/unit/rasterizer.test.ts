import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PDFDocument } from 'pdf-lib';
import sharp from 'sharp';
import { PdfDocument } from '../../src/pdf/rasterizer.ts';
import { renderPage } from '../helpers/render.ts';

/** A PDF of one page showing `png` at `dpi`, over the whole page or its top half. */
async function scanPdf(png: Buffer, dpi: number, coverage: 'page' | 'top half'): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const image = await doc.embedPng(png);
  const [w, h] = [(image.width * 72) / dpi, (image.height * 72) / dpi];
  const page = doc.addPage([w, coverage === 'page' ? h : 2 * h]);
  page.drawImage(image, { x: 0, y: coverage === 'page' ? 0 : h, width: w, height: h });
  return doc.save();
}

async function greyPixels(png: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).toColourspace('b-w').raw().toBuffer());
}

const scan = renderPage({ paragraphs: [['A scanned page is one image', 'that fills the whole page.']], width: 850, height: 1100 });

test('a page that is one scanned image is taken at its own pixels, not drawn again', async () => {
  const doc = await PdfDocument.open(await scanPdf(scan.image, 200, 'page'));
  // Asked for 180 dpi, near the scan's own 200: its own pixels, where drawing would give 765x990.
  const page = await doc.render(1, 180, 1e8);
  assert.equal(page.dpi, 200);
  assert.deepEqual([page.raster.width, page.raster.height], [850, 1100]);
  const expected = await greyPixels(scan.image);
  const worst = page.raster.data.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  assert.ok(worst <= 2, `largest difference ${worst}`);
  // Asked for a resolution far from the scan's own: drawn at the one asked for.
  const half = await doc.render(1, 100, 1e8);
  assert.deepEqual([half.dpi, half.raster.width, half.raster.height], [100, 425, 550]);
  await doc.close();
});

test('an image that does not fill its page is drawn with the rest of the page', async () => {
  const doc = await PdfDocument.open(await scanPdf(scan.image, 200, 'top half'));
  const page = await doc.render(1, 200, 1e8);
  assert.deepEqual([page.dpi, page.raster.width, page.raster.height], [200, 850, 2200]);
  const bottom = page.raster.data.subarray(850 * 1100);
  assert.ok(bottom.every((v) => v === 255), 'the lower half is blank paper');
  assert.ok(page.raster.data.subarray(0, 850 * 1100).some((v) => v < 100), 'the upper half has the text');
  await doc.close();
});
