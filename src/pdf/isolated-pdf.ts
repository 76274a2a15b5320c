/**
 * A PDF read by the node's render pool (src/pdf/render-pool.ts): parsed and rendered in one of a
 * bounded number of child processes, each with a memory cap and a deadline per request. A crash, a
 * runaway or a blow-up fails the open as PDF_UNREADABLE or the page as PAGE_UNREADABLE, with the
 * reason; the next page goes to a fresh child, which opens the document again from its file. The
 * node itself never runs the untrusted parser.
 */
import { randomUUID } from 'node:crypto';
import { OcrError } from '../errors.ts';
import { ChildFailure } from '../isolation/isolated-process.ts';
import type { RenderedPage, TextLayer } from './rasterizer.ts';
import type { DocumentRef } from './render-process.ts';
import type { RenderPool } from './render-pool.ts';

export class IsolatedPdf {
  private readonly ref: DocumentRef;
  private readonly pool: RenderPool;
  private readonly pages: number;

  private constructor(ref: DocumentRef, pool: RenderPool, pages: number) {
    this.ref = ref;
    this.pool = pool;
    this.pages = pages;
  }

  static async open(path: string, password: string | undefined, pool: RenderPool): Promise<IsolatedPdf> {
    const ref: DocumentRef = { doc: randomUUID(), path, ...(password === undefined ? {} : { password }) };
    try {
      const { pages } = (await pool.request({ op: 'open', ...ref })) as { pages: number };
      return new IsolatedPdf(ref, pool, pages);
    } catch (err) {
      pool.forget(ref.doc);
      if (err instanceof ChildFailure) throw new OcrError('PDF_UNREADABLE', `The PDF could not be opened: its parser ${err.message}`);
      throw err;
    }
  }

  get pageCount(): number {
    return this.pages;
  }

  render(page: number, dpi: number, maxPixels: number): Promise<RenderedPage> {
    return this.pageRequest(this.pool.request({ op: 'render', ...this.ref, page, dpi, maxPixels }), page) as Promise<RenderedPage>;
  }

  textLayer(page: number, dpi: number): Promise<TextLayer> {
    return this.pageRequest(this.pool.request({ op: 'textLayer', ...this.ref, page, dpi }), page) as Promise<TextLayer>;
  }

  /** The children that have the document open close it. */
  close(): void {
    this.pool.forget(this.ref.doc);
  }

  private async pageRequest(request: Promise<unknown>, page: number): Promise<unknown> {
    try {
      return await request;
    } catch (err) {
      if (err instanceof ChildFailure)
        throw new OcrError('PAGE_UNREADABLE', `Page ${page} could not be rendered: its renderer ${err.message}`, page);
      throw err;
    }
  }
}
