/**
 * Where a page's pixels lie in its PDF user space. OCR boxes are in pixels of the page as pdfjs
 * renders it: the visible box (CropBox within MediaBox) turned by /Rotate, top-left first. This is
 * pdfjs's viewport (PageViewport) inverted, with the scale taken from the rendered size, so that a
 * scan taken at its own pixels and a drawn page map alike.
 */
import { PDFArray, PDFDict, PDFName, PDFNumber, PDFRef, type PDFContext, type PDFObject } from 'pdf-lib';

/** x' = a x + c y + e, y' = b x + d y + f. */
export type Affine = [number, number, number, number, number, number];

/** Parents walked up for an inherited attribute at most: a page tree is never this deep, a loop is stopped. */
const MAX_TREE_DEPTH = 32;

/** A page attribute, its own or inherited from the page tree (MediaBox, CropBox, Rotate, Resources). */
export function inherited(context: PDFContext, page: PDFDict, key: string): PDFObject | undefined {
  let node: PDFObject | undefined = page;
  for (let depth = 0; node instanceof PDFDict && depth < MAX_TREE_DEPTH; depth++) {
    const own = node.get(PDFName.of(key));
    if (own !== undefined) return own instanceof PDFRef ? context.lookup(own) : own;
    const parent: PDFObject | undefined = node.get(PDFName.of('Parent'));
    node = parent instanceof PDFRef ? context.lookup(parent) : parent;
  }
  return undefined;
}

/** A rectangle as [x0, y0, x1, y1] with x0 < x1 and y0 < y1, or undefined when it is not four numbers or is empty. */
function rectangle(context: PDFContext, value: PDFObject | undefined): [number, number, number, number] | undefined {
  if (!(value instanceof PDFArray) || value.size() !== 4) return undefined;
  const n = value.asArray().map((v) => (v instanceof PDFRef ? context.lookup(v) : v));
  if (!n.every((v) => v instanceof PDFNumber)) return undefined;
  const [a, b, c, d] = n.map((v) => v.asNumber()) as [number, number, number, number];
  const r: [number, number, number, number] = [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)];
  return r[2] > r[0] && r[3] > r[1] ? r : undefined;
}

/** The page's visible box and turn, as pdfjs reads them. */
export function pageView(context: PDFContext, page: PDFDict): { view: [number, number, number, number]; rotate: 0 | 90 | 180 | 270 } {
  const media = rectangle(context, inherited(context, page, 'MediaBox')) ?? [0, 0, 612, 792];
  const crop = rectangle(context, inherited(context, page, 'CropBox'));
  let view = media;
  if (crop) {
    const cut: [number, number, number, number] = [
      Math.max(crop[0], media[0]),
      Math.max(crop[1], media[1]),
      Math.min(crop[2], media[2]),
      Math.min(crop[3], media[3]),
    ];
    if (cut[2] > cut[0] && cut[3] > cut[1]) view = cut;
  }
  const value = inherited(context, page, 'Rotate');
  const degrees = value instanceof PDFNumber ? value.asNumber() : 0;
  const rotate = (degrees % 90 === 0 ? ((degrees % 360) + 360) % 360 : 0) as 0 | 90 | 180 | 270;
  return { view, rotate };
}

/** The map from pixels of the page rendered `width` x `height` to its user space. */
export function pixelsToUser(context: PDFContext, page: PDFDict, width: number, height: number): Affine {
  const {
    view: [x0, y0, x1, y1],
    rotate,
  } = pageView(context, page);
  const across = rotate % 180 === 0 ? [x1 - x0, y1 - y0] : [y1 - y0, x1 - x0];
  const sx = width / across[0]!,
    sy = height / across[1]!;
  switch (rotate) {
    case 0:
      return [1 / sx, 0, 0, -1 / sy, x0, y1];
    case 90:
      return [0, 1 / sx, 1 / sy, 0, x0, y0];
    case 180:
      return [-1 / sx, 0, 0, 1 / sy, x1, y0];
    case 270:
      return [0, -1 / sx, -1 / sy, 0, x1, y1];
  }
}
