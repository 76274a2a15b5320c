/**
 * A one-page PDF of an image with its invisible text layer: the page is the image at its own
 * resolution (the one it states, else 96 dpi, as img2pdf assumes). A plain grey or RGB JPEG goes in
 * as it is (DCTDecode, not decoded); any other image is converted losslessly with sharp (turned as its
 * EXIF orientation says and laid on white, as the OCR read it) and its PNG-filtered rows go in as
 * they are (FlateDecode with the PNG predictor).
 */
import { PDFContext, PDFRawStream, PDFWriter } from 'pdf-lib';
import sharp from 'sharp';
import { OcrError } from '../../errors.ts';
import type { PageResult } from '../../contracts.ts';
import { GlyphlessFont } from './glyphless-font.ts';
import { updatedId } from './incremental-update.ts';
import { addTextLayer, PdfEdit, updateInfo } from './pdf-edit.ts';
import { addPdfA } from './pdfa.ts';

/** The resolution of an image that states none. */
const DEFAULT_DPI = 96;

interface EmbeddedImage {
  width: number;
  height: number;
  /** The resolution the image states, if it states one. */
  density: number | undefined;
  entries: Record<string, unknown>;
  data: Uint8Array;
}

/** The PNG's IHDR fields and its IDAT data joined: a zlib stream of filtered rows, what PDF's PNG predictor reads. */
function pngRows(png: Buffer): { width: number; height: number; depth: number; colours: number; data: Buffer } {
  let at = 8;
  const idat: Buffer[] = [];
  let header: Buffer | undefined;
  while (at + 8 <= png.length) {
    const length = png.readUInt32BE(at),
      type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') header = body;
    else if (type === 'IDAT') idat.push(body);
    at += 12 + length;
  }
  if (!header || header[12] !== 0 || (header[9] !== 0 && header[9] !== 2)) throw new Error('not a plain grey or RGB PNG');
  return {
    width: header.readUInt32BE(0),
    height: header.readUInt32BE(4),
    depth: header[8]!,
    colours: header[9] === 2 ? 3 : 1,
    data: Buffer.concat(idat),
  };
}

async function embeddedImage(image: Uint8Array): Promise<EmbeddedImage> {
  const meta = await sharp(image).metadata();
  const { width = 0, height = 0 } = meta;
  const plainJpeg =
    meta.format === 'jpeg' &&
    (meta.orientation ?? 1) === 1 &&
    (meta.channels === 1 || meta.channels === 3) &&
    (meta.space === 'b-w' || meta.space === 'srgb');
  if (plainJpeg) {
    return {
      width,
      height,
      density: meta.density,
      data: image,
      entries: { Filter: 'DCTDecode', ColorSpace: meta.channels === 1 ? 'DeviceGray' : 'DeviceRGB', BitsPerComponent: 8 },
    };
  }
  const grey = meta.channels !== undefined && meta.channels <= 2;
  const decoded = sharp(image, { limitInputPixels: false }).autoOrient().flatten({ background: '#ffffff' });
  const png = await (grey ? decoded.toColourspace('b-w') : decoded.toColourspace('srgb'))
    .png({ compressionLevel: 6, adaptiveFiltering: true })
    .toBuffer();
  const rows = pngRows(png);
  return {
    width: rows.width,
    height: rows.height,
    density: meta.density,
    data: rows.data,
    entries: {
      Filter: 'FlateDecode',
      ColorSpace: rows.colours === 1 ? 'DeviceGray' : 'DeviceRGB',
      BitsPerComponent: rows.depth,
      DecodeParms: { Predictor: 15, Colors: rows.colours, BitsPerComponent: rows.depth, Columns: rows.width },
    },
  };
}

export interface ImagePdfOptions {
  now?: Date;
  /** Write PDF/A-2b (an image page always allows it). */
  pdfa?: boolean;
}

/** A one-page PDF of `image` with the text `page` read from it. */
export async function writeImagePdf(image: Uint8Array, page: PageResult, options: ImagePdfOptions = {}): Promise<Uint8Array> {
  const now = options.now ?? new Date();
  let embedded: EmbeddedImage;
  try {
    embedded = await embeddedImage(image);
  } catch {
    throw new OcrError('IMAGE_UNREADABLE', 'The image could not be put in a PDF');
  }
  const { density } = embedded;
  const dpi = density !== undefined && density >= 10 ? density : DEFAULT_DPI;
  const [w, h] = [(embedded.width * 72) / dpi, (embedded.height * 72) / dpi];
  const context = PDFContext.create();
  const edit = new PdfEdit(context);
  const font = new GlyphlessFont(context);
  const picture = edit.add(
    PDFRawStream.of(
      context.obj({ Type: 'XObject', Subtype: 'Image', Width: embedded.width, Height: embedded.height, ...embedded.entries }),
      embedded.data,
    ),
  );
  const pagesRef = context.nextRef();
  const pageDict = context.obj({
    Type: 'Page',
    Parent: pagesRef,
    MediaBox: [0, 0, w, h],
    Resources: { XObject: { Im0: picture } },
    Contents: [edit.stream(`q ${w} 0 0 ${h} 0 0 cm /Im0 Do Q\n`)],
  });
  const pageRef = edit.add(pageDict);
  edit.assign(pagesRef, context.obj({ Type: 'Pages', Kids: [pageRef], Count: 1 }));
  context.trailerInfo.Root = edit.add(context.obj({ Type: 'Catalog', Pages: pagesRef }));
  addTextLayer(edit, pageRef, pageDict, page, font, {});
  font.write(
    (object) => edit.add(object),
    (ref, object) => edit.assign(ref, object),
  );
  const info = updateInfo(edit, now);
  if (options.pdfa) addPdfA(edit, info, now);
  context.trailerInfo.Info = info;
  context.trailerInfo.ID = updatedId(context, undefined, `${image.length} ${now.toISOString()} image`);
  return PDFWriter.forContext(context, Infinity).serializeToBuffer();
}
