/**
 * PDF pages to grey rasters with pdfjs-dist and @napi-rs/canvas, one page at a time. pdfjs is pointed
 * at the standard fonts, CMaps and image decoders it ships, so PDFs without embedded fonts and CJK
 * PDFs render; JavaScript in a PDF is never run (scripting is a viewer feature this never enables).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getDocument, OPS, Util, type PDFDocumentProxy, type PDFPageProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { ReadLine } from '../ocr/assemble.ts';
import { OcrError } from '../errors.ts';
import type { Raster } from '../ocr/raster.ts';

const PDFJS_DIR = dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
const asset = (name: string) => join(PDFJS_DIR, name) + '/';

export interface RenderedPage {
  raster: Raster;
  /** The resolution actually used: lower than asked when the page would exceed the pixel limit. */
  dpi: number;
}

export interface PdfOpenOptions {
  password?: string;
}

/** A page's own text layer as lines with their boxes, in pixels of the page rendered at the same dpi. */
export interface TextLayer {
  lines: ReadLine[];
  width: number;
  height: number;
}

export class PdfDocument {
  private readonly doc: PDFDocumentProxy;

  private constructor(doc: PDFDocumentProxy) {
    this.doc = doc;
  }

  /** Opens a PDF held in memory; pdfjs takes over the buffer. */
  static async open(data: Uint8Array, options: PdfOpenOptions = {}): Promise<PdfDocument> {
    const task = getDocument({
      data,
      password: options.password,
      standardFontDataUrl: asset('standard_fonts'),
      cMapUrl: asset('cmaps'),
      cMapPacked: true,
      wasmUrl: asset('wasm'),
      iccUrl: asset('iccs'),
      verbosity: 0,
      stopAtErrors: false,
    });
    try {
      const doc = await task.promise;
      if (doc.numPages < 1) throw new Error('no pages');
      // A page tree that loops or points nowhere fails here, as the document's error, not the page's.
      (await doc.getPage(1)).cleanup();
      return new PdfDocument(doc);
    } catch (err) {
      await task.destroy().catch(() => undefined);
      const name = (err as { name?: string }).name;
      if (name === 'PasswordException') {
        throw new OcrError('PDF_ENCRYPTED', options.password ? 'The password does not open this PDF' : 'The PDF is encrypted: send its password in the "password" field');
      }
      throw new OcrError('PDF_UNREADABLE', 'The PDF could not be read');
    }
  }

  get pageCount(): number {
    return this.doc.numPages;
  }

  private async page(n: number): Promise<PDFPageProxy> {
    try {
      return await this.doc.getPage(n);
    } catch {
      throw new OcrError('PAGE_UNREADABLE', `Page ${n} could not be found in the PDF's page tree`, n);
    }
  }

  /** Renders page `n` (1-based) at `dpi`, scaled down so it has at most `maxPixels` pixels. */
  async render(n: number, dpi: number, maxPixels: number): Promise<RenderedPage> {
    const page = await this.page(n);
    try {
      const natural = page.getViewport({ scale: 1 });
      let scale = dpi / 72;
      const pixels = natural.width * natural.height * scale * scale;
      if (pixels > maxPixels) scale *= Math.sqrt(maxPixels / pixels);
      const viewport = page.getViewport({ scale });
      const width = Math.max(1, Math.floor(viewport.width)), height = Math.max(1, Math.floor(viewport.height));
      const factory = this.doc.canvasFactory as { create(w: number, h: number): { canvas: CanvasLike; context: unknown } };
      const { canvas, context } = factory.create(width, height);
      await page.render({ canvas: canvas as never, canvasContext: context as never, viewport, background: 'rgb(255,255,255)' }).promise;
      const raster = greyFromRgba(canvas.data(), width, height);
      canvas.width = 0; // release the pixel memory now, not at the next GC
      if (await hasUndecodableImage(page)) throw new OcrError('PAGE_UNREADABLE', `Page ${n} has an embedded image that could not be decoded`, n);
      return { raster, dpi: scale * 72 };
    } catch (err) {
      if (err instanceof OcrError) throw err;
      throw new OcrError('PAGE_UNREADABLE', `Page ${n} could not be rendered`, n);
    } finally {
      page.cleanup();
    }
  }

