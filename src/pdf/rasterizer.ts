/**
 * PDF pages to grey rasters with pdfjs-dist and @napi-rs/canvas, one page at a time. pdfjs is pointed
 * at the standard fonts, CMaps and image decoders it ships, so PDFs without embedded fonts and CJK
 * PDFs render; JavaScript in a PDF is never run (scripting is a viewer feature this never enables).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getDocument, OPS, Util, type PDFDocumentProxy, type PDFPageProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
import sharp from 'sharp';
import type { ReadLine } from '../ocr/stages/layout/assemble.ts';
import { OcrError } from '../errors.ts';
import type { Raster } from '../ocr/image/raster.ts';
import { ScanJpegs, type PageJpeg } from './scan-jpeg.ts';
import { textLayerLine, type TextRun } from './text-words.ts';

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
  private readonly scans: ScanJpegs | undefined;

  private constructor(doc: PDFDocumentProxy, scans: ScanJpegs | undefined) {
    this.doc = doc;
    this.scans = scans;
  }

  /** Opens a PDF held in memory; pdfjs takes over the buffer. */
  static async open(data: Uint8Array, options: PdfOpenOptions = {}): Promise<PdfDocument> {
    // pdf-lib copies what it keeps, so it reads the buffer before pdfjs takes it.
    const scans = options.password ? undefined : await ScanJpegs.load(data);
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
      return new PdfDocument(doc, scans);
    } catch (err) {
      await task.destroy().catch(() => undefined);
      const name = (err as { name?: string }).name;
      if (name === 'PasswordException') {
        throw new OcrError(
          'PDF_ENCRYPTED',
          options.password ? 'The password does not open this PDF' : 'The PDF is encrypted: send its password in the "password" field',
        );
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

  /**
   * Page `n` (1-based) as a grey raster at `dpi`, scaled down so it has at most `maxPixels` pixels.
   * A page that is one scanned image filling it is taken at the image's own resolution when that is
   * close to `dpi`: the decoded pixels as they are, without drawing them again (measured on the eval
   * corpus's 200 dpi scans: 160-250 ms a page instead of 250-580), and a plain JPEG there is decoded
   * by libjpeg-turbo instead of pdfjs (big_100p: 18 ms instead of 120).
   */
  async render(n: number, dpi: number, maxPixels: number): Promise<RenderedPage> {
    const page = await this.page(n);
    try {
      const jpeg = this.scans && page.rotate === 0 && page.ref ? this.scans.pageJpeg(page.ref) : undefined;
      const fast = jpeg && (await scanFromJpeg(jpeg, page, dpi, maxPixels));
      if (fast) return fast;
      const ops = await page.getOperatorList();
      if (await hasUndecodableImage(page, ops))
        throw new OcrError('PAGE_UNREADABLE', `Page ${n} has an embedded image that could not be decoded`, n);
      return (await scannedPage(page, ops, dpi, maxPixels)) ?? (await this.draw(page, dpi, maxPixels));
    } catch (err) {
      if (err instanceof OcrError) throw err;
      throw new OcrError('PAGE_UNREADABLE', `Page ${n} could not be rendered`, n);
    } finally {
      page.cleanup();
    }
  }

  private async draw(page: PDFPageProxy, dpi: number, maxPixels: number): Promise<RenderedPage> {
    const natural = page.getViewport({ scale: 1 });
    let scale = dpi / 72;
    const pixels = natural.width * natural.height * scale * scale;
    if (pixels > maxPixels) scale *= Math.sqrt(maxPixels / pixels);
    const viewport = page.getViewport({ scale });
    const width = Math.max(1, Math.floor(viewport.width)),
      height = Math.max(1, Math.floor(viewport.height));
    const factory = this.doc.canvasFactory as { create(w: number, h: number): { canvas: CanvasLike; context: unknown } };
    const { canvas, context } = factory.create(width, height);
    await page.render({ canvas: canvas as never, canvasContext: context as never, viewport, background: 'rgb(255,255,255)' }).promise;
    const raster = greyFromRgba(canvas.data(), width, height);
    canvas.width = 0; // release the pixel memory now, not at the next GC
    return { raster, dpi: scale * 72 };
  }

  /** The page's own text layer at `dpi`: one line per run of text items up to an end of line. */
  async textLayer(n: number, dpi: number): Promise<TextLayer> {
    const page = await this.page(n);
    try {
      const viewport = page.getViewport({ scale: dpi / 72 });
      const content = await page.getTextContent();
      const lines: ReadLine[] = [];
      let runs: TextRun[] = [];
      const endLine = () => {
        const line = textLayerLine(runs);
        if (line) lines.push(line);
        runs = [];
      };
      for (const item of content.items) {
        if (!('str' in item)) continue;
        if (item.str) {
          const [, , c, d, x, y] = Util.transform(viewport.transform, item.transform) as number[];
          const size = Math.hypot(c!, d!);
          const family = content.styles[item.fontName]?.fontFamily ?? 'sans-serif';
          runs.push({ str: item.str, x: x!, width: item.width * viewport.scale, top: y! - size, bottom: y!, family });
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

type OperatorList = Awaited<ReturnType<PDFPageProxy['getOperatorList']>>;

/** An image of the page's operator list, once pdfjs has decoded it (null when it could not). */
function decodedImage(page: PDFPageProxy, id: string): Promise<DecodedImage | null> {
  const objs = id.startsWith('g_') ? page.commonObjs : page.objs;
  return new Promise((resolve) => {
    objs.get(id, resolve);
  });
}

/**
 * pdfjs draws nothing for an image it cannot decode and only logs a warning; the image's object is
 * then null. A scan page whose image is lost must be reported, not read as a blank page.
 */
async function hasUndecodableImage(page: PDFPageProxy, ops: OperatorList): Promise<boolean> {
  for (let i = 0; i < ops.fnArray.length; i++) {
    if (!IMAGE_OPS.has(ops.fnArray[i]!)) continue;
    const id = (ops.argsArray[i] as unknown[])[0];
    if (typeof id === 'string' && (await decodedImage(page, id)) === null) return true;
  }
  return false;
}

/** Operators that change nothing on a page that only paints one image. */
const NEUTRAL_OPS = new Set<number>([OPS.save, OPS.restore, OPS.transform, OPS.dependency]);

// pdfjs's ImageKind.
const GRAYSCALE_1BPP = 1,
  RGB_24BPP = 2,
  RGBA_32BPP = 3;

interface DecodedImage {
  width: number;
  height: number;
  kind: number;
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * The page's pixels when the page is exactly one unrotated image that fills it, at a resolution
 * between 0.75 and 1.5 times `dpi` and within `maxPixels`; else undefined (the page is drawn).
 */
async function scannedPage(page: PDFPageProxy, ops: OperatorList, dpi: number, maxPixels: number): Promise<RenderedPage | undefined> {
  if (page.rotate !== 0 || !ops.fnArray.every((fn) => NEUTRAL_OPS.has(fn) || IMAGE_OPS.has(fn))) return undefined;
  const paints = ops.fnArray.flatMap((fn, i) => (IMAGE_OPS.has(fn) ? [i] : []));
  if (paints.length !== 1 || ops.fnArray[paints[0]!] !== OPS.paintImageXObject) return undefined;
  // The transform in force: the product of the `transform` operators before the paint (save/restore
  // pairs around them are the only nesting a scan page has; anything else is drawn the slow way).
  let ctm = [1, 0, 0, 1, 0, 0];
  let depth = 0;
  for (let i = 0; i < paints[0]!; i++) {
    if (ops.fnArray[i] === OPS.save) depth++;
    else if (ops.fnArray[i] === OPS.restore) return undefined;
    else if (ops.fnArray[i] === OPS.transform) ctm = Util.transform(ctm, ops.argsArray[i] as number[]) as number[];
  }
  if (depth > 1 || !fillsPage(ctm, page)) return undefined;
  const id = (ops.argsArray[paints[0]!] as unknown[])[0] as string;
  const image = await decodedImage(page, id);
  const nativeDpi = image?.data ? scanDpi(image, page, dpi, maxPixels) : undefined;
  const raster = nativeDpi && greyFromImage(image!);
  return raster ? { raster, dpi: nativeDpi } : undefined;
}

const near = (value: number, expected: number) => Math.abs(value - expected) <= 0.5;

/** Whether an image painted with transform `ctm` covers the page's visible area exactly, unrotated. */
function fillsPage(ctm: readonly number[], page: PDFPageProxy): boolean {
  const [x0, y0, x1, y1] = page.view as [number, number, number, number];
  return near(ctm[0]!, x1 - x0) && ctm[1] === 0 && ctm[2] === 0 && near(ctm[3]!, y1 - y0) && near(ctm[4]!, x0) && near(ctm[5]!, y0);
}

/** The resolution of an image filling the page, when it is square, within `maxPixels` and 0.75-1.5 times `dpi`. */
function scanDpi(image: { width: number; height: number }, page: PDFPageProxy, dpi: number, maxPixels: number): number | undefined {
  const [x0, y0, x1, y1] = page.view as [number, number, number, number];
  const nativeDpi = (image.width / (x1 - x0)) * 72;
  const fits = image.width * image.height <= maxPixels && nativeDpi >= 0.75 * dpi && nativeDpi <= 1.5 * dpi;
  return fits && near((image.height / (y1 - y0)) * 72, nativeDpi) ? nativeDpi : undefined;
}

/**
 * A scan page from its JPEG, decoded by sharp; undefined when the page is not drawn as it is or the
 * JPEG is not exactly what its dictionary says (pdfjs then decodes it, or reports it damaged).
 */
async function scanFromJpeg(found: PageJpeg, page: PDFPageProxy, dpi: number, maxPixels: number): Promise<RenderedPage | undefined> {
  const nativeDpi = fillsPage(found.ctm, page) ? scanDpi(found, page, dpi, maxPixels) : undefined;
  if (!nativeDpi) return undefined;
  try {
    // pdfjs ignores EXIF orientation, so no autoOrient here either.
    const image = sharp(found.jpeg, { failOn: 'warning', limitInputPixels: found.width * found.height });
    const meta = await image.metadata();
    if (meta.format !== 'jpeg' || meta.width !== found.width || meta.height !== found.height || meta.channels !== found.components)
      return undefined;
    const data = await image.toColourspace('b-w').raw().toBuffer();
    return {
      raster: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: found.width, height: found.height, channels: 1 },
      dpi: nativeDpi,
    };
  } catch {
    return undefined;
  }
}

/** A decoded PDF image as grey pixels; undefined for kinds pdfjs does not hand out as plain pixels. */
function greyFromImage({ width, height, kind, data }: DecodedImage): Raster | undefined {
  const out = new Uint8Array(width * height);
  if (kind === GRAYSCALE_1BPP) {
    // Rows padded to whole bytes; a set bit is white.
    const rowBytes = (width + 7) >> 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[y * width + x] = data[y * rowBytes + (x >> 3)]! & (128 >> (x & 7)) ? 255 : 0;
    }
  } else if (kind === RGB_24BPP) {
    for (let i = 0, j = 0; j < out.length; i += 3, j++) out[j] = (77 * data[i]! + 150 * data[i + 1]! + 29 * data[i + 2]!) >> 8;
  } else if (kind === RGBA_32BPP) {
    // Not premultiplied; a soft mask's transparency shows the white paper.
    for (let i = 0, j = 0; j < out.length; i += 4, j++) {
      const luma = (77 * data[i]! + 150 * data[i + 1]! + 29 * data[i + 2]!) >> 8,
        a = data[i + 3]!;
      out[j] = (luma * a + 255 * (255 - a) + 127) / 255;
    }
  } else return undefined;
  return { data: out, width, height, channels: 1 };
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
