/**
 * Calibrated activation ranges for int8 inference (quantize.ts): recorded once by bench/calibrate.ts
 * and shipped beside this file, one JSON per model, tied to the model file by its SHA-256.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cpuPointwiseGemm, cpuWeightBits } from './cpu.ts';
import type { QuantizeOptions } from './quantize.ts';

export interface Calibration {
  /** The model file the ranges were recorded on, and its SHA-256. */
  model: string;
  sha256: string;
  /** Share of each activation's values inside its range: the rest, outliers, saturate. */
  percentile: number;
  /** Line images (or pages) the ranges were recorded on, and where they came from. */
  samples: number;
  source: string;
  ranges: Record<string, [number, number]>;
}

export const CALIBRATION_DIR = join(import.meta.dirname, 'int8');

export function calibrationPath(modelPath: string): string {
  return join(CALIBRATION_DIR, basename(modelPath).replace(/\.onnx$/, '.ranges.json'));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The int8 options for a model file, given its SHA-256, or why it runs in float (no ranges shipped for
 * it, or another file).
 * For a model that reads worse with them, `maxWeightBits` caps the CPU's choice of 8 and `floatPools`
 * keeps its global pools in float.
 */
export async function int8Options(
  modelPath: string,
  modelSha256: string,
  { maxWeightBits = 8, floatPools = false }: { maxWeightBits?: 7 | 8; floatPools?: boolean } = {},
): Promise<QuantizeOptions | { unavailable: string }> {
  let calibration: Calibration;
  try {
    calibration = JSON.parse(await readFile(calibrationPath(modelPath), 'utf8')) as Calibration;
  } catch {
    return { unavailable: `no calibrated ranges for ${basename(modelPath)}` };
  }
  if (calibration.sha256 !== modelSha256) return { unavailable: `the ranges were recorded on another ${calibration.model}` };
  return {
    ranges: calibration.ranges,
    weightBits: Math.min(cpuWeightBits(), maxWeightBits) as 7 | 8,
    pointwiseGemm: cpuPointwiseGemm(),
    int8Pools: !floatPools,
  };
}

/**
 * Records each activation's range over many inputs: the extent in a first pass, then a histogram
 * over that extent in a second, from which the range holding `percentile` of all values is read.
 */
export class RangeRecorder {
  private static readonly BINS = 4096;
  private readonly extent = new Map<string, [number, number]>();
  private readonly histograms = new Map<string, Float64Array>();

  recordExtent(name: string, values: Float32Array): void {
    let [lo, hi] = this.extent.get(name) ?? [0, 0];
    for (const v of values) {
      if (v < lo) lo = v;
      else if (v > hi) hi = v;
    }
    this.extent.set(name, [lo, hi]);
  }

  recordHistogram(name: string, values: Float32Array): void {
    const [lo, hi] = this.extent.get(name) ?? [0, 0];
    const bins = RangeRecorder.BINS;
    const histogram = this.histograms.get(name) ?? new Float64Array(bins);
    const perUnit = bins / (hi - lo || 1);
    for (const v of values) histogram[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) * perUnit)))]!++;
    this.histograms.set(name, histogram);
  }

  /** [low, high] holding `percentile` of the values, the outliers cut evenly from both ends. */
  ranges(percentile: number): Record<string, [number, number]> {
    const out: Record<string, [number, number]> = {};
    for (const [name, [lo, hi]] of this.extent) {
      const histogram = this.histograms.get(name);
      if (!histogram) {
        out[name] = [lo, hi];
        continue;
      }
      const total = histogram.reduce((a, b) => a + b, 0);
      const cut = ((1 - percentile) / 2) * total;
      const width = (hi - lo) / histogram.length;
      let low = 0,
        high = histogram.length - 1;
      for (let seen = 0; low < histogram.length - 1 && seen + histogram[low]! <= cut; low++) seen += histogram[low]!;
      for (let seen = 0; high > 0 && seen + histogram[high]! <= cut; high--) seen += histogram[high]!;
      out[name] = [lo + low * width, lo + (high + 1) * width];
    }
    return out;
  }
}
