/**
 * Changing a parsed PDF: pdf-lib's objects with a record of which are new or changed (all an
 * incremental update writes), and the changes both PDF writers make: a page's text layer, and the
 * document information naming this program.
 */
import { deflateSync } from 'node:zlib';
import { PDFArray, PDFDict, PDFHexString, PDFName, PDFRawStream, PDFRef, PDFString, type PDFContext, type PDFObject } from 'pdf-lib';
import type { PageResult } from '../../contracts.ts';
import { SOFTWARE } from '../software.ts';
import type { GlyphlessFont } from './glyphless-font.ts';
import { inherited, pixelsToUser } from './page-frame.ts';
import { textLayerOperators } from './text-layer.ts';

/** The objects of a PDF being changed: pdf-lib's context, and which objects are new or changed. */
export class PdfEdit {
  readonly context: PDFContext;
  readonly changed = new Set<PDFRef>();

  constructor(context: PDFContext) {
    this.context = context;
  }

  add(object: PDFObject): PDFRef {
    const ref = this.context.register(object);
    this.changed.add(ref);
    return ref;
  }

  assign(ref: PDFRef, object: PDFObject): void {
    this.context.assign(ref, object);
    this.changed.add(ref);
  }

  touch(ref: PDFRef): void {
    this.changed.add(ref);
  }

  stream(content: string | Uint8Array, entries: Record<string, unknown> = {}): PDFRef {
    const data = typeof content === 'string' ? Buffer.from(content, 'latin1') : content;
    return this.add(PDFRawStream.of(this.context.obj({ ...entries, Filter: 'FlateDecode' }), deflateSync(data, { level: 9 })));
  }

  lookup(value: PDFObject | undefined): PDFObject | undefined {
    return value instanceof PDFRef ? this.context.lookup(value) : value;
  }
}

/** Gives the page a font resource for the layer, by a name none of its fonts has; returns the name. */
function addFontResource(edit: PdfEdit, page: PDFDict, font: PDFRef): string {
  const own = page.get(PDFName.of('Resources'));
  // A page's own direct resources change with it; shared or inherited ones are copied into the page.
  const found = own instanceof PDFDict ? own : inherited(edit.context, page, 'Resources');
  const resources = own instanceof PDFDict ? own : found instanceof PDFDict ? found.clone(edit.context) : edit.context.obj({});
  const fonts = edit.lookup(resources.get(PDFName.of('Font')));
  const copy = fonts instanceof PDFDict ? fonts.clone(edit.context) : edit.context.obj({});
  let name = 'OCRText';
  for (let n = 1; copy.has(PDFName.of(name)); n++) name = `OCRText${n}`;
  copy.set(PDFName.of(name), font);
  resources.set(PDFName.of('Font'), copy);
  page.set(PDFName.of('Resources'), resources);
  return name;
}

/** The page's content streams as references, in order. */
export function contentStreams(context: PDFContext, page: PDFDict): PDFObject[] {
  const contents = page.get(PDFName.of('Contents'));
  const resolved = contents instanceof PDFRef ? context.lookup(contents) : contents;
  if (resolved instanceof PDFArray) return resolved.asArray();
  return contents instanceof PDFRef ? [contents] : [];
}

/**
 * Adds the text layer on top of the page: its content is wrapped in q ... Q (so a transform it leaves
 * in force does not move the layer), then the layer follows. The one "q" stream is shared by every page.
 */
export function addTextLayer(
  edit: PdfEdit,
  pageRef: PDFRef,
  page: PDFDict,
  result: PageResult,
  font: GlyphlessFont,
  shared: { prefix?: PDFRef },
): void {
  const fontName = addFontResource(edit, page, font.ref);
  const toUser = pixelsToUser(edit.context, page, result.width, result.height);
  const layer = textLayerOperators(result.lines, result.rotation, { font, fontName, toUser });
  const existing = contentStreams(edit.context, page);
  if (existing.length > 0) {
    shared.prefix ??= edit.stream('q\n');
    page.set(PDFName.of('Contents'), edit.context.obj([shared.prefix, ...existing, edit.stream(`\nQ\n${layer}`)]));
  } else {
    page.set(PDFName.of('Contents'), edit.context.obj([edit.stream(layer)]));
  }
  edit.touch(pageRef);
}

const producer = () => `${SOFTWARE.name} ${SOFTWARE.version}`;

/** A text string: literal when it is printable ASCII, else UTF-16 (PDF text strings). */
export const textString = (text: string) =>
  /^[\x20-\x7e]*$/.test(text) && !/[()\\]/.test(text) ? PDFString.of(text) : PDFHexString.fromText(text);

/** The document information dictionary with this program as its producer and `now` as its modification date. */
export function updateInfo(edit: PdfEdit, now: Date): PDFRef {
  const { trailerInfo } = edit.context;
  const current = edit.lookup(trailerInfo.Info);
  const info = current instanceof PDFDict ? current : edit.context.obj({});
  info.set(PDFName.of('Producer'), textString(producer()));
  info.set(PDFName.of('ModDate'), PDFString.fromDate(now));
  if (!info.has(PDFName.of('CreationDate'))) info.set(PDFName.of('CreationDate'), PDFString.fromDate(now));
  if (trailerInfo.Info instanceof PDFRef && current instanceof PDFDict) {
    edit.touch(trailerInfo.Info);
    return trailerInfo.Info;
  }
  return edit.add(info);
}
