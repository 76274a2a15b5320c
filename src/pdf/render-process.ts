/**
 * The child process that parses and renders one untrusted PDF (src/pdf/isolated-pdf.ts starts it):
 * if pdfjs or a native decoder crashes, loops or balloons on the file, only this process is killed.
 */
import { readFile } from 'node:fs/promises';
import { OcrError } from '../errors.ts';
import { serve } from '../isolation/serve.ts';
import { PdfDocument } from './rasterizer.ts';

export type RenderRequest =
  | { id: number; op: 'open'; path: string; password?: string }
  | { id: number; op: 'render'; page: number; dpi: number; maxPixels: number }
  | { id: number; op: 'textLayer'; page: number; dpi: number };

let doc: PdfDocument | undefined;

export async function handle(request: RenderRequest): Promise<unknown> {
  if (request.op === 'open') {
    doc = await PdfDocument.open(new Uint8Array(await readFile(request.path)), { password: request.password });
    return { pages: doc.pageCount };
  }
  if (!doc) throw new OcrError('INTERNAL', 'No document is open');
  return request.op === 'render' ? doc.render(request.page, request.dpi, request.maxPixels) : doc.textLayer(request.page, request.dpi);
}

export function serveRendering(handler: (request: RenderRequest) => Promise<unknown> = handle): void {
  serve(handler, 'PDF_UNREADABLE', 'The PDF could not be read');
}

if (process.send && process.argv[1] === import.meta.filename) serveRendering();
