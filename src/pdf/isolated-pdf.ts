/**
 * A PDF opened in a child process of its own (src/pdf/render-process.ts) with a memory cap and a
 * deadline per request (src/isolation/isolated-process.ts). A crash, a runaway or a blow-up fails
 * the open as PDF_UNREADABLE or the page as PAGE_UNREADABLE, with the reason; the next page gets a
 * fresh child that opens the document again. The node itself never runs the untrusted parser.
 */
import { fileURLToPath } from 'node:url';
import { OcrError } from '../errors.ts';
import { ChildFailure, IsolatedProcess, type IsolationLimits } from '../isolation/isolated-process.ts';
import type { RenderedPage, TextLayer } from './rasterizer.ts';

const ENTRY = fileURLToPath(new URL('./render-process.ts', import.meta.url));

export class IsolatedPdf {
  private pages = 0;
  private readonly path: string;
  private readonly password: string | undefined;
  private readonly child: IsolatedProcess;

  private constructor(path: string, password: string | undefined, child: IsolatedProcess) {
    this.path = path;
    this.password = password;
    this.child = child;
  }

  /** `entry` replaces the render process (tests put a faulty one there). */
  static async open(path: string, password: string | undefined, limits: IsolationLimits, entry = ENTRY): Promise<IsolatedPdf> {
    const doc = new IsolatedPdf(path, password, new IsolatedProcess(entry, limits));
    try {
      doc.pages = ((await doc.opened()) as { pages: number }).pages;
      return doc;
    } catch (err) {
      await doc.close();
      if (err instanceof ChildFailure) throw new OcrError('PDF_UNREADABLE', `The PDF could not be opened: its parser ${err.message}`);
      throw err;
    }
  }

  get pageCount(): number {
    return this.pages;
  }

  render(page: number, dpi: number, maxPixels: number): Promise<RenderedPage> {
    return this.pageRequest({ op: 'render', page, dpi, maxPixels }, page) as Promise<RenderedPage>;
  }

  textLayer(page: number, dpi: number): Promise<TextLayer> {
    return this.pageRequest({ op: 'textLayer', page, dpi }, page) as Promise<TextLayer>;
  }

  close(): Promise<void> {
    return this.child.close();
  }

  private opened(): Promise<unknown> {
    return this.child.request({ op: 'open', path: this.path, password: this.password });
  }

  private async pageRequest(request: object, page: number): Promise<unknown> {
    try {
      // After a crash the document is opened again in the new child first.
      if (!this.child.running) await this.opened();
      return await this.child.request(request);
    } catch (err) {
      if (err instanceof ChildFailure)
        throw new OcrError('PAGE_UNREADABLE', `Page ${page} could not be rendered: its renderer ${err.message}`, page);
      throw err;
    }
  }
}
