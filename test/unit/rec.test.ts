import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { packLines, wholeLine } from '../../src/ocr/image/line-tensor.ts';
import { pieceRanges, widthBatches } from '../../src/ocr/stages/rec/rec.ts';

/** A 48-high line of ink blocks ("words") separated by blank runs of the given widths. */
function line(words: number[], spaces: number[]) {
  const width = words.reduce((a, b) => a + b, 0) + spaces.reduce((a, b) => a + b, 0);
  const data = new Uint8Array(width * 48).fill(255);
  let x = 0;
  words.forEach((w, i) => {
    for (let y = 10; y < 38; y++) data.fill(0, y * width + x, y * width + x + w);
    x += w + (spaces[i] ?? 0);
  });
  return { data, width, height: 48 };
}

test('a long line is cut in the middle of the word spaces nearest to equal shares', () => {
  // Ten 90-column words with 14-column spaces: 1026 columns, cut in three near 342 and 684.
  const image = line(Array(10).fill(90), Array(9).fill(14));
  const ranges = pieceRanges(image, 480);
  expect(ranges).toEqual([
    [0, 305],
    [305, 721],
    [721, 1026],
  ]);
  assert.ok(ranges.every(([a, b]) => b - a <= 480));
});

test('a line is read whole when it is narrow enough or has no word space to cut at', () => {
  expect(pieceRanges(line([200, 200], [14]), 480)).toEqual([[0, 414]]);
  // Letter gaps (4 columns at this height) are never cut.
  expect(pieceRanges(line(Array(12).fill(60), Array(11).fill(4)), 480)).toEqual([[0, 764]]);
});

test('near an equal share the widest blank run is cut, not a letter gap that is barely wide enough', () => {
  // A 10-column gap (two l's in a tightly boxed line) right at the middle, 24-column word spaces 57 columns off.
  expect(pieceRanges(line([300, 40, 40, 300], [24, 10, 24]), 480)).toEqual([
    [0, 312],
    [312, 738],
  ]);
});

test('a trailing full stop after a wide space is not cut off on its own', () => {
  const ranges = pieceRanges(line([300, 300, 8], [14, 14]), 480);
  assert.equal(ranges.length, 2);
  assert.ok(ranges.at(-1)![1] - ranges.at(-1)![0] > 100, JSON.stringify(ranges));
});

test('lines are batched narrowest first within the column budget and width spread', () => {
  expect(widthBatches([100, 400, 110, 120, 390], { batchColumns: 1000, batchWidthSpread: 1.25 })).toEqual([
    [0, 2, 3],
    [4, 1],
  ]);
});

test('a batch packed into a buffer that held an earlier batch is the batch packed afresh: the padding is written too', () => {
  const lines = [line([30, 40], [10]), line([20], [])].map(wholeLine);
  for (const channels of [1, 3] as const) {
    const fresh = packLines(lines, 48, 96, channels);
    const reused = packLines(lines, 48, 96, channels, new Float32Array(fresh.length).fill(Number.NaN));
    expect(reused).toEqual(fresh);
    assert.equal(fresh.length, 2 * channels * 48 * 96);
    assert.equal(fresh[(2 * channels - 1) * 48 * 96 - 1], 0, 'the padding right of the narrower line');
  }
});

test('three packed channels are the one grey channel three times over', () => {
  const lines = [line([30, 40], [10]), line([20], [])].map(wholeLine);
  const grey = packLines(lines, 48, 96, 1);
  const rgb = packLines(lines, 48, 96, 3);
  const plane = 48 * 96;
  for (let n = 0; n < 2; n++)
    for (let c = 0; c < 3; c++)
      expect(rgb.subarray((n * 3 + c) * plane, (n * 3 + c + 1) * plane)).toEqual(grey.subarray(n * plane, (n + 1) * plane));
});

test("a piece of a line is packed from the line's own pixels, as the piece cut out would be", () => {
  const whole = line([30, 12, 40], [10, 6]);
  const [x0, x1] = [40, 98];
  const cut = { data: new Uint8Array(48 * (x1 - x0)), width: x1 - x0, height: 48 };
  for (let y = 0; y < 48; y++) cut.data.set(whole.data.subarray(y * whole.width + x0, y * whole.width + x1), y * cut.width);
  expect(packLines([{ image: whole, x0, width: x1 - x0 }], 48, 64, 3)).toEqual(packLines([wholeLine(cut)], 48, 64, 3));
});
