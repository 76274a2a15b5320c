/** The OCR engine with the real PP-OCRv4 models on pages rendered in the test. */
import assert from 'node:assert/strict';
import { beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { OcrError } from '../../src/errors.ts';
import { defaultOcrConfig } from '../../src/ocr/config.ts';
import { OcrEngine } from '../../src/ocr/engine.ts';
import { cer, ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';

let engine: OcrEngine;
const MAX_PIXELS = 50_000_000;
const words = (s: string) => s.split(/\s+/).filter(Boolean);

beforeAll(async () => {
  engine = await OcrEngine.load(defaultOcrConfig());
});

test('English lines come back word for word, in order, single-spaced, with boxes and confidences', async () => {
  const { image, truth } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const page = await engine.recognizeImage(image, MAX_PIXELS);
  assert.ok(cer(page.text, truth) <= 0.01, `CER ${cer(page.text, truth)}: ${page.text}`);
  expect(words(page.text)).toEqual(words(truth));
  assert.doesNotMatch(page.text, / {2}/);
  assert.equal(page.text.split('\n\n').length, 2, 'two paragraphs');
  assert.equal(page.paragraphs.length, 2);
  assert.equal(page.lines.length, 4);
  for (const line of page.lines) {
    assert.ok(line.confidence > 0.8 && line.confidence <= 1);
    assert.equal(line.box.length, 4);
  }
  // The first line sits at the top-left margin of the 1200x900 page.
  const [tl] = page.lines[0]!.box;
  assert.ok(tl[0] > 30 && tl[0] < 90 && tl[1] > 30 && tl[1] < 90, `top-left ${JSON.stringify(tl)}`);
  assert.equal(page.rotation, 0);
  for (const key of ['decode_ms', 'det_ms', 'cls_ms', 'rec_ms', 'layout_ms', 'total_ms'] as const) assert.ok(page.timings[key] >= 0);
  assert.ok(page.timings.total_ms >= page.timings.det_ms + page.timings.rec_ms);
});

for (const turn of [180, 90, 270] as const) {
  test(`a page turned ${turn} degrees is read upright`, async () => {
    const { image, truth } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS, turn });
    const page = await engine.recognizeImage(image, MAX_PIXELS);
    assert.ok(cer(page.text, truth) <= 0.01, `CER ${cer(page.text, truth)}: ${page.text}`);
    assert.equal(page.rotation, (360 - turn) % 360);
    assert.equal(page.width, turn === 180 ? 1200 : 900);
  });
}

test('a single line turned upside down on an upright page is read the right way', async () => {
  const upright = renderPage({
    paragraphs: [['The first line stays upright.', 'So does the second one here.', 'And the third line as well.']],
  });
  const flipped = renderPage({ paragraphs: [['This line was printed upside down.']], width: 1200, height: 120, turn: 180 });
  const page = await sharp(upright.image)
    .composite([{ input: flipped.image, top: 500, left: 0 }])
    .png()
    .toBuffer();
  const result = await engine.recognizeImage(page, MAX_PIXELS);
  assert.match(result.text, /This line was printed upside down\./);
  assert.match(result.text, /^The first line stays upright\./);
});

test('on an upside-down page, the one line printed the other way is read too', async () => {
  const upright = renderPage({
    paragraphs: [['The first line stays upright.', 'So does the second one here.', 'And the third line as well.']],
  });
  const flipped = renderPage({ paragraphs: [['This line was printed upside down.']], width: 1200, height: 120, turn: 180 });
  const composed = await sharp(upright.image)
    .composite([{ input: flipped.image, top: 500, left: 0 }])
    .png()
    .toBuffer();
  const page = await sharp(composed).rotate(180).png().toBuffer();
  const result = await engine.recognizeImage(page, MAX_PIXELS);
  assert.equal(result.rotation, 180);
  assert.match(result.text, /^The first line stays upright\./);
  assert.match(result.text, /This line was printed upside down\./);
});

test('two columns are read left column first', async () => {
  const paragraphs = [
    ['Left column first paragraph', 'continues on this line.'],
    ['Left column second part', 'ends the left side.'],
    ['Right column begins here', 'and carries on below.'],
    ['The right column ends', 'with this final line.'],
  ];
  const { image, truth } = renderPage({ paragraphs, columns: 2, width: 1400, fontSize: 24 });
  const page = await engine.recognizeImage(image, MAX_PIXELS);
  expect(words(page.text)).toEqual(words(truth));
});

test('JPEG and WebP pages are read like PNG', async () => {
  for (const format of ['jpeg', 'webp'] as const) {
    const { image, truth } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS, format });
    const page = await engine.recognizeImage(image, MAX_PIXELS);
    assert.ok(cer(page.text, truth) <= 0.01, `${format}: ${page.text}`);
  }
});

test('a blank page gives empty text and no lines', async () => {
  const blank = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#ffffff' } })
    .png()
    .toBuffer();
  const page = await engine.recognizeImage(blank, MAX_PIXELS);
  assert.equal(page.text, '');
  expect(page.lines).toEqual([]);
  assert.equal(page.avg_confidence, 0);
});

test('undecodable and oversized images fail with their codes', async () => {
  const { image } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  await assert.rejects(
    engine.recognizeImage(image.subarray(0, 200), MAX_PIXELS),
    (e: unknown) => e instanceof OcrError && e.code === 'IMAGE_UNREADABLE',
  );
  await assert.rejects(engine.recognizeImage(image, 1000), (e: unknown) => e instanceof OcrError && e.code === 'IMAGE_TOO_LARGE');
  await assert.rejects(
    engine.recognizeImage(Buffer.from('GIF89a...'), MAX_PIXELS),
    (e: unknown) => e instanceof OcrError && (e.code === 'IMAGE_UNREADABLE' || e.code === 'UNSUPPORTED_MEDIA'),
  );
});
