/**
 * hOCR 1.2 (http://kba.github.io/hocr-spec/1.2/): XHTML with one `ocr_page` per page read, its
 * areas as `ocr_carea`, then `ocr_par`, `ocr_line` and `ocrx_word`, each with its `bbox` in pixels
 * of the page image (the image as sent, or the PDF page rendered at the result's dpi).
 */
import type { JobResult, OcrLine, PageResult } from '../contracts.ts';
import { pageAreas, rectOf, type Rect } from './page-areas.ts';
import { SOFTWARE } from './software.ts';
import { escapeXml } from './xml.ts';

const bbox = (r: Rect) => `bbox ${r.x0} ${r.y0} ${r.x1} ${r.y1}`;

function lineHocr(line: OcrLine, id: string, rotation: number, nextWord: () => string): string {
  const words = line.words.map((w) => rectOf([w.box]));
  const rect = rectOf([line.box, ...line.words.map((w) => w.box)]);
  const ink = rectOf(line.words.map((w) => w.box));
  // The text's height across its direction: x_size is the size of the line's letters in pixels.
  const size = rotation % 180 === 0 ? ink.y1 - ink.y0 : ink.x1 - ink.x0;
  const angle = rotation ? `; textangle ${rotation}` : '';
  const spans = line.words.map(
    (w, i) =>
      `<span class="ocrx_word" id="${nextWord()}" title="${bbox(words[i]!)}; x_wconf ${Math.round(w.confidence * 100)}">${escapeXml(w.text)}</span>`,
  );
  return `     <span class="ocr_line" id="${id}" title="${bbox(rect)}${angle}; x_size ${size}">${spans.join(' ')}</span>`;
}

function pageHocr(page: PageResult, source: string): string {
  const n = page.page_number;
  const counters = { block: 0, par: 0, line: 0, word: 0 };
  const next = (kind: keyof typeof counters) => `${kind}_${n}_${++counters[kind]}`;
  const props = [
    ...(page.dpi === undefined ? [`image "${source.replace(/"/g, "'")}"`] : []),
    `bbox 0 0 ${page.width} ${page.height}`,
    `ppageno ${n - 1}`,
    ...(page.dpi === undefined ? [] : [`scan_res ${Math.round(page.dpi)} ${Math.round(page.dpi)}`]),
  ];
  const areas = pageAreas(page).map((area) => {
    const paragraphs = area.paragraphs.map((lines) => {
      const body = lines.map((line) => lineHocr(line, next('line'), page.rotation, () => next('word')));
      return `    <p class="ocr_par" id="${next('par')}" title="${bbox(rectOf(lines.map((l) => l.box)))}">\n${body.join('\n')}\n    </p>`;
    });
    const rect = rectOf(area.paragraphs.flat().map((l) => l.box));
    return `   <div class="ocr_carea" id="${next('block')}" title="${bbox(rect)}">\n${paragraphs.join('\n')}\n   </div>`;
  });
  return `  <div class="ocr_page" id="page_${n}" title="${escapeXml(props.join('; '))}">\n${areas.join('\n')}${areas.length ? '\n' : ''}  </div>`;
}

/** The job's pages read (failed pages have none) as one hOCR document. */
export function writeHocr(result: JobResult): string {
  const source = result.metrics.filename;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
    '<html xmlns="http://www.w3.org/1999/xhtml">',
    ' <head>',
    `  <title>${escapeXml(source)}</title>`,
    '  <meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>',
    `  <meta name="ocr-system" content="${escapeXml(`${SOFTWARE.name} ${SOFTWARE.version} (${SOFTWARE.engine})`)}"/>`,
    '  <meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"/>',
    `  <meta name="ocr-number-of-pages" content="${result.metrics.total_pages}"/>`,
    ' </head>',
    ' <body>',
    ...result.results.map((page) => pageHocr(page, source)),
    ' </body>',
    '</html>',
    '',
  ].join('\n');
}
