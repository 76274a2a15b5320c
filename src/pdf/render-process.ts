/**
 * The child process that parses and renders one untrusted PDF (src/pdf/isolated-pdf.ts starts it):
 * if pdfjs or a native decoder crashes, loops or balloons on the file, only this process is killed.
 * Requests and replies travel over the IPC channel (advanced serialization: pixels stay bytes).
 */
import { readFile } from 'node:fs/promises';
import { OcrError } from '../errors.ts';
import { PdfDocument } from './rasterizer.ts';

export type RenderRequest =
  | { id: number; op: 'open'; path: string; password?: string }
  | { id: number; op: 'render'; page: number; dpi: number; maxPixels: number }
  | { id: number; op: 'textLayer'; page: number; dpi: number };

export type RenderReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { code: string; message: string; page?: number } };

let doc: PdfDocument | undefined;

export async function handle(request: RenderRequest): Promise<unknown> {
  if (request.op === 'open') {
    doc = await PdfDocument.open(new Uint8Array(await readFile(request.path)), { password: request.password });
    return { pages: doc.pageCount };
  }
  if (!doc) throw new OcrError('INTERNAL', 'No document is open');
  return request.op === 'render' ? doc.render(request.page, request.dpi, request.maxPixels) : doc.textLayer(request.page, request.dpi);
}

/** Answers requests with `handler` until the parent disconnects. */
export function serve(handler: (request: RenderRequest) => Promise<unknown> = handle): void {
  process.on('message', async (request: RenderRequest) => {
    let reply: RenderReply;
    try {
      reply = { id: request.id, ok: true, value: await handler(request) };
    } catch (err) {
      const e = err instanceof OcrError ? err : new OcrError('PDF_UNREADABLE', 'The PDF could not be read');
      reply = { id: request.id, ok: false, error: { code: e.code, message: e.message, page: e.page } };
    }
    process.send!(reply);
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.send && process.argv[1] === import.meta.filename) serve();
