/**
 * The one place a PageResult is made: from the page an engine read (the worker's reply), from a PDF
 * page's own text layer, and from a rendered page's reply with its render time. Timings are rounded
 * to 0.1 ms here and nowhere else.
 */
import type { PageOcr, PageResult, PageTimings } from '../contracts.ts';
import type { LayoutParams } from '../ocr/config.ts';
import { assemblePage } from '../ocr/stages/layout/assemble.ts';
import type { TextLayer } from '../pdf/rasterizer.ts';

const round1 = (ms: number) => Math.round(ms * 10) / 10;

function rounded(t: PageTimings): PageTimings {
  return {
    decode_ms: round1(t.decode_ms),
    det_ms: round1(t.det_ms),
    cls_ms: round1(t.cls_ms),
    rec_ms: round1(t.rec_ms),
    layout_ms: round1(t.layout_ms),
    total_ms: round1(t.total_ms),
  };
}

/** A page the engine read, as the worker `worker` replies it. */
export function ocrPageResult(pageNumber: number, page: PageOcr, worker: string): PageResult {
  return { page_number: pageNumber, ...page, timings: rounded(page.timings), worker, source: 'ocr' };
}

/** A PDF page read from its own text layer in `ms` (counted as decoding), laid out like an OCR page. */
export function textLayerPageResult(
  pageNumber: number,
  layer: TextLayer,
  layout: LayoutParams,
  dpi: number,
  ms: number,
  worker: string,
): PageResult {
  return {
    page_number: pageNumber,
    width: layer.width,
    height: layer.height,
    rotation: 0,
    ...assemblePage(layer.lines, layout),
    timings: rounded({ decode_ms: ms, det_ms: 0, cls_ms: 0, rec_ms: 0, layout_ms: 0, total_ms: ms }),
    worker,
    source: 'text_layer',
    dpi,
  };
}

/** A PDF page rendered at `dpi` (an image job's image: decoded, no dpi) in `renderMs` (counted as decoding), then read by a worker. */
export function renderedPageResult(read: PageResult, dpi: number | undefined, renderMs: number): PageResult {
  const t = read.timings;
  const timings = rounded({ ...t, decode_ms: t.decode_ms + renderMs, total_ms: t.total_ms + renderMs });
  return dpi === undefined ? { ...read, timings } : { ...read, dpi: round1(dpi), timings };
}
