/**
 * DB (differentiable binarization) post-processing, after PaddleOCR's db_postprocess.py in "box" mode:
 * threshold the probability map, take each connected region, fit its minimum-area rectangle, score it
 * by the mean probability over its outline (regionScore), grow it back ("unclip") and map it to the source image.
 */
import type { DbParams } from '../../config.ts';
import { minAreaRect, rectCorners, unclipRect, type Point, type Quad } from '../../image/geometry.ts';

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

/**
 * Mean probability over a region's own outline, each row filled from its leftmost to its rightmost
 * pixel (Paddle's box_score_slow fills the contour likewise): a line with stacked scripts is a
 * short, wide region with a taller part, and its bounding rectangle holds as much paper as text.
 */
export function regionScore(map: ProbabilityMap, runs: readonly Run[]): number {
  const spans = new Map<number, [number, number]>();
  for (const { y, x0, x1 } of runs) {
    const span = spans.get(y);
    if (!span) spans.set(y, [x0, x1]);
    else spans.set(y, [Math.min(span[0], x0), Math.max(span[1], x1)]);
  }
  let sum = 0,
    n = 0;
  for (const [y, [x0, x1]] of spans) {
    for (let x = x0; x <= x1; x++) sum += map.data[y * map.width + x]!;
    n += x1 - x0 + 1;
  }
  return n === 0 ? 0 : sum / n;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const rectOf = (runs: readonly Run[]) =>
  minAreaRect(
    runs.flatMap((r): Point[] => [
      [r.x0, r.y],
      [r.x1, r.y],
    ]),
  );

/** A region's pixels as a map of their own (zero elsewhere), in the frame of its bounding box. */
function regionMap(map: ProbabilityMap, runs: readonly Run[]): { sub: ProbabilityMap; x0: number; y0: number } {
  const x0 = Math.min(...runs.map((r) => r.x0)),
    y0 = Math.min(...runs.map((r) => r.y));
  const width = Math.max(...runs.map((r) => r.x1)) - x0 + 1,
    height = Math.max(...runs.map((r) => r.y)) - y0 + 1;
  const data = new Float32Array(width * height);
  for (const r of runs) {
    const from = r.y * map.width;
    data.set(map.data.subarray(from + r.x0, from + r.x1 + 1), (r.y - y0) * width + r.x0 - x0);
  }
  return { sub: { data, width, height }, x0, y0 };
}

/** Labels of a region's pixels (-1: none yet) and how many parts they name. */
interface Cores {
  label: Int32Array;
  count: number;
}

/** The cores of the first higher threshold that parts the region into two or more line-sized ones. */
function coresByThreshold(sub: ProbabilityMap, params: DbParams, lineHeight: number): Cores | undefined {
  for (const thresh of params.splitThresholds) {
    const cores = textRegions(sub, thresh).filter((core) => {
      const r = rectOf(core);
      return Math.min(r.width, r.height) >= params.minSize && Math.max(r.width, r.height) >= lineHeight;
    });
    if (cores.length < 2) continue;
    const label = new Int32Array(sub.width * sub.height).fill(-1);
    cores.forEach((core, k) => {
      for (const r of core) label.fill(k, r.y * sub.width + r.x0, r.y * sub.width + r.x1 + 1);
    });
    return { label, count: cores.length };
  }
  return undefined;
}

/**
 * A band one line thick that steps up or down part way along (a left column's line joined over a
 * narrow gutter to a right column's line set half a line lower): the two sides of the step, cut at
 * the thinnest column near it. The step is where the mean height of the pixels left of a column and
 * right of it differ most; it counts from `splitStep` line heights, with two line heights or more on
 * each side.
 */
function coresByStep(sub: ProbabilityMap, params: DbParams, lineHeight: number): Cores | undefined {
  const count = new Float64Array(sub.width),
    sumY = new Float64Array(sub.width);
  for (let y = 0; y < sub.height; y++)
    for (let x = 0; x < sub.width; x++)
      if (sub.data[y * sub.width + x]! > params.thresh) {
        count[x] = count[x]! + 1;
        sumY[x] = sumY[x]! + y;
      }
  const total = count.reduce((a, b) => a + b, 0),
    totalY = sumY.reduce((a, b) => a + b, 0);
  let best = { x: -1, step: 0 };
  let leftN = 0,
    leftY = 0;
  const side = Math.ceil(2 * lineHeight);
  for (let x = 0; x < sub.width; x++) {
    leftN += count[x]!;
    leftY += sumY[x]!;
    if (x + 1 < side || sub.width - x - 1 < side || leftN === 0 || total === leftN) continue;
    const step = Math.abs(leftY / leftN - (totalY - leftY) / (total - leftN));
    if (step > best.step) best = { x, step };
  }
  if (best.x < 0 || best.step < params.splitStep * lineHeight) return undefined;
  let cut = best.x;
  for (let x = Math.max(side, best.x - Math.ceil(lineHeight)); x <= Math.min(sub.width - side, best.x + Math.ceil(lineHeight)); x++)
    if (count[x]! < count[cut]!) cut = x;
  const label = new Int32Array(sub.width * sub.height).fill(-1);
  for (let y = 0; y < sub.height; y++)
    for (let x = 0; x < sub.width; x++)
      if (x !== cut && sub.data[y * sub.width + x]! > params.thresh) label[y * sub.width + x] = x < cut ? 0 : 1;
  return { label, count: 2 };
}

/** Every pixel of the region not yet labelled given to the core nearest it: a breadth-first flood from all cores at once. */
function growCores(sub: ProbabilityMap, label: Int32Array, thresh: number): void {
  let queue: number[] = [];
  for (let at = 0; at < label.length; at++) if (label[at]! >= 0) queue.push(at);
  while (queue.length > 0) {
    const next: number[] = [];
    for (const at of queue) {
      const x = at % sub.width,
        y = (at - x) / sub.width;
      for (const [nx, ny] of [
        [x + 1, y],
        [x - 1, y],
        [x, y + 1],
        [x, y - 1],
      ] as const) {
        if (nx < 0 || ny < 0 || nx >= sub.width || ny >= sub.height) continue;
        const n = ny * sub.width + nx;
        if (label[n] !== -1 || sub.data[n]! <= thresh) continue;
        label[n] = label[at]!;
        next.push(n);
      }
    }
    queue = next;
  }
}

/**
 * A region as tall as two lines or more cut into its lines: lines joined where a superscript, a
 * descender or a display formula touches the line above (the cores a higher threshold parts), or two
 * columns' lines meeting over a narrow gutter at different heights (the two sides of the step). Each
 * core is grown back over the region's pixels nearest it, so each line keeps the extent the usual
 * threshold gives it. Undefined when neither parts it (a single line of large print).
 */
function splitJoinedLines(map: ProbabilityMap, runs: readonly Run[], params: DbParams, lineHeight: number): Run[][] | undefined {
  const { sub, x0, y0 } = regionMap(map, runs);
  const cores = coresByThreshold(sub, params, lineHeight) ?? coresByStep(sub, params, lineHeight);
  if (!cores) return undefined;
  growCores(sub, cores.label, params.thresh);
  const parts: Run[][] = Array.from({ length: cores.count }, () => []);
  for (let y = 0; y < sub.height; y++) {
    let x = 0;
    while (x < sub.width) {
      const k = cores.label[y * sub.width + x]!;
      const start = x;
      while (x < sub.width && cores.label[y * sub.width + x] === k) x++;
      if (k >= 0) parts[k]!.push({ y: y + y0, x0: start + x0, x1: x - 1 + x0, label: k });
    }
  }
  return parts.filter((p) => p.length > 0);
}

/** Text boxes in the coordinates of a destination image of size destWidth x destHeight. */
export function dbPostprocess(map: ProbabilityMap, params: DbParams, destWidth: number, destHeight: number): DetectedBox[] {
  const sx = destWidth / map.width,
    sy = destHeight / map.height;
  const out: DetectedBox[] = [];
  const found = textRegions(map, params.thresh)
    .slice(0, params.maxCandidates)
    .map((runs) => ({ runs, rect: rectOf(runs) }));
  const lineHeight = median(found.map(({ rect }) => Math.min(rect.width, rect.height)).filter((h) => h >= params.minSize));
  const regions = found.flatMap(({ runs, rect }) => {
    const joined = Math.min(rect.width, rect.height) >= params.splitHeight * lineHeight && lineHeight > 0;
    return (joined && splitJoinedLines(map, runs, params, lineHeight)) || [runs];
  });
  for (const runs of regions) {
    const rect = rectOf(runs);
    if (Math.min(rect.width, rect.height) < params.minSize) continue;
    const score = regionScore(map, runs);
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
