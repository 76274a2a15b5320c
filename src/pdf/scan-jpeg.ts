/**
 * The JPEG of a scanned page, read straight from the file with pdf-lib: libjpeg-turbo (sharp) decodes
 * a 200 dpi letter scan in about 20 ms, pdfjs's JavaScript decoder in about 120 ms, and in a job that
 * time is taken from the OCR engines sharing the cores. Only a page that is nothing but one plain
 * DCT image qualifies; anything else about the page or the image returns undefined, and the page
 * goes through pdfjs as before.
 */
import { decodePDFRawStream, PDFArray, PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream, PDFRef, type PDFObject } from 'pdf-lib';

/** A page's one image: its encoded bytes, its size, and the transform it is painted with. */
export interface PageJpeg {
  jpeg: Uint8Array;
  width: number;
  height: number;
  /** 1 for grey, 3 for RGB. */
  components: 1 | 3;
  /** The content stream's transform in force at the paint (a, b, c, d, e, f). */
  ctm: number[];
}

/** Parents walked up for an inherited /Resources at most: a page tree is never this deep, a loop is stopped. */
const MAX_TREE_DEPTH = 32;

type Token = { number: number } | { name: string } | { op: string };

/** The tokens of a content stream made only of numbers, names and operators; undefined for anything else. */
function tokens(content: string): Token[] | undefined {
  const out: Token[] = [];
  for (const word of content.split(/[\s\0]+/)) {
    if (word === '') continue;
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(word)) out.push({ number: Number(word) });
    else if (/^\/[^\s/[\]()<>{}%]+$/.test(word)) out.push({ name: word.slice(1) });
    else if (/^[A-Za-z]+$/.test(word)) out.push({ op: word });
    else return undefined;
  }
  return out;
}

function multiply(m: number[], n: number[]): number[] {
  return [
    m[0]! * n[0]! + m[2]! * n[1]!,
    m[1]! * n[0]! + m[3]! * n[1]!,
    m[0]! * n[2]! + m[2]! * n[3]!,
    m[1]! * n[2]! + m[3]! * n[3]!,
    m[0]! * n[4]! + m[2]! * n[5]! + m[4]!,
    m[1]! * n[4]! + m[3]! * n[5]! + m[5]!,
  ];
}

/**
 * The image painted by a content stream of the form `q a b c d e f cm /Name Do Q` (any number of
 * `cm`, one level of `q`/`Q`), with the transform in force; undefined for any other content.
 */
export function singlePaint(content: string): { name: string; ctm: number[] } | undefined {
  const list = tokens(content);
  if (!list) return undefined;
  let ctm = [1, 0, 0, 1, 0, 0];
  let depth = 0,
    painted: string | undefined;
  const operands: Token[] = [];
  for (const token of list) {
    if (!('op' in token)) {
      operands.push(token);
      continue;
    }
    const args = operands.splice(0);
    if (token.op === 'q' && args.length === 0 && !painted && depth === 0) depth++;
    else if (token.op === 'Q' && args.length === 0 && painted && depth === 1) depth--;
    else if (token.op === 'cm' && !painted && args.length === 6 && args.every((a) => 'number' in a))
      ctm = multiply(
        ctm,
        args.map((a) => a.number),
      );
    else if (token.op === 'Do' && !painted && args.length === 1 && 'name' in args[0]!) painted = args[0].name;
    else return undefined;
  }
  return painted && operands.length === 0 ? { name: painted, ctm } : undefined;
}

/** The pages of one PDF as pdf-lib sees them, looked up by the object number pdfjs gives each page. */
export class ScanJpegs {
  private readonly doc: PDFDocument;

  private constructor(doc: PDFDocument) {
    this.doc = doc;
  }

  /** Parses the file, or undefined when pdf-lib cannot or the file is encrypted (its streams would need the key). */
  static async load(bytes: Uint8Array): Promise<ScanJpegs | undefined> {
    try {
      const doc = await PDFDocument.load(bytes, { ignoreEncryption: true, updateMetadata: false, throwOnInvalidObject: true });
      return doc.isEncrypted ? undefined : new ScanJpegs(doc);
    } catch {
      return undefined;
    }
  }

