import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { groupRows, layoutPage, type LayoutBox } from '../../src/ocr/stages/layout/layout.ts';

const box = (x0: number, y0: number, x1: number, y1: number): LayoutBox => ({ x0, y0, x1, y1 });
/** Line ids in reading order, paragraphs separated by '|'. */
const paragraphs = (boxes: LayoutBox[]) => layoutPage(boxes).regions.flatMap((r) => r.paragraphs);
const order = (boxes: LayoutBox[]) =>
  paragraphs(boxes)
    .map((p) => p.map((row) => row.join('+')).join(' '))
    .join(' | ');

test('a two-column page is read column by column, each column top to bottom', () => {
  const boxes: LayoutBox[] = [];
  // Left column lines 0-5, right column lines 6-11, on the same baselines; gutter 500-560.
  for (let i = 0; i < 6; i++) boxes.push(box(50, 100 + i * 40, 480 + (i % 2) * 15, 130 + i * 40));
  for (let i = 0; i < 6; i++) boxes.push(box(560, 100 + i * 40, 1000 - (i % 3) * 10, 130 + i * 40));
  assert.equal(order(boxes), '0 1 2 3 4 5 | 6 7 8 9 10 11');
});

test('a heading across the gutter comes first, a footnote across it last', () => {
  const boxes = [box(50, 20, 700, 60)];
  for (let i = 0; i < 5; i++) boxes.push(box(50, 100 + i * 40, 480, 130 + i * 40), box(560, 100 + i * 40, 1000, 130 + i * 40));
  boxes.push(box(50, 400, 1000, 430));
  const text = order(boxes);
  assert.match(text, /^0 \| 1 3 5 7 9 \| 2 4 6 8 10 \| 11$/);
});

test('a table is read row by row, its cells joined on each row', () => {
  const boxes: LayoutBox[] = [];
  const cols: [number, number][] = [
    [50, 90],
    [130, 420],
    [470, 560],
    [620, 660],
    [720, 800],
    [860, 960],
  ];
  for (let r = 0; r < 8; r++) for (const [x0, x1] of cols) boxes.push(box(x0 + (r % 2) * 5, 100 + r * 40, x1 - (r % 3) * 8, 128 + r * 40));
  const rows = paragraphs(boxes).flat();
  assert.equal(rows.length, 8);
  expect(rows[0]).toEqual([0, 1, 2, 3, 4, 5]);
  expect(rows[7]).toEqual([42, 43, 44, 45, 46, 47]);
});

test('justified lines split into word boxes still form two columns', () => {
  const boxes: LayoutBox[] = [];
  for (let i = 0; i < 6; i++) {
    const y = 100 + i * 40;
    // Left column justified: the detector cut it at wide word spaces (under a line height: wider ones
    // lined up over rows are a table's), at other places on every line.
    boxes.push(box(50, y, 150 + 30 * i, y + 30), box(175 + 30 * i, y, 300 + 20 * i, y + 30), box(325 + 20 * i, y, 480, y + 30));
    boxes.push(box(560, y, 1000, y + 30)); // right
  }
  const read = paragraphs(boxes);
  assert.equal(read.length, 2);
  assert.deepEqual(read[0]![0], [0, 1, 2]);
  assert.deepEqual(read[1]![0], [3]);
});

test('a wider gap between lines starts a paragraph', () => {
  const ys = [100, 140, 180, 250, 290];
  assert.equal(order(ys.map((y) => box(50, y, 900, y + 30))), '0 1 2 | 3 4');
});

test('boxes overlapping vertically by more than half their height share a row, left to right', () => {
  const rows = groupRows([box(300, 100, 400, 130), box(50, 105, 250, 133), box(50, 140, 400, 170)], [0, 1, 2]);
  expect(rows).toEqual([[1, 0], [2]]);
});

test('no boxes, no paragraphs', () => {
  assert.deepEqual(layoutPage([]).regions, []);
});

test('a line that pokes into the next column stays in its own column', () => {
  const boxes: LayoutBox[] = [];
  for (let i = 0; i < 6; i++)
    boxes.push(box(50, 100 + i * 40, i === 3 ? 575 : 480, 130 + i * 40), box(560, 100 + i * 40, 1000, 130 + i * 40));
  assert.equal(order(boxes), '0 2 4 6 8 10 | 1 3 5 7 9 11');
});
