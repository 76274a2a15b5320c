/**
 * DB (differentiable binarization) post-processing, after PaddleOCR's db_postprocess.py in "box" mode:
 * threshold the probability map, take each connected region, fit its minimum-area rectangle, score it
 * by the mean probability inside, grow it back ("unclip") and map it to the source image.
 */
import type { DbParams } from '../../config.ts';
import { insideConvexQuad, minAreaRect, quadBounds, rectCorners, unclipRect, type Point, type Quad } from '../../image/geometry.ts';

export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

export interface DetectedBox {
  box: Quad;
  score: number;
}

interface Run {
  y: number;
  x0: number;
  x1: number;
  label: number;
}

/** Connected regions (8-connectivity) of pixels above `thresh`, each as its horizontal runs. */
export function textRegions(map: ProbabilityMap, thresh: number): Run[][] {
  const { data, width, height } = map;
  const parent: number[] = [];
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  const runs: Run[] = [];
  let prevStart = 0,
    prevEnd = 0;
  for (let y = 0; y < height; y++) {
    const rowStart = runs.length;
    const off = y * width;
    let x = 0;
    while (x < width) {
      if (data[off + x]! <= thresh) {
        x++;
        continue;
      }
      const x0 = x;
      while (x < width && data[off + x]! > thresh) x++;
      const run: Run = { y, x0, x1: x - 1, label: parent.length };
      parent.push(run.label);
      // 8-connectivity: a run touches a run of the row above whose span overlaps it widened by one.
      for (let i = prevStart; i < prevEnd; i++) {
        const p = runs[i]!;
        if (p.x1 < x0 - 1) continue;
        if (p.x0 > run.x1 + 1) break;
        const a = find(p.label),
          b = find(run.label);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
      runs.push(run);
    }
    prevStart = rowStart;
    prevEnd = runs.length;
  }
  const regions = new Map<number, Run[]>();
  for (const r of runs) {
    const root = find(r.label);
    let list = regions.get(root);
    if (!list) regions.set(root, (list = []));
    list.push(r);
  }
  return [...regions.values()];
}

/** Mean probability inside a quad (Paddle's box_score_fast). */
export function boxScore(map: ProbabilityMap, q: Quad): number {
  const b = quadBounds(q);
  const x0 = Math.max(0, Math.floor(b.x0)),
    x1 = Math.min(map.width - 1, Math.ceil(b.x1));
  const y0 = Math.max(0, Math.floor(b.y0)),
    y1 = Math.min(map.height - 1, Math.ceil(b.y1));
  let sum = 0,
    n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!insideConvexQuad(q, x, y)) continue;
      sum += map.data[y * map.width + x]!;
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

/** Text boxes in the coordinates of a destination image of size destWidth x destHeight. */
export function dbPostprocess(map: ProbabilityMap, params: DbParams, destWidth: number, destHeight: number): DetectedBox[] {
  const sx = destWidth / map.width,
    sy = destHeight / map.height;
  const out: DetectedBox[] = [];
  const regions = textRegions(map, params.thresh).slice(0, params.maxCandidates);
  for (const runs of regions) {
    const points: Point[] = [];
    for (const r of runs) points.push([r.x0, r.y], [r.x1, r.y]);
    const rect = minAreaRect(points);
    if (Math.min(rect.width, rect.height) < params.minSize) continue;
    const score = boxScore(map, rectCorners(rect));
    if (score < params.boxThresh) continue;
    const grown = unclipRect(rect, params.unclipRatio);
    if (Math.min(grown.width, grown.height) < params.minSize + 2) continue;
    const box = rectCorners(grown).map(([x, y]): Point => [
      Math.min(destWidth, Math.max(0, Math.round(x * sx))),
      Math.min(destHeight, Math.max(0, Math.round(y * sy))),
    ]) as Quad;
    out.push({ box, score });
  }
  return out;
}
