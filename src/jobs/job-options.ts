/**
 * The options of a PDF job (dpi, text_layer, language, password), parsed in one place for the
 * gateway's form fields, the CLI's flags and the REPL: a missing or empty field takes the default.
 */
import type { JobOptions } from '../contracts.ts';
import { OcrError } from '../errors.ts';

/** Default, lowest and highest rendering resolution of PDF pages. */
export interface DpiLimits {
  default: number;
  min: number;
  max: number;
}

/** The options as text: form fields or command-line flags. */
export interface JobOptionFields {
  dpi?: string;
  text_layer?: string;
  language?: string;
  password?: string;
}

/** Throws INVALID_PARAMS, naming the field, for a value out of range. */
export function parseJobOptions(fields: JobOptionFields, dpiLimits: DpiLimits): JobOptions {
  const dpi = fields.dpi === undefined || fields.dpi === '' ? dpiLimits.default : Number(fields.dpi);
  if (!Number.isFinite(dpi) || dpi < dpiLimits.min || dpi > dpiLimits.max) {
    throw new OcrError('INVALID_PARAMS', `dpi must be a number from ${dpiLimits.min} to ${dpiLimits.max}`);
  }
  const textLayer = fields.text_layer || 'ocr';
  if (textLayer !== 'auto' && textLayer !== 'ocr') throw new OcrError('INVALID_PARAMS', 'text_layer must be "auto" or "ocr"');
  return { dpi, text_layer: textLayer, language: fields.language || undefined, password: fields.password || undefined };
}
