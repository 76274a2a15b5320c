/** The OCR pipeline's section of the configuration: the shipped defaults with the OCR_* overrides. */
import { defaultBatchColumns, defaultOcrConfig, type LanguageModel, type OcrConfig } from '../ocr/config.ts';
import { cpuInfo } from '../ocr/model/cpu.ts';
import { flag, list, optionalText, positiveCount, positiveNumber, type Env } from './env.ts';

const LANGUAGE_CODE = /^[a-z][a-z0-9_-]*$/;

/** Language codes, lower-cased: letters first, then letters, digits, `-` or `_` (`en`, `zh`, `pt-br`). */
function languageCodes(codes: string[], name: string, entry: string): string[] {
  const languages = codes.map((c) => c.trim().toLowerCase());
  if (languages.length === 0 || !languages.every((l) => LANGUAGE_CODE.test(l)))
    throw new Error(`${name} must name languages as codes like en or pt-br, got "${entry}"`);
  return [...new Set(languages)];
}

/**
 * OCR_MODELS: comma-separated `<languages>=<model.onnx>:<dictionary.txt>`, languages joined by `+`
 * (`en=/m/en_rec.onnx:/m/en_dict.txt,fr+de=/m/latin_rec.onnx:/m/latin_dict.txt`).
 */
function languageModels(env: Env): LanguageModel[] {
  return list(env, 'OCR_MODELS').map((entry) => {
    const match = /^([^=]+)=([^:]+):(.+)$/.exec(entry);
    if (!match) throw new Error(`OCR_MODELS entries must be <languages>=<model.onnx>:<dictionary.txt>, got "${entry}"`);
    return { languages: languageCodes(match[1]!.split('+'), 'OCR_MODELS', entry), rec: match[2]!, dict: match[3]! };
  });
}

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
    languages: env.OCR_REC_LANGUAGES
      ? languageCodes(list(env, 'OCR_REC_LANGUAGES'), 'OCR_REC_LANGUAGES', env.OCR_REC_LANGUAGES)
      : config.languages,
    languageModels: languageModels(env),
    threads: positiveCount(env, 'OCR_CPU_THREADS', config.threads),
    rewriteGraphs: flag(env, 'OCR_GRAPH_REWRITE', config.rewriteGraphs),
    int8: flag(env, 'OCR_INT8', config.int8),
    det: { ...config.det, limitSideLen: positiveCount(env, 'OCR_DET_LIMIT_SIDE', config.det.limitSideLen) },
    cls: { ...config.cls, enabled: flag(env, 'OCR_USE_CLS', config.cls.enabled) },
    rec: {
      ...config.rec,
      batchColumns: positiveCount(env, 'OCR_REC_BATCH_COLUMNS', defaultBatchColumns(cpuInfo().features)),
      maxPieceWidth: positiveNumber(env, 'OCR_REC_MAX_PIECE', config.rec.maxPieceWidth),
      widthScale: positiveNumber(env, 'OCR_REC_WIDTH_SCALE', config.rec.widthScale),
    },
  };
}
