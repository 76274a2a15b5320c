/**
 * The options of a job (dpi, text_layer, language, password, output, pdfa), parsed in one place for
 * the gateway's form fields and query, the CLI's flags and the REPL: a missing or empty field takes
 * the default.
 */
import { extname } from 'node:path';
import type { JobOptions, OutputFormat, OutputOptions } from '../contracts.ts';
import { OcrError } from '../errors.ts';
import { isOutputFormat, OUTPUT_FORMATS } from '../outputs/index.ts';

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
  output?: string;
  pdfa?: string;
}

const FORMAT_NAMES = Object.keys(OUTPUT_FORMATS).join(', ');

/** `value` as an output format; INVALID_PARAMS naming `field` (output, format, --formats) otherwise. */
export function parseOutputFormat(value: string, field: string): OutputFormat {
  if (!isOutputFormat(value)) throw new OcrError('INVALID_PARAMS', `${field} must be one of ${FORMAT_NAMES}`);
  return value;
}

/** A comma-separated list of output formats (the batch's --formats), each once. */
export function parseOutputFormats(list: string, field: string): OutputFormat[] {
  const formats = list
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => parseOutputFormat(f, field));
  if (formats.length === 0) throw new OcrError('INVALID_PARAMS', `${field} must name at least one of ${FORMAT_NAMES}`);
  return [...new Set(formats)];
}

/** The format of an output file: `format` when given, else the file's extension (`.xml` is ALTO). */
export function outputFormatOfFile(path: string, format: string | undefined): OutputFormat {
  if (format) return parseOutputFormat(format, '--format');
  const extension = extname(path).slice(1).toLowerCase();
  const found = Object.entries(OUTPUT_FORMATS).find(([, f]) => f.extension === extension)?.[0];
  const extensions = Object.values(OUTPUT_FORMATS)
    .map((f) => `.${f.extension}`)
    .join(', ');
  if (!isOutputFormat(found)) throw new OcrError('INVALID_PARAMS', `${path}: name the file ${extensions} or give --format`);
  return found;
}

/** A yes/no option: `true` or `false` (empty: `fallback`). */
function parseSwitch(value: string | undefined, field: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new OcrError('INVALID_PARAMS', `${field} must be "true" or "false"`);
}

/** `output` (default json) and `pdfa` (default false): an image's options, and a PDF job's. */
export function parseOutputOptions(fields: Pick<JobOptionFields, 'output' | 'pdfa'>): OutputOptions {
  return { output: fields.output ? parseOutputFormat(fields.output, 'output') : 'json', pdfa: parseSwitch(fields.pdfa, 'pdfa', false) };
}

/** `GET /jobs/:id/result`'s query: `format` (the job's output when not given) and `pdfa` (the job's when not given). */
export function parseResultQuery(query: { format?: unknown; pdfa?: unknown }): { format?: OutputFormat; pdfa?: boolean } {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const format = text(query.format);
  const pdfa = text(query.pdfa);
  return {
    format: format === undefined ? undefined : parseOutputFormat(format, 'format'),
    pdfa: pdfa === undefined ? undefined : parseSwitch(pdfa, 'pdfa', false),
  };
}

/** A page's `language` as the workers advertise it (lower case); empty: none. Checked against the cluster by src/broker/languages.ts. */
export function parseLanguage(value: string | undefined): string | undefined {
  return value?.trim().toLowerCase() || undefined;
}

/** Throws INVALID_PARAMS, naming the field, for a value out of range. */
export function parseJobOptions(fields: JobOptionFields, dpiLimits: DpiLimits): JobOptions & OutputOptions {
  const dpi = fields.dpi === undefined || fields.dpi === '' ? dpiLimits.default : Number(fields.dpi);
  if (!Number.isFinite(dpi) || dpi < dpiLimits.min || dpi > dpiLimits.max) {
    throw new OcrError('INVALID_PARAMS', `dpi must be a number from ${dpiLimits.min} to ${dpiLimits.max}`);
  }
  const textLayer = fields.text_layer || 'ocr';
  if (textLayer !== 'auto' && textLayer !== 'ocr') throw new OcrError('INVALID_PARAMS', 'text_layer must be "auto" or "ocr"');
  return {
    dpi,
    text_layer: textLayer,
    language: parseLanguage(fields.language),
    password: fields.password || undefined,
    ...parseOutputOptions(fields),
  };
}
