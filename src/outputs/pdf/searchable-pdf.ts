/**
 * The searchable PDF: the input's own pages, every byte of their content, images and fonts kept, with
 * an invisible text layer added on top of each page read by OCR. The layer goes in as an incremental
 * update appended to the original file when its cross-references are sound; otherwise (they are
 * broken, or the input was encrypted and is written decrypted) pdf-lib writes the whole file anew,
 * stream data still byte for byte.
 */
import { PDFStreamWriter, type PDFRef } from 'pdf-lib';
import { OcrError } from '../../errors.ts';
import type { JobResult } from '../../contracts.ts';
import { GlyphlessFont } from './glyphless-font.ts';
import { appendUpdate, soundCrossReferences, updatedId } from './incremental-update.ts';
import { addTextLayer, contentStreams, PdfEdit, updateInfo } from './pdf-edit.ts';
import { addPdfA, pdfaProblems } from './pdfa.ts';
import { pageList, parsePdf } from './read-pdf.ts';

export interface SearchablePdfOptions {
  /** The input's password, when the job was given one: an encrypted input is then written decrypted. */
  password?: string;
  /** When the file is written: its ModDate (and CreationDate, when the input has none). */
  now?: Date;
  /** Write PDF/A-2b; a PDFA_UNSUPPORTED error says why when the input does not allow it. */
  pdfa?: boolean;
}

/** Whether the file's second line is the comment of four bytes above 127 that marks it binary (PDF/A asks for it). */
function binaryMarked(input: Uint8Array): boolean {
  const head = Buffer.from(input.subarray(0, 64)).toString('latin1');
  return /^%PDF-\d\.\d\r?\n?\r?%[\x80-\xff]{4}/.test(head);
}

/** The input PDF with an invisible text layer over each page `result` read by OCR. */
export async function writeSearchablePdf(input: Uint8Array, result: JobResult, options: SearchablePdfOptions = {}): Promise<Uint8Array> {
  const now = options.now ?? new Date();
  const { context, decrypted } = await parsePdf(input, options.password);
  const pages = pageList(context);
  if (options.pdfa) {
    const problems = pdfaProblems(
      context,
      input,
      pages.flatMap((p) => contentStreams(context, p.dict)),
    );
    if (problems.length > 0) throw new OcrError('PDFA_UNSUPPORTED', `This PDF cannot be made PDF/A-2b: ${problems.join('; ')}`);
  }
  // Appended to the original when its cross-references can be trusted (and, for PDF/A, its header
  // is marked binary); written anew otherwise.
  const xref = decrypted || (options.pdfa && !binaryMarked(input)) ? undefined : soundCrossReferences(input);
  // New objects take numbers above any the original uses, parsed by pdf-lib or not.
  context.largestObjectNumber = Math.max(context.largestObjectNumber, (xref?.size ?? 0) - 1);
  const edit = new PdfEdit(context);
  const font = new GlyphlessFont(context);
  const shared: { prefix?: PDFRef } = {};
  for (const page of result.results) {
    const target = pages[page.page_number - 1];
    if (page.source !== 'ocr' || !target || !page.lines.some((l) => l.words.length > 0)) continue;
    addTextLayer(edit, target.ref, target.dict, page, font, shared);
  }
  font.write(
    (object) => edit.add(object),
    (ref, object) => edit.assign(ref, object),
  );
  const info = updateInfo(edit, now);
  if (options.pdfa) addPdfA(edit, info, now);
  const id = updatedId(context, context.trailerInfo.ID, `${input.length} ${now.toISOString()} ${result.metrics.job_id}`);
  const root = context.trailerInfo.Root;
  if (!root) throw new OcrError('PDF_UNREADABLE', 'The PDF has no document catalog');
  if (xref) return appendUpdate(input, xref, context, [...edit.changed], { Root: root, Info: info, ID: id });
  context.trailerInfo.Info = info;
  context.trailerInfo.ID = id;
  return PDFStreamWriter.forContext(context, Infinity).serializeToBuffer();
}
