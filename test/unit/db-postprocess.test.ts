import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { dbPostprocess, regionScore, textRegions, type DetectedBox, type ProbabilityMap } from '../../src/ocr/stages/det/db-postprocess.ts';
import { quadSize } from '../../src/ocr/image/geometry.ts';
import { DEFAULT_DET } from '../../src/ocr/config.ts';

/** The shipped settings with Paddle's box threshold, which the score tests below are written against. */
const params = { ...DEFAULT_DET, boxThresh: 0.6 };

function map(width: number, height: number, fill: (x: number, y: number) => number): ProbabilityMap {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = fill(x, y);
  return { data, width, height };
}

test('regions are 8-connected: a diagonal touch joins, a gap separates', () => {
  const m = map(10, 6, (x, y) => ((x === 1 && y === 1) || (x === 2 && y === 2) || (x === 7 && y === 4) ? 1 : 0));
  const regions = textRegions(m, 0.3);
  assert.equal(regions.length, 2);
  expect(regions.map((r) => r.length).sort()).toEqual([1, 2]);
});

test('two text bars give two boxes, grown by the unclip distance and scaled to the image', () => {
  // Bars 40x6 at (10,10) and (10,30) in a 64x48 map; the image is twice the size.
  const m = map(64, 48, (x, y) => (x >= 10 && x < 50 && ((y >= 10 && y < 16) || (y >= 30 && y < 36)) ? 0.9 : 0.05));
  const boxes = dbPostprocess(m, params, 128, 96).sort((a, b) => a.box[0][1] - b.box[0][1]);
  assert.equal(boxes.length, 2);
  // Pixel centres span 39x5; unclip grows each side by 39*5*1.5/(2*44) = 3.3.
  const { width, height } = quadSize(boxes[0]!.box);
  assert.ok(Math.abs(width - 2 * (39 + 6.65)) <= 2, `width ${width}`);
  assert.ok(Math.abs(height - 2 * (5 + 6.65)) <= 2, `height ${height}`);
  assert.ok(boxes[0]!.score > 0.85);
  const [tl, , br] = boxes[1]!.box;
  assert.ok(Math.abs(tl[0] - 2 * (10 - 3.3)) <= 2 && Math.abs(br[1] - 2 * (35 + 3.3)) <= 2);
});

test('a region whose mean probability is under box_thresh is dropped; specks under min_size too', () => {
  const m = map(64, 32, (x, y) => {
    if (x >= 5 && x < 40 && y >= 5 && y < 12) return 0.45; // above thresh, below box_thresh
    if (x >= 50 && x < 52 && y >= 20 && y < 22) return 1; // a 2x2 speck
    return 0;
  });
  expect(dbPostprocess(m, params, 64, 32)).toEqual([]);
});

test('a tilted bar gives a tilted box', () => {
  const m = map(80, 60, (x, y) => (Math.abs(y - (20 + 0.25 * x)) < 3 && x > 5 && x < 70 ? 1 : 0));
  const [box] = dbPostprocess(m, params, 80, 60);
  assert.ok(box);
  const angle = Math.atan2(box.box[1][1] - box.box[0][1], box.box[1][0] - box.box[0][0]);
  assert.ok(Math.abs(angle - Math.atan(0.25)) < 0.05, `angle ${angle}`);
});

test("a region's score is the mean probability over its outline, each row filled between its ends", () => {
  // An L: a bar 10 wide and 2 high at 0.9, with a hole of 0.1 in its top row, and a stem 2 wide going 6 rows down at 0.6.
  const m = map(12, 10, (x, y) => {
    if (y === 0 && x === 5) return 0.1;
    if (y < 2 && x < 10) return 0.9;
    if (y < 8 && x < 2) return 0.6;
    return 0;
  });
  const [region] = textRegions(m, 0.3);
  assert.ok(region);
  // Rows 0-1: 10 pixels each, the hole among them; rows 2-7: 2 pixels of 0.6.
  const expected = (9 * 0.9 + 0.1 + 10 * 0.9 + 6 * 2 * 0.6) / (2 * 10 + 6 * 2);
  assert.ok(Math.abs(regionScore(m, region) - expected) < 1e-6, `score ${regionScore(m, region)}`);
});

