/** Word boxes: every word of a page read by the real engine, or taken from a PDF's text layer, lies where it was drawn. */
import assert from 'node:assert/strict';
import { beforeAll, expect, test } from '@jest/globals';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import sharp from 'sharp';
import type { Box, OcrLine } from '../../src/contracts.ts';
import { DEFAULT_LAYOUT, defaultOcrConfig } from '../../src/ocr/config.ts';
import { OcrEngine } from '../../src/ocr/engine.ts';
import { pointsBounds, quadSize } from '../../src/ocr/image/geometry.ts';
import { assemblePage } from '../../src/ocr/stages/layout/assemble.ts';
import { PdfDocument } from '../../src/pdf/rasterizer.ts';
import { ENGLISH_PARAGRAPHS, renderPage, type DrawnWord } from '../helpers/render.ts';

let engine: OcrEngine;
const MAX_PIXELS = 50_000_000;
/** How far, in pixels, a word's box may be from the ink of the word drawn. */
const TOLERANCE = 4;

beforeAll(async () => {
  engine = await OcrEngine.load(defaultOcrConfig());
});

function farthestEdge(a: Box, b: Box): number {
  const p = pointsBounds(a),
    q = pointsBounds(b);
  return Math.max(Math.abs(p.x0 - q.x0), Math.abs(p.x1 - q.x1), Math.abs(p.y0 - q.y0), Math.abs(p.y1 - q.y1));
}

/** Every word read is the word drawn at that place, within `tolerance` pixels on every side. */
function assertWordsWhereDrawn(lines: readonly OcrLine[], drawn: readonly DrawnWord[], tolerance: number): void {
  for (const line of lines) {
    assert.equal(line.words.map((w) => w.text).join(' '), line.text, 'the words make the line');
    for (const word of line.words) {
      assert.ok(word.box.flat().every(Number.isInteger), `whole pixels: ${JSON.stringify(word.box)}`);
      assert.ok(word.confidence > 0.5 && word.confidence <= 1, `${word.text} ${word.confidence}`);
    }
  }
  const read = lines.flatMap((l) => l.words);
  expect(read.map((w) => w.text).sort()).toEqual(drawn.map((w) => w.text).sort());
  for (const word of read) {
    const nearest = drawn
      .filter((d) => d.text === word.text)
      .reduce((best, d) => (farthestEdge(d.box, word.box) < farthestEdge(best.box, word.box) ? d : best));
    const off = farthestEdge(nearest.box, word.box);
    assert.ok(
      off <= tolerance,
      `"${word.text}" ${JSON.stringify(word.box)} is ${off.toFixed(1)} px from ${JSON.stringify(nearest.box.map((p) => p.map(Math.round)))}`,
    );
  }
}

// The third paragraph's line is about 1,300 pixels wide and 30 high: 2,000 columns at the recogniser's
// height, read in five pieces of at most 480 columns and rejoined.
const PARAGRAPHS = [
  ...ENGLISH_PARAGRAPHS,
  ['A much longer line that the recogniser has to read in several pieces, cut at word spaces, then rejoined on its timeline.'],
];

for (const turn of [0, 180, 90] as const) {
  test(`every word's box covers its ink within ${TOLERANCE} px on a page turned ${turn} degrees, a long line read in pieces included`, async () => {
    const { image, words } = renderPage({ paragraphs: PARAGRAPHS, turn, width: 1500, fontSize: 24 });
    const page = await engine.recognizeImage(image, MAX_PIXELS);
    const long = page.lines.find((l) => l.text.startsWith('A much longer'))!;
    const { width, height } = quadSize(long.box);
    assert.ok(Math.max(width, height) * (48 / Math.min(width, height)) > 4 * 480, 'the long line is read in pieces');
    assertWordsWhereDrawn(page.lines, words, TOLERANCE);
  });
}

test('the words of a line printed upside down on an upright page are boxed where they are', async () => {
  const upright = renderPage({ paragraphs: [['The first line stays upright.', 'So does the second one here.']] });
  const flipped = renderPage({ paragraphs: [['This line was printed upside down.']], width: 1200, height: 120, turn: 180 });
  const image = await sharp(upright.image)
    .composite([{ input: flipped.image, top: 500, left: 0 }])
    .png()
    .toBuffer();
  const page = await engine.recognizeImage(image, MAX_PIXELS);
  const shifted = flipped.words.map((w) => ({ ...w, box: w.box.map(([x, y]) => [x, y + 500]) as Box }));
  assertWordsWhereDrawn(page.lines, [...upright.words, ...shifted], TOLERANCE);
});

test("a PDF's own text layer gives word boxes in whole pixels at the page's dpi, where the words are drawn", async () => {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([612, 792]);
  const lines = ['The quick brown fox jumps over the lazy dog.', 'Wide WWW and narrow iii illicit 1,250.75 words'];
  const drawn: DrawnWord[] = [];
  const dpi = 144,
    scale = dpi / 72,
    size = 14;
  lines.forEach((line, i) => {
    const baseline = 72 + i * 22;
    page.drawText(line, { x: 54, y: 792 - baseline, size, font });
    for (const match of line.matchAll(/\S+/g)) {
      const x0 = (54 + font.widthOfTextAtSize(line.slice(0, match.index), size)) * scale;
      const x1 = x0 + font.widthOfTextAtSize(match[0], size) * scale;
      // The text layer's lines reach from the baseline up one font size (descenders are left out).
      const [y0, y1] = [(baseline - size) * scale, baseline * scale];
      drawn.push({
        text: match[0],
        box: [
          [x0, y0],
          [x1, y0],
          [x1, y1],
          [x0, y1],
        ],
      });
    }
  });
  const pdf = await PdfDocument.open(await doc.save());
  const layer = await pdf.textLayer(1, dpi);
  await pdf.close();
  // Glyph widths inside a run are measured in a like font, not Helvetica's own: a few pixels at 144 dpi.
  assertWordsWhereDrawn(assemblePage(layer.lines, DEFAULT_LAYOUT).lines, drawn, 5);
});
