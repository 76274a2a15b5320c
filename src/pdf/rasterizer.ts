/**
 * PDF pages to grey rasters with pdfjs-dist and @napi-rs/canvas, one page at a time. pdfjs is pointed
 * at the standard fonts, CMaps and image decoders it ships, so PDFs without embedded fonts and CJK
 * PDFs render; JavaScript in a PDF is never run (scripting is a viewer feature this never enables).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getDocument, type PDFDocumentProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
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

/** Text of a page's own text layer, lines joined by \n. */
export type TextLayer = string;

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
      return new PdfDocument(await task.promise);
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

  /** Renders page `n` (1-based) at `dpi`, scaled down so it has at most `maxPixels` pixels. */
  async render(n: number, dpi: number, maxPixels: number): Promise<RenderedPage> {
    const page = await this.doc.getPage(n);
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
      return { raster, dpi: scale * 72 };
    } catch (err) {
      if (err instanceof OcrError) throw err;
      throw new OcrError('PAGE_UNREADABLE', `Page ${n} could not be rendered`, n);
    } finally {
      page.cleanup();
    }
  }

  /** The page's own text, in content order, or '' when it has none. */
  async textLayer(n: number): Promise<TextLayer> {
    const page = await this.doc.getPage(n);
    try {
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        text += item.str + (item.hasEOL ? '\n' : '');
      }
      return text.replace(/[ \t]+\n/g, '\n').trim();
    } finally {
      page.cleanup();
    }
  }

  async close(): Promise<void> {
    await this.doc.loadingTask.destroy();
  }
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
