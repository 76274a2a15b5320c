/**
 * ALTO 4.2 (http://www.loc.gov/standards/alto/ns-v4#): a `Page` per page read, its `PrintSpace`
 * around the text, a `TextBlock` per area, `TextLine`s, a `String` per word with `SP` between words,
 * positions in pixels of the page image (MeasurementUnit pixel), word confidence WC from 0 to 1.
 */
import type { JobResult, OcrLine, PageResult } from '../contracts.ts';
import { pageAreas, rectOf, type Rect } from './page-areas.ts';
import { SOFTWARE } from './software.ts';
import { escapeXml } from './xml.ts';

const position = (r: Rect) => `HPOS="${r.x0}" VPOS="${r.y0}" WIDTH="${r.x1 - r.x0}" HEIGHT="${r.y1 - r.y0}"`;

/** The blank between two neighbouring words along the text's direction (across it: the line's extent). */
function spaceBetween(a: Rect, b: Rect, line: Rect, horizontal: boolean): Rect {
  if (horizontal) {
    const x0 = Math.min(a.x1, b.x1);
    return { x0, x1: Math.max(x0, Math.max(a.x0, b.x0)), y0: line.y0, y1: line.y1 };
  }
  const y0 = Math.min(a.y1, b.y1);
  return { x0: line.x0, x1: line.x1, y0, y1: Math.max(y0, Math.max(a.y0, b.y0)) };
}

function lineAlto(line: OcrLine, id: string, horizontal: boolean, nextString: () => string): string {
  const rect = rectOf([line.box, ...line.words.map((w) => w.box)]);
  const words = line.words.map((w) => rectOf([w.box]));
  const parts = line.words.flatMap((w, i) => {
    const string = `<String ID="${nextString()}" CONTENT="${escapeXml(w.text)}" ${position(words[i]!)} WC="${w.confidence.toFixed(2)}"/>`;
    return i === 0 ? [string] : [`<SP ${position(spaceBetween(words[i - 1]!, words[i]!, rect, horizontal))}/>`, string];
  });
  return `          <TextLine ID="${id}" ${position(rect)}>\n${parts.map((p) => `            ${p}`).join('\n')}\n          </TextLine>`;
}

function pageAlto(page: PageResult): string {
  const n = page.page_number;
  const counters = { block: 0, line: 0, string: 0 };
  const next = (kind: keyof typeof counters) => `${kind}_${n}_${++counters[kind]}`;
  const horizontal = page.rotation % 180 === 0;
  const rotation = page.rotation ? ` ROTATION="${page.rotation}"` : '';
  const areas = pageAreas(page);
  const blocks = areas.map((area) => {
    const lines = area.paragraphs.flat();
    const body = lines.map((line) => lineAlto(line, next('line'), horizontal, () => next('string')));
    return `        <TextBlock ID="${next('block')}" ${position(rectOf(lines.map((l) => l.box)))}${rotation}>\n${body.join('\n')}\n        </TextBlock>`;
  });
  const printed = areas.length ? rectOf(areas.flatMap((a) => a.paragraphs.flat().map((l) => l.box))) : { x0: 0, y0: 0, x1: 0, y1: 0 };
  return [
    `    <Page ID="page_${n}" PHYSICAL_IMG_NR="${n}" WIDTH="${page.width}" HEIGHT="${page.height}" PC="${page.avg_confidence.toFixed(4)}">`,
    `      <PrintSpace ${position(printed)}>`,
    ...blocks,
    '      </PrintSpace>',
    '    </Page>',
  ].join('\n');
}

/** The job's pages read (failed pages have none) as one ALTO document. */
export function writeAlto(result: JobResult): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
      ' xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# http://www.loc.gov/standards/alto/v4/alto-4-2.xsd" SCHEMAVERSION="4.2">',
    '  <Description>',
    '    <MeasurementUnit>pixel</MeasurementUnit>',
    '    <sourceImageInformation>',
    `      <fileName>${escapeXml(result.metrics.filename)}</fileName>`,
    '    </sourceImageInformation>',
    '    <OCRProcessing ID="ocr_processing">',
    '      <ocrProcessingStep>',
    `        <processingDateTime>${escapeXml(result.metrics.end_time)}</processingDateTime>`,
    '        <processingSoftware>',
    `          <softwareName>${escapeXml(SOFTWARE.name)}</softwareName>`,
    `          <softwareVersion>${escapeXml(SOFTWARE.version)}</softwareVersion>`,
    `          <applicationDescription>${escapeXml(SOFTWARE.engine)}</applicationDescription>`,
    '        </processingSoftware>',
    '      </ocrProcessingStep>',
    '    </OCRProcessing>',
    '  </Description>',
    '  <Layout>',
    ...result.results.map(pageAlto),
    '  </Layout>',
    '</alto>',
    '',
  ].join('\n');
}
