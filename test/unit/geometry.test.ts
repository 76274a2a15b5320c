import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import {
  convexHull,
  deskewedBounds,
  medianSkew,
  minAreaRect,
  rectCorners,
  rotateQuad,
  type Point,
  type Quad,
} from '../../src/ocr/image/geometry.ts';

test('convex hull drops interior points', () => {
  const hull = convexHull([
    [0, 0],
    [4, 0],
    [4, 4],
    [0, 4],
    [2, 2],
    [1, 3],
  ]);
  assert.equal(hull.length, 4);
});

test('minimum-area rectangle of a rotated rectangle recovers its sides and angle', () => {
  const a = Math.PI / 9;
  const pts: Point[] = [];
  for (let u = 0; u <= 50; u += 5)
    for (let v = 0; v <= 10; v += 2) pts.push([u * Math.cos(a) - v * Math.sin(a), u * Math.sin(a) + v * Math.cos(a)]);
  const r = minAreaRect(pts);
  const [w, h] = r.width > r.height ? [r.width, r.height] : [r.height, r.width];
  assert.ok(Math.abs(w - 50) < 1e-6 && Math.abs(h - 10) < 1e-6);
  const [tl, tr] = rectCorners(r);
  assert.ok(Math.abs(Math.atan2(tr[1] - tl[1], tr[0] - tl[0]) - a) < 1e-6);
});

test('a quad turned four quarters comes back where it was', () => {
  const q: Quad = [
    [10, 20],
    [110, 20],
    [110, 50],
    [10, 50],
  ];
  let cur = q,
    w = 300,
    h = 200;
  for (let i = 0; i < 4; i++) {
    cur = rotateQuad(cur, 90, w, h);
    [w, h] = [h, w];
  }
  expect(cur).toEqual(q);
  expect(rotateQuad(q, 180, 300, 200)).toEqual([
    [190, 150],
    [290, 150],
    [290, 180],
    [190, 180],
  ]);
});

test('skew is measured on wide boxes and undone for bounds', () => {
  const a = 0.02;
  const line = (y: number): Quad => [
    [0, y],
    [1000 * Math.cos(a), y + 1000 * Math.sin(a)],
    [1000 * Math.cos(a) - 30 * Math.sin(a), y + 1000 * Math.sin(a) + 30 * Math.cos(a)],
    [-30 * Math.sin(a), y + 30 * Math.cos(a)],
  ];
  const quads = [line(0), line(50), line(100)];
  assert.ok(Math.abs(medianSkew(quads) - a) < 1e-9);
  const b = deskewedBounds(quads[1]!, a);
  assert.ok(Math.abs(b.y1 - b.y0 - 30) < 1e-6, 'deskewed height is the line height');
});