  /** The page's JPEG when the page paints one plain DCT image and nothing else (no annotations either). */
  pageJpeg(ref: { num: number; gen: number }): PageJpeg | undefined {
    try {
      const page = this.lookup(PDFRef.of(ref.num, ref.gen));
      if (!(page instanceof PDFDict)) return undefined;
      const annotations = this.lookup(page.get(PDFName.of('Annots')));
      if (annotations instanceof PDFArray && annotations.size() > 0) return undefined;
      const content = this.content(page.get(PDFName.of('Contents')));
      const paint = content === undefined ? undefined : singlePaint(content);
      if (!paint) return undefined;
      const xobjects = this.lookup(this.resources(page)?.get(PDFName.of('XObject')));
      const image = xobjects instanceof PDFDict ? this.lookup(xobjects.get(PDFName.of(paint.name))) : undefined;
      if (!(image instanceof PDFRawStream)) return undefined;
      const plain = this.plainJpeg(image.dict);
      return plain && { jpeg: image.contents, ...plain, ctm: paint.ctm };
    } catch {
      return undefined;
    }
  }

  private lookup(value: PDFObject | undefined): PDFObject | undefined {
    return value instanceof PDFRef ? this.doc.context.lookup(value) : value;
  }

  /** The page's resources, its own or inherited from the page tree. */
  private resources(page: PDFDict): PDFDict | undefined {
    let node: PDFObject | undefined = page;
    for (let depth = 0; node instanceof PDFDict && depth < MAX_TREE_DEPTH; depth++) {
      const own = this.lookup(node.get(PDFName.of('Resources')));
      if (own instanceof PDFDict) return own;
      node = this.lookup(node.get(PDFName.of('Parent')));
    }
    return undefined;
  }

  /** The page's content as text: one stream, or an array of streams joined by white space. */
  private content(value: PDFObject | undefined): string | undefined {
    const object = this.lookup(value);
    const parts = object instanceof PDFArray ? object.asArray().map((o) => this.lookup(o)) : [object];
    if (parts.length === 0 || !parts.every((p) => p instanceof PDFRawStream)) return undefined;
    return parts.map((p) => Buffer.from(decodePDFRawStream(p).decode()).toString('latin1')).join('\n');
  }

  /** Width, height and components of an image dictionary that is a plain 8-bit grey or RGB JPEG. */
  private plainJpeg(dict: PDFDict): { width: number; height: number; components: 1 | 3 } | undefined {
    const get = (key: string) => this.lookup(dict.get(PDFName.of(key)));
    const filter = get('Filter');
    const filters = filter instanceof PDFArray ? filter.asArray().map((f) => this.lookup(f)) : [filter];
    if (get('Subtype') !== PDFName.of('Image') || filters.length !== 1 || filters[0] !== PDFName.of('DCTDecode')) return undefined;
    // Anything that changes what the pixels mean is left to pdfjs.
    if (['DecodeParms', 'Decode', 'SMask', 'Mask', 'ImageMask', 'OC'].some((key) => get(key) !== undefined)) return undefined;
    const bits = get('BitsPerComponent'),
      width = get('Width'),
      height = get('Height');
    if (!(bits instanceof PDFNumber) || bits.asNumber() !== 8 || !(width instanceof PDFNumber) || !(height instanceof PDFNumber))
      return undefined;
    const components = this.components(get('ColorSpace'));
    return components && { width: width.asNumber(), height: height.asNumber(), components };
  }

  /** 1 or 3 for DeviceGray, DeviceRGB or an ICC profile of that many components; undefined for any other space. */
  private components(space: PDFObject | undefined): 1 | 3 | undefined {
    if (space === PDFName.of('DeviceGray')) return 1;
    if (space === PDFName.of('DeviceRGB')) return 3;
    if (space instanceof PDFArray && space.size() === 2 && this.lookup(space.get(0)) === PDFName.of('ICCBased')) {
      const profile = this.lookup(space.get(1));
      const n = profile instanceof PDFRawStream ? this.lookup(profile.dict.get(PDFName.of('N'))) : undefined;
      if (n instanceof PDFNumber && (n.asNumber() === 1 || n.asNumber() === 3)) return n.asNumber() as 1 | 3;
    }
    return undefined;
  }
}