test('a line with stacked scripts in it keeps its box: its bounding rectangle is half paper, its outline is not', () => {
  // A line 6 high and 60 wide at 0.8, and at x 30-36 a super- and subscript stacked 5 rows above and below it
  // (-0.046 with +0.133 over -0.143, as on a real arXiv page that lost two such lines).
  const m = map(80, 40, (x, y) => {
    if (x >= 10 && x < 70 && y >= 17 && y < 23) return 0.8;
    if (x >= 30 && x < 36 && y >= 12 && y < 28) return 0.7;
    return 0.02;
  });
  const boxes = dbPostprocess(m, params, 80, 40);
  assert.equal(boxes.length, 1, JSON.stringify(boxes));
  assert.ok(boxes[0]!.score > params.boxThresh);
});

test('two lines joined by fainter text between them (a superscript touching the line above) come out as two boxes, each its line', () => {
  // Lines are 6-pixel bars; the page's other lines set the median line height. Rows 17-19 join the two
  // lines of the pair at a probability above thresh and below the first split threshold.
  const m = map(80, 90, (x, y) => {
    if (x < 10 || x >= 70) return 0.05;
    if ((y >= 10 && y < 17) || (y >= 20 && y < 27)) return 0.9;
    if (y >= 17 && y < 20 && x >= 30 && x < 36) return 0.4;
    if ((y >= 40 && y < 47) || (y >= 55 && y < 62) || (y >= 70 && y < 77)) return 0.9;
    return 0.05;
  });
  const boxes = dbPostprocess(m, params, 80, 90).sort((a, b) => a.box[0][1] - b.box[0][1]);
  expect(boxes.length).toBe(5);
  const heights = boxes.map((b) => Math.round(quadSize(b.box).height));
  // Each of the pair grown back over its own pixels (and its share of what joined them), not both lines.
  assert.ok(heights[0]! < 1.5 * heights[4]! && heights[1]! < 1.5 * heights[4]!, `heights ${heights.join(', ')}`);
  const middle = (k: number) => (boxes[k]!.box[0][1] + boxes[k]!.box[2][1]) / 2;
  assert.ok(middle(0) < 18 && middle(1) > 19, `the pair's middles at ${middle(0)} and ${middle(1)}: parted between rows 17 and 20`);
});

test("a left column's line joined over a narrow gutter to a right column's line set lower comes out as two boxes, cut at the gutter", () => {
  // Two 7-pixel lines: x 10-69 at rows 10-16 and x 72-130 at rows 14-20, touching across a 2-pixel
  // gutter (x 70-71) where a formula joins them at rows 12-18 as solidly as the lines are read; more
  // lines below set the line height.
  const m = map(140, 80, (x, y) => {
    if (x >= 10 && x < 70 && y >= 10 && y < 17) return 0.9;
    if (x >= 70 && x < 72 && y >= 12 && y < 19) return 0.9;
    if (x >= 72 && x < 131 && y >= 14 && y < 21) return 0.9;
    if (x >= 10 && x < 131 && ((y >= 35 && y < 42) || (y >= 50 && y < 57) || (y >= 65 && y < 72))) return 0.9;
    return 0.05;
  });
  const boxes = dbPostprocess(m, params, 140, 80).sort((a, b) => a.box[0][1] - b.box[0][1] || a.box[0][0] - b.box[0][0]);
  expect(boxes.length).toBe(5);
  const [left, right] = [boxes[0]!, boxes[1]!].sort((a, b) => a.box[0][0] - b.box[0][0]);
  const bounds = (q: DetectedBox) => ({ x0: Math.min(...q.box.map((p) => p[0])), x1: Math.max(...q.box.map((p) => p[0])) });
  assert.ok(
    bounds(left!).x1 < 78 && bounds(right!).x0 > 64,
    `left ${JSON.stringify(bounds(left!))}, right ${JSON.stringify(bounds(right!))}`,
  );
  assert.ok(quadSize(left!.box).height < 1.5 * quadSize(boxes[4]!.box).height, 'the left line no taller than a line');
});
