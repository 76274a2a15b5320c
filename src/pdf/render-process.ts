/**
 * A child process of the node's render pool (src/pdf/render-pool.ts) that parses and renders
 * untrusted PDFs: if pdfjs or a native decoder crashes, loops or balloons on a file, only this process
 * is killed. It serves one request at a time and keeps the few documents it read last open (every
 * request names its document's file, so a fresh child opens it again), closing the oldest beyond that.
 */
import { readFile } from 'node:fs/promises';
import { serve } from '../isolation/serve.ts';
import { PdfDocument } from './rasterizer.ts';

/** The document a request is about: a key the pool chose, its file and its password. */
export interface DocumentRef {
  doc: string;
  path: string;
  password?: string;
}

export type RenderRequest = { id: number; drop?: string[] } & (
  | ({ op: 'open' } & DocumentRef)
  | ({ op: 'render'; page: number; dpi: number; maxPixels: number } & DocumentRef)
  | ({ op: 'textLayer'; page: number; dpi: number } & DocumentRef)
);

/** Documents kept open per child: a job's next page usually finds its document here. */
export const OPEN_DOCUMENTS = 4;

const open = new Map<string, PdfDocument>();

async function documentOf(ref: DocumentRef): Promise<PdfDocument> {
  let doc = open.get(ref.doc);
  if (doc)
    open.delete(ref.doc); // re-inserted last: the map's order is the order of use
  else doc = await PdfDocument.open(new Uint8Array(await readFile(ref.path)), { password: ref.password });
  open.set(ref.doc, doc);
  for (const [key, oldest] of open) {
    if (open.size <= OPEN_DOCUMENTS) break;
    open.delete(key);
    await oldest.close();
  }
  return doc;
}

export async function handle(request: RenderRequest): Promise<unknown> {
  for (const key of request.drop ?? []) {
    await open.get(key)?.close();
    open.delete(key);
  }
  const doc = await documentOf(request);
  if (request.op === 'open') return { pages: doc.pageCount };
  return request.op === 'render' ? doc.render(request.page, request.dpi, request.maxPixels) : doc.textLayer(request.page, request.dpi);
}

export function serveRendering(handler: (request: RenderRequest) => Promise<unknown> = handle): void {
  serve(handler, 'PDF_UNREADABLE', 'The PDF could not be read');
}

if (process.send && process.argv[1] === import.meta.filename) serveRendering();
