/** PDFs built in the test with pdf-lib: vector text in a standard (not embedded) font, page images, a broken page. */
import { degrees, PDFDocument, StandardFonts } from 'pdf-lib';

export interface TextPage {
  lines: string[];
  /** Page size in points; Letter by default. */
  size?: [number, number];
  /** The page's /Rotate. */
  rotate?: 0 | 90 | 180 | 270;
}

export type PageSpec = TextPage | { png: Buffer } | { jpeg: Buffer };

/** Builds a PDF page by page: vector text in Helvetica (left to pdfjs's standard font data) or a full-page image. */
export async function buildPdf(pages: PageSpec[]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const spec of pages) {
    if ('png' in spec || 'jpeg' in spec) {
      const image = 'png' in spec ? await doc.embedPng(spec.png) : await doc.embedJpg(spec.jpeg);
      const page = doc.addPage([image.width * 0.5, image.height * 0.5]); // 144 dpi
      page.drawImage(image, { x: 0, y: 0, width: page.getWidth(), height: page.getHeight() });
      continue;
    }
    const [w, h] = spec.size ?? [612, 792];
    const page = doc.addPage([w, h]);
    spec.lines.forEach((line, i) => page.drawText(line, { x: 54, y: h - 72 - i * 22, size: 14, font }));
    if (spec.rotate) page.setRotation(degrees(spec.rotate));
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

/** Damages the compressed data of the `nth` image in a PDF (same length, so the xref stays valid). */
export function corruptImage(pdf: Buffer, nth = 0): Buffer {
  const out = Buffer.from(pdf);
  let from = 0;
  for (let k = 0; ; k++) {
    const at = out.indexOf('/Subtype /Image', from, 'latin1');
    if (at < 0) throw new Error('no image to corrupt');
    const stream = out.indexOf('stream', at, 'latin1') + 'stream'.length + 1;
    if (k === nth) {
      for (let i = 0; i < 400; i++) out[stream + i] = (i * 37) & 0xff;
      return out;
    }
    from = stream;
  }
}
