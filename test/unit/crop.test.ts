import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { cropLine, flipLine, greyPage, splitLineAtGaps, type GreyRaster } from '../../src/ocr/image/crop.ts';
import type { Quad } from '../../src/ocr/image/geometry.ts';
import type { Raster } from '../../src/ocr/image/raster.ts';

function page(width: number, height: number, ink: (x: number, y: number) => boolean): GreyRaster {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = ink(x, y) ? 0 : 255;
  return { data, width, height, channels: 1 };
}

test('a box is cut out at 48 rows, its width following its aspect', () => {
  const src = page(400, 100, (x, y) => x >= 90 && x < 310 && y >= 30 && y < 70);
  const line = cropLine(
    src,
    [
      [100, 40],
      [300, 40],
      [300, 60],
      [100, 60],
    ],
    48,
  );
  assert.equal(line.height, 48);
  assert.equal(line.width, 480);
  assert.ok(
    line.data.every((v) => v < 10),
    'all ink',
  );
  assert.equal(
    cropLine(
      src,
      [
        [100, 40],
        [300, 40],
        [300, 60],
        [100, 60],
      ],
      48,
      0.5,
    ).width,
    240,
  );
});

test('a box taller than wide is read turned a quarter', () => {
  const src = page(100, 400, (_x, y) => y < 200);
  const line = cropLine(
    src,
    [
      [40, 100],
      [60, 100],
      [60, 300],
      [40, 300],
    ],
    48,
  );
  assert.equal(line.width, 480);
  // Turned counter-clockwise: the top of the box (ink) ends on the left.
  assert.ok(line.data[24 * line.width + 10]! < 10 && line.data[24 * line.width + 470]! > 245);
});

test('a line is cut at a blank run at least the given width, keeping a margin', () => {
  // Ink 0-100 and 200-300 in a 300-wide, 48-high line: the 100-column gap splits it.
  const image = { data: new Uint8Array(300 * 48).fill(255), width: 300, height: 48 };
  for (let y = 0; y < 48; y++) for (let x = 0; x < 300; x++) if (x < 100 || x >= 200) image.data[y * 300 + x] = 0;
  const pieces = splitLineAtGaps(
    image,
    [
      [0, 0],
      [600, 0],
      [600, 96],
      [0, 96],
    ],
    48,
    7,
  );
  assert.equal(pieces.length, 2);
  expect(pieces.map((p) => p.image.width)).toEqual([107, 107]);
  assert.ok(Math.abs(pieces[1]!.box[0][0] - 2 * 193) < 1e-9);
  assert.equal(
    splitLineAtGaps(
      image,
      [
        [0, 0],
        [600, 0],
        [600, 96],
        [0, 96],
      ],
      144,
      7,
    ).length,
    1,
  );
});

test('a speck in a gutter does not bridge it, but a letter does', () => {
  // Ink 0-100 and 200-300, and between them a 6x6 speck, then a letter-sized mark.
  const line = (markHeight: number) => {
    const image = { data: new Uint8Array(300 * 48).fill(255), width: 300, height: 48 };
    for (let y = 0; y < 48; y++) for (let x = 0; x < 300; x++) if (x < 100 || x >= 200) image.data[y * 300 + x] = 0;
    for (let y = 20; y < 20 + markHeight; y++) for (let x = 147; x < 153; x++) image.data[y * 300 + x] = 0;
    return image;
  };
  const box: Quad = [
    [0, 0],
    [600, 0],
    [600, 96],
    [0, 96],
  ];
  expect(splitLineAtGaps(line(6), box, 48, 7).map((p) => p.image.width)).toEqual([107, 107]);
  assert.equal(splitLineAtGaps(line(24), box, 48, 7).length, 1);
});

test('a colour page is cut from its luma', () => {
  const colour: Raster = { data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]), width: 4, height: 1, channels: 3 };
  expect([...greyPage(colour).data]).toEqual([77, 149, 29, 255]);
  const grey = page(2, 2, () => true);
  assert.equal(greyPage(grey), grey);
});

test('flipping a line twice gives it back', () => {
  const l = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), width: 3, height: 2 };
  expect([...flipLine(l).data]).toEqual([6, 5, 4, 3, 2, 1]);
  expect(flipLine(flipLine(l)).data).toEqual(l.data);
});
