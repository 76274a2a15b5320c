/** Plane geometry for text boxes: convex hull, minimum-area rectangle, quad helpers. */

import type { Box, Point } from '../../contracts.ts';

export type { Point };
/** Four corners in order top-left, top-right, bottom-right, bottom-left (reading direction). */
export type Quad = Box;

/** The point a share `t` of the way from `a` to `b`. */
export const lerp = (a: Point, b: Point, t: number): Point => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];

/** A rotated rectangle: centre, side lengths and the angle (radians) of the `width` side. */
export interface RotatedRect {
  cx: number;
  cy: number;
  width: number;
  height: number;
  angle: number;
}

function cross(o: Point, a: Point, b: Point): number {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

/** Andrew's monotone chain; returns the hull counter-clockwise (in y-down image space: clockwise on screen). */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Minimum-area enclosing rectangle by rotating calipers over the hull edges (as cv2.minAreaRect). */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  const first = hull[0] ?? [0, 0];
  let best: RotatedRect = { cx: first[0], cy: first[1], width: 0, height: 0, angle: 0 };
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let minU = Infinity,
      maxU = -Infinity,
      minV = Infinity,
      maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, width: maxU - minU, height: maxV - minV, angle: Math.atan2(uy, ux) };
    }
  }
  return best;
}

/** Corners of a rotated rectangle ordered as Paddle's get_mini_boxes does: tl, tr, br, bl. */
export function rectCorners(r: RotatedRect): Quad {
  const ux = Math.cos(r.angle),
    uy = Math.sin(r.angle);
  const hw = r.width / 2,
    hh = r.height / 2;
  const pts: Point[] = [
    [r.cx - ux * hw + uy * hh, r.cy - uy * hw - ux * hh],
    [r.cx + ux * hw + uy * hh, r.cy + uy * hw - ux * hh],
    [r.cx + ux * hw - uy * hh, r.cy + uy * hw + ux * hh],
    [r.cx - ux * hw - uy * hh, r.cy - uy * hw + ux * hh],
  ];
  return orderQuad(pts);
}

/** Orders four points: the two leftmost become tl/bl by y, the two rightmost tr/br by y. */
export function orderQuad(pts: readonly Point[]): Quad {
  const s = [...pts].sort((a, b) => a[0] - b[0]);
  const [l1, l2, r1, r2] = s as [Point, Point, Point, Point];
  const [tl, bl] = l1[1] <= l2[1] ? [l1, l2] : [l2, l1];
  const [tr, br] = r1[1] <= r2[1] ? [r1, r2] : [r2, r1];
  return [tl, tr, br, bl];
}

/** Grows a rectangle as pyclipper's round offset does on it: by area * ratio / perimeter on every side. */
export function unclipRect(r: RotatedRect, ratio: number): RotatedRect {
  const perimeter = 2 * (r.width + r.height);
  if (perimeter === 0) return r;
  const d = (r.width * r.height * ratio) / perimeter;
  return { ...r, width: r.width + 2 * d, height: r.height + 2 * d };
}

/** Side lengths of a quad: width along tl→tr, height along tl→bl (the longer of opposite sides). */
export function quadSize(q: Quad): { width: number; height: number } {
  const d = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);
  return { width: Math.max(d(q[0], q[1]), d(q[3], q[2])), height: Math.max(d(q[0], q[3]), d(q[1], q[2])) };
}

export interface Bounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function pointsBounds(points: readonly Point[]): Bounds {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const [x, y] of points) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x0, y0, x1, y1 };
}

export function quadBounds(q: Quad): Bounds {
  return pointsBounds(q);
}

/** The upright quad of bounds: top-left, top-right, bottom-right, bottom-left. */
export function boundsQuad(b: Bounds): Quad {
  return [
    [b.x0, b.y0],
    [b.x1, b.y0],
    [b.x1, b.y1],
    [b.x0, b.y1],
  ];
}

/** Maps a quad in an image of size w x h to the same content after turning the image by `degrees` clockwise. */
export function rotateQuad(q: Quad, degrees: 0 | 90 | 180 | 270, w: number, h: number): Quad {
  const f = (p: Point): Point => {
    switch (degrees) {
      case 0:
        return p;
      case 90:
        return [h - p[1], p[0]];
      case 180:
        return [w - p[0], h - p[1]];
      case 270:
        return [p[1], w - p[0]];
    }
  };
  return orderQuad(q.map(f));
}

/** The page's skew: the median angle (radians) of the top edges of boxes clearly wider than tall. */
export function medianSkew(quads: readonly Quad[]): number {
  const angles = quads
    .filter((q) => {
      const s = quadSize(q);
      return s.width >= 3 * s.height;
    })
    .map((q) => Math.atan2(q[1][1] - q[0][1], q[1][0] - q[0][0]))
    .sort((a, b) => a - b);
  return angles.length === 0 ? 0 : angles[Math.floor(angles.length / 2)]!;
}

/** Axis-aligned bounds of a quad after turning it by -`angle` about the origin (undoing a skew). */
export function deskewedBounds(q: Quad, angle: number): Bounds {
  const c = Math.cos(-angle),
    s = Math.sin(-angle);
  return pointsBounds(q.map(([x, y]): Point => [x * c - y * s, x * s + y * c]));
}
