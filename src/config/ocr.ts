/** The OCR pipeline's section of the configuration: the shipped defaults with the OCR_* overrides. */
import { defaultOcrConfig, type OcrConfig } from '../ocr/config.ts';
import { flag, optionalText, positiveCount, positiveNumber, type Env } from './env.ts';

/** `slots` is how many pages the process reads at once: the default threads share the cores among them. */
export function loadOcrConfig(env: Env, slots = 1): OcrConfig {
  const config = defaultOcrConfig(slots);
  return {
    ...config,
    models: {
      det: optionalText(env, 'OCR_DET_MODEL') ?? config.models.det,
      rec: optionalText(env, 'OCR_REC_MODEL') ?? config.models.rec,
      cls: optionalText(env, 'OCR_CLS_MODEL') ?? config.models.cls,
      dict: optionalText(env, 'OCR_REC_DICT') ?? config.models.dict,
    },
    threads: positiveCount(env, 'OCR_CPU_THREADS', config.threads),
    rewriteGraphs: flag(env, 'OCR_GRAPH_REWRITE', config.rewriteGraphs),
    int8: flag(env, 'OCR_INT8', config.int8),
    det: { ...config.det, limitSideLen: positiveCount(env, 'OCR_DET_LIMIT_SIDE', config.det.limitSideLen) },
    cls: { ...config.cls, enabled: flag(env, 'OCR_USE_CLS', config.cls.enabled) },
    rec: {
      ...config.rec,
      maxPieceWidth: positiveNumber(env, 'OCR_REC_MAX_PIECE', config.rec.maxPieceWidth),
      widthScale: positiveNumber(env, 'OCR_REC_WIDTH_SCALE', config.rec.widthScale),
    },
  };
}
