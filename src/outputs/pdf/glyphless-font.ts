/**
 * The glyphless font of the invisible text layer, after Tesseract's PDF renderer: a Type0 font with
 * Identity-H encoding over a CIDFontType2 whose every CID maps to glyph 1 of a tiny TrueType font (two
 * empty glyphs, half an em wide), and a ToUnicode map that gives the text back. Nothing is drawn, so
 * any Unicode text, Chinese included, takes the same few hundred bytes of font. CIDs are given per
 * document, 1, 2, 3... in order of first use (code points beyond U+FFFF fit too, unlike CID = UTF-16
 * code unit), and glyph 0 (.notdef) is never used (PDF/A forbids it, and Acrobat dislikes it).
 */
import { deflateSync } from 'node:zlib';
import { PDFRawStream, PDFString, type PDFContext, type PDFDict, type PDFRef } from 'pdf-lib';

/** The glyph's advance in thousandths of the font size, its ascent and descent: the box each character of the layer spans. */
export const GLYPH_ADVANCE = 500;
export const ASCENT = 800;
export const DESCENT = -200;
const FONT_NAME = 'GlyphLessFont';

class Tables {
  private readonly parts: Buffer[] = [];
  u16(...values: number[]): this {
    for (const v of values) {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(v & 0xffff);
      this.parts.push(b);
    }
    return this;
  }
  i16(...values: number[]): this {
    for (const v of values) {
      const b = Buffer.alloc(2);
      b.writeInt16BE(v);
      this.parts.push(b);
    }
    return this;
  }
  u32(...values: number[]): this {
    for (const v of values) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(v >>> 0);
      this.parts.push(b);
    }
    return this;
  }
  bytes(data: Buffer): this {
    this.parts.push(data);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const t = () => new Tables();

function checksum(data: Buffer): number {
  const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
  let sum = 0;
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

/** A TrueType font of two empty glyphs (.notdef and the one every CID shows), 1000 units an em. */
function buildTrueType(): Buffer {
  const glyphs = 2;
  const name = Buffer.from(FONT_NAME, 'latin1');
  // Name records: family (1), full name (4) and PostScript name (6), Macintosh Roman.
  const nameIds = [1, 4, 6];
  const tables: Record<string, Buffer> = {
    'OS/2': t()
      .u16(1)
      .i16(GLYPH_ADVANCE)
      .u16(400, 5, 0)
      .i16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
      .bytes(Buffer.alloc(10))
      .u32(0, 0, 0, 0)
      .bytes(Buffer.from('NONE', 'latin1'))
      .u16(0x40, 0x20, 0xffff)
      .i16(ASCENT, DESCENT, 0)
      .u16(ASCENT, -DESCENT)
      .u32(1, 0)
      .done(),
    cmap: t().u16(0, 1).u16(3, 1).u32(12).u16(4, 24, 0, 2, 2, 0, 0, 0xffff, 0, 0xffff, 1, 0).done(),
    glyf: Buffer.alloc(0),
    head: t()
      .u32(0x00010000, 0x00010000, 0, 0x5f0f3cf5)
      .u16(0x000b, 1000)
      .u32(0, 0, 0, 0)
      .i16(0, DESCENT, GLYPH_ADVANCE, ASCENT)
      .u16(0, 8)
      .i16(2, 0, 0)
      .done(),
    hhea: t().u32(0x00010000).i16(ASCENT, DESCENT, 0).u16(GLYPH_ADVANCE).i16(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0).u16(glyphs).done(),
    hmtx: t().u16(GLYPH_ADVANCE, 0, GLYPH_ADVANCE, 0).done(),
    loca: t().u16(0, 0, 0).done(),
    maxp: t().u32(0x00010000).u16(glyphs, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0).done(),
    name: t()
      .u16(0, nameIds.length, 6 + 12 * nameIds.length)
      .bytes(Buffer.concat(nameIds.map((id) => t().u16(1, 0, 0, id, name.length, 0).done())))
      .bytes(name)
      .done(),
    post: t().u32(0x00030000, 0).i16(-100, 50).u32(1, 0, 0, 0, 0).done(),
  };
  const tags = Object.keys(tables).sort();
  const count = tags.length;
  const power = 2 ** Math.floor(Math.log2(count));
  const directory = t()
    .u32(0x00010000)
    .u16(count, power * 16, Math.log2(power), count * 16 - power * 16);
  let offset = 12 + 16 * count;
  const bodies: Buffer[] = [];
  for (const tag of tags) {
    const data = tables[tag]!;
    directory.bytes(Buffer.from(tag, 'latin1')).u32(checksum(data), offset, data.length);
    const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
    bodies.push(padded);
    offset += padded.length;
  }
  const font = Buffer.concat([directory.done(), ...bodies]);
  // head.checkSumAdjustment makes the whole font sum to 0xB1B0AFBA.
  const headOffset = 12 + 16 * count + bodies.slice(0, tags.indexOf('head')).reduce((s, b) => s + b.length, 0);
  font.writeUInt32BE((0xb1b0afba - checksum(font)) >>> 0, headOffset + 8);
  return font;
}

let trueType: Buffer | undefined;

/** The font program (FontFile2), built once. */
export function glyphlessTrueType(): Buffer {
  trueType ??= buildTrueType();
  return trueType;
}

const utf16Hex = (codePoint: number) => Buffer.from(String.fromCodePoint(codePoint), 'utf16le').swap16().toString('hex').toUpperCase();
const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

/** The ToUnicode CMap of CIDs 1..n, `codePoints[k - 1]` for CID k. */
function toUnicodeCMap(codePoints: readonly number[]): string {
  const blocks: string[] = [];
  // At most 100 mappings a block, as the CMap format asks.
  for (let from = 0; from < codePoints.length; from += 100) {
    const chunk = codePoints.slice(from, from + 100);
    blocks.push(`${chunk.length} beginbfchar\n${chunk.map((cp, i) => `<${hex4(from + i + 1)}> <${utf16Hex(cp)}>`).join('\n')}\nendbfchar`);
  }
  return [
    '/CIDInit /ProcSet findresource begin',
    '12 dict begin',
    'begincmap',
    '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
    '/CMapName /Adobe-Identity-UCS def',
    '/CMapType 2 def',
    '1 begincodespacerange',
    '<0000> <FFFF>',
    'endcodespacerange',
    ...blocks,
    'endcmap',
    'CMapName currentdict /CMap defineresource pop',
    'end',
    'end',
    '',
  ].join('\n');
}

function flateStream(context: PDFContext, data: Uint8Array, entries: Record<string, unknown> = {}): PDFRawStream {
  return PDFRawStream.of(context.obj({ ...entries, Filter: 'FlateDecode' }), deflateSync(data, { level: 9 }));
}

/** The document's glyphless font: encodes text as it is laid out, then writes its objects once. */
export class GlyphlessFont {
  private readonly context: PDFContext;
  private reserved: PDFRef | undefined;
  private readonly cids = new Map<number, number>();

  constructor(context: PDFContext) {
    this.context = context;
  }

  /** The Type0 font's reference, reserved when a page first needs it, written by `write` at the end. */
  get ref(): PDFRef {
    this.reserved ??= this.context.nextRef();
    return this.reserved;
  }

  /** Whether any page uses the font (and `write` has something to write). */
  get used(): boolean {
    return this.reserved !== undefined;
  }

  /** The text's characters as a hex string of two-byte CIDs. */
  encode(text: string): string {
    let hex = '';
    for (const char of text) {
      const codePoint = char.codePointAt(0)!;
      let cid = this.cids.get(codePoint);
      if (cid === undefined) {
        cid = this.cids.size + 1;
        if (cid > 0xffff) throw new Error('more than 65535 different characters in one document');
        this.cids.set(codePoint, cid);
      }
      hex += hex4(cid);
    }
    return hex;
  }

  /** Writes the font's objects, when a page uses it, with `add` (which registers an object and returns its reference). */
  write(add: (object: PDFDict | PDFRawStream) => PDFRef, assign: (ref: PDFRef, object: PDFDict) => void): void {
    if (!this.reserved) return;
    const { context } = this;
    const program = glyphlessTrueType();
    const fontFile = add(flateStream(context, program, { Length1: program.length }));
    const descriptor = add(
      context.obj({
        Type: 'FontDescriptor',
        FontName: FONT_NAME,
        Flags: 4,
        FontBBox: [0, DESCENT, GLYPH_ADVANCE, ASCENT],
        ItalicAngle: 0,
        Ascent: ASCENT,
        Descent: DESCENT,
        CapHeight: ASCENT,
        StemV: 80,
        FontFile2: fontFile,
      }),
    );
    // Every CID in use (and 0) shows glyph 1.
    const map = Buffer.alloc(2 * (this.cids.size + 1));
    for (let cid = 0; cid <= this.cids.size; cid++) map.writeUInt16BE(1, 2 * cid);
    const cidToGid = add(flateStream(context, map));
    const cidFont = add(
      context.obj({
        Type: 'Font',
        Subtype: 'CIDFontType2',
        BaseFont: FONT_NAME,
        CIDSystemInfo: { Registry: PDFString.of('Adobe'), Ordering: PDFString.of('Identity'), Supplement: 0 },
        FontDescriptor: descriptor,
        DW: GLYPH_ADVANCE,
        CIDToGIDMap: cidToGid,
      }),
    );
    const toUnicode = add(flateStream(context, Buffer.from(toUnicodeCMap([...this.cids.keys()]), 'latin1')));
    assign(
      this.ref,
      context.obj({
        Type: 'Font',
        Subtype: 'Type0',
        BaseFont: FONT_NAME,
        Encoding: 'Identity-H',
        DescendantFonts: [cidFont],
        ToUnicode: toUnicode,
      }),
    );
  }
}