  /** The page's own text layer at `dpi`: one line per run of text items up to an end of line. */
  async textLayer(n: number, dpi: number): Promise<TextLayer> {
    const page = await this.page(n);
    try {
      const viewport = page.getViewport({ scale: dpi / 72 });
      const content = await page.getTextContent();
      const lines: ReadLine[] = [];
      let text = '', x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      const endLine = () => {
        if (text.trim()) lines.push({ text: text.trim().replace(/\s+/g, ' '), confidence: 1, box: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]] });
        text = '';
        x0 = y0 = Infinity;
        x1 = y1 = -Infinity;
      };
      for (const item of content.items) {
        if (!('str' in item)) continue;
        if (item.str) {
          const [, , c, d, x, y] = Util.transform(viewport.transform, item.transform) as number[];
          const size = Math.hypot(c!, d!);
          text += item.str;
          x0 = Math.min(x0, x!);
          x1 = Math.max(x1, x! + item.width * viewport.scale);
          y0 = Math.min(y0, y! - size);
          y1 = Math.max(y1, y!);
        }
        if (item.hasEOL) endLine();
      }
      endLine();
      return { lines, width: Math.floor(viewport.width), height: Math.floor(viewport.height) };
    } catch {
      throw new OcrError('PAGE_UNREADABLE', `The text of page ${n} could not be read`, n);
    } finally {
      page.cleanup();
    }
  }

  async close(): Promise<void> {
    await this.doc.loadingTask.destroy();
  }
}

const IMAGE_OPS = new Set<number>([OPS.paintImageXObject, OPS.paintImageXObjectRepeat]);

/**
 * pdfjs draws nothing for an image it cannot decode and only logs a warning; the image's object is
 * then null. A scan page whose image is lost must be reported, not read as a blank page.
 */
async function hasUndecodableImage(page: PDFPageProxy): Promise<boolean> {
  const ops = await page.getOperatorList();
  for (let i = 0; i < ops.fnArray.length; i++) {
    if (!IMAGE_OPS.has(ops.fnArray[i]!)) continue;
    const id = (ops.argsArray[i] as unknown[])[0];
    if (typeof id !== 'string') continue;
    const objs = id.startsWith('g_') ? page.commonObjs : page.objs;
    if (objs.has(id) && objs.get(id) === null) return true;
  }
  return false;
}

interface CanvasLike {
  width: number;
  data(): Uint8Array;
}

/** Luma of premultiplied RGBA on white paper. */
export function greyFromRgba(rgba: Uint8Array, width: number, height: number): Raster {
  const out = new Uint8Array(width * height);
  for (let i = 0, j = 0; j < out.length; i += 4, j++) {
    const a = rgba[i + 3]!;
    const luma = (77 * rgba[i]! + 150 * rgba[i + 1]! + 29 * rgba[i + 2]!) >> 8;
    out[j] = a === 255 ? luma : luma + 255 - a;
  }
  return { data: out, width, height, channels: 1 };
}

/**
 * Whether a text layer is real text worth using instead of OCR: enough characters, mostly letters,
 * digits and ordinary punctuation (a scanner's junk layer or a glyph soup without a Unicode map fails).
 */
export function isUsableTextLayer(text: string): boolean {
  const chars = [...text.replace(/\s+/g, '')];
  if (chars.length < 20) return false;
  if (text.includes('\ufffd')) return false;
  const ordinary = chars.filter((c) => /[\p{L}\p{N}.,;:!?'"()\-–—%&/$€£@#*+=]/u.test(c)).length;
  return ordinary / chars.length >= 0.9;
}
