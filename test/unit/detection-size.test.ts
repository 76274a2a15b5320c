/** The detector's input size chosen from the page: large print is detected smaller, body text at the full limit. */
import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import sharp from 'sharp';
import { DEFAULT_DET } from '../../src/ocr/config.ts';
import { decodeImage } from '../../src/ocr/image/raster.ts';
import { detectionPage, textLineHeight } from '../../src/ocr/stages/det/det.ts';
import { ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';

/** A letter page at 200 dpi (1700 x 2200) with text `fontSize` pixels high. */
const letterPage = (fontSize: number) =>
  decodeImage(renderPage({ paragraphs: [...ENGLISH_PARAGRAPHS, ...ENGLISH_PARAGRAPHS], width: 1700, height: 2200, fontSize }).image, 1e8);

test('body text (10.5 points at 200 dpi) is detected with the long side at the limit, 1280', async () => {
  const page = await letterPage(29);
  const scaled = await detectionPage(page, DEFAULT_DET);
  expect([scaled.width, scaled.height]).toEqual([992, 1280]);
  assert.ok(textLineHeight(scaled)! <= DEFAULT_DET.linePixels);
});

test('large print is detected smaller, its lines still linePixels high, and never under minSideLen', async () => {
  const page = await letterPage(58);
  const scaled = await detectionPage(page, DEFAULT_DET);
  assert.ok(scaled.height < 1280 && scaled.height >= DEFAULT_DET.minSideLen, `${scaled.width} x ${scaled.height}`);
  const height = textLineHeight(scaled)!;
  assert.ok(Math.abs(height - DEFAULT_DET.linePixels) <= 2, `lines ${height} pixels high`);
  const poster = await detectionPage(await letterPage(160), DEFAULT_DET);
  assert.equal(Math.max(poster.width, poster.height), DEFAULT_DET.minSideLen);
});

test('a blank page has no line height and keeps the limit', async () => {
  const blank = await decodeImage(
    await sharp({ create: { width: 1700, height: 2200, channels: 3, background: '#fff' } })
      .png()
      .toBuffer(),
    1e8,
  );
  assert.equal(textLineHeight(blank), undefined);
  expect([(await detectionPage(blank, DEFAULT_DET)).height]).toEqual([1280]);
});

test('a larger limit asks for proportionally more: large print under OCR_DET_LIMIT_SIDE=2560 is detected twice as large', async () => {
  const page = await letterPage(58);
  const atDefault = await detectionPage(page, DEFAULT_DET);
  const atDouble = await detectionPage(page, { ...DEFAULT_DET, limitSideLen: 2560 });
  assert.ok(Math.abs(atDouble.height / atDefault.height - 2) < 0.1, `${atDefault.height} and ${atDouble.height}`);
});
