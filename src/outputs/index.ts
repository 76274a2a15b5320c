/**
 * The output writers behind one seam: a finished job's result (and the bytes of its input, which the
 * PDF is made from) in, the file a client asked for out.
 */
import { OcrError } from '../errors.ts';
import type { JobResult, OutputFormat } from '../contracts.ts';
import { writeAlto } from './alto.ts';
import { writeHocr } from './hocr.ts';
import { writeImagePdf } from './pdf/image-pdf.ts';
import { writeSearchablePdf } from './pdf/searchable-pdf.ts';

export const OUTPUT_FORMATS = {
  json: { mediaType: 'application/json; charset=utf-8', extension: 'json' },
  txt: { mediaType: 'text/plain; charset=utf-8', extension: 'txt' },
  md: { mediaType: 'text/markdown; charset=utf-8', extension: 'md' },
  hocr: { mediaType: 'application/xhtml+xml; charset=utf-8', extension: 'hocr' },
  alto: { mediaType: 'application/xml; charset=utf-8', extension: 'xml' },
  pdf: { mediaType: 'application/pdf', extension: 'pdf' },
} as const satisfies Record<OutputFormat, { mediaType: string; extension: string }>;

export function isOutputFormat(value: unknown): value is OutputFormat {
  return typeof value === 'string' && Object.hasOwn(OUTPUT_FORMATS, value);
}

export interface OutputRequest {
  result: JobResult;
  /** The job's input (a PDF, or the image of a one-page job): what a searchable PDF is made from. */
  input?: Uint8Array;
  /** The input PDF's password, when the job was given one. */
  password?: string;
  /** For `pdf`: write PDF/A-2b. */
  pdfa?: boolean;
}

const isPdf = (bytes: Uint8Array) => Buffer.from(bytes.subarray(0, 1024)).includes('%PDF-');

/** The job's result as `format`: text for json, txt, md, hocr and alto; bytes for pdf. */
export async function writeOutput(format: OutputFormat, request: OutputRequest): Promise<string | Uint8Array> {
  const { result, input } = request;
  switch (format) {
    case 'json':
      return JSON.stringify(result);
    case 'txt':
      return result.combined_text;
    case 'md':
      return result.combined_markdown;
    case 'hocr':
      return writeHocr(result);
    case 'alto':
      return writeAlto(result);
    case 'pdf': {
      if (!input) throw new OcrError('INVALID_PARAMS', "A PDF output needs the job's input file");
      if (isPdf(input)) return writeSearchablePdf(input, result, { password: request.password, pdfa: request.pdfa });
      const page = result.results[0];
      if (result.results.length !== 1 || !page) throw new OcrError('INVALID_PARAMS', 'A PDF of an image needs the one page read from it');
      return writeImagePdf(input, page, { pdfa: request.pdfa });
    }
  }
}
