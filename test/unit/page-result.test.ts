import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import type { Box, PageOcr } from '../../src/contracts.ts';
import { parseJobOptions, parseOutputFormats, parseResultQuery } from '../../src/jobs/job-options.ts';
import { ocrPageResult, renderedPageResult, textLayerPageResult } from '../../src/jobs/page-result.ts';
import { DEFAULT_LAYOUT } from '../../src/ocr/config.ts';

const read: PageOcr = {
  width: 100,
  height: 50,
  rotation: 0,
  text: 'Hello',
  lines: [],
  paragraphs: [],
  blocks: [],
  avg_confidence: 0.9,
  timings: { decode_ms: 0, det_ms: 12.345, cls_ms: 1.04, rec_ms: 30.06, layout_ms: 0.44, total_ms: 43.449 },
};

test('a worker reply carries the page number, the worker and timings to 0.1 ms', () => {
  const page = ocrPageResult(4, read, 'w1');
  expect(Object.keys(page)).toEqual([
    'page_number',
    'width',
    'height',
    'rotation',
    'text',
    'lines',
    'paragraphs',
    'blocks',
    'avg_confidence',
    'timings',
    'worker',
    'source',
  ]);
  assert.deepEqual(page.timings, { decode_ms: 0, det_ms: 12.3, cls_ms: 1, rec_ms: 30.1, layout_ms: 0.4, total_ms: 43.4 });
  assert.equal(page.source, 'ocr');
});

test('a rendered page counts its render time as decoding, and says the dpi it was rendered at', () => {
  const page = renderedPageResult(ocrPageResult(2, read, 'w1'), 199.96, 100.04);
  assert.equal(page.dpi, 200);
  assert.equal(page.timings.decode_ms, 100);
  assert.equal(page.timings.total_ms, 143.4);
  assert.equal(page.timings.det_ms, 12.3);
});

test('a text-layer page is laid out like an OCR page, its extraction time as decoding', () => {
  const box = (y: number): Box => [
    [10, y],
    [90, y],
    [90, y + 10],
    [10, y + 10],
  ];
  const line = (text: string, y: number) => ({ text, confidence: 1, box: box(y), words: [{ text, confidence: 1, box: box(y) }] });
  const lines = [line('second', 30), line('first', 10)];
  const page = textLayerPageResult(1, { lines, width: 100, height: 50 }, DEFAULT_LAYOUT, 150, 3.14159, 'r1');
  assert.deepEqual(
    page.lines.map((l) => l.text),
    ['first', 'second'],
    'in reading order',
  );
  assert.deepEqual(page.timings, { decode_ms: 3.1, det_ms: 0, cls_ms: 0, rec_ms: 0, layout_ms: 0, total_ms: 3.1 });
  assert.deepEqual([page.source, page.dpi, page.worker], ['text_layer', 150, 'r1']);
});

test('job options: defaults for missing or empty fields, INVALID_PARAMS naming the field', () => {
  const dpi = { default: 200, min: 72, max: 600 };
  expect(parseJobOptions({}, dpi)).toEqual({
    dpi: 200,
    text_layer: 'ocr',
    language: undefined,
    password: undefined,
    output: 'json',
    pdfa: false,
  });
  expect(parseJobOptions({ dpi: '', text_layer: 'auto', language: 'de', password: 'pw', output: 'pdf', pdfa: 'true' }, dpi)).toEqual({
    dpi: 200,
    text_layer: 'auto',
    language: 'de',
    password: 'pw',
    output: 'pdf',
    pdfa: true,
  });
  assert.throws(() => parseJobOptions({ output: 'docx' }, dpi), {
    code: 'INVALID_PARAMS',
    message: 'output must be one of json, txt, md, hocr, alto, pdf',
  });
  assert.throws(() => parseJobOptions({ pdfa: 'yes' }, dpi), { code: 'INVALID_PARAMS', message: 'pdfa must be "true" or "false"' });
  expect(parseResultQuery({})).toEqual({ format: undefined, pdfa: undefined });
  expect(parseResultQuery({ format: 'alto', pdfa: 'false' })).toEqual({ format: 'alto', pdfa: false });
  assert.throws(() => parseResultQuery({ format: 'PDF' }), {
    code: 'INVALID_PARAMS',
    message: 'format must be one of json, txt, md, hocr, alto, pdf',
  });
  expect(parseOutputFormats('json, pdf,hocr,pdf', '--formats')).toEqual(['json', 'pdf', 'hocr']);
  assert.throws(() => parseOutputFormats('json,doc', '--formats'), {
    code: 'INVALID_PARAMS',
    message: '--formats must be one of json, txt, md, hocr, alto, pdf',
  });
  assert.throws(() => parseOutputFormats(' , ', '--formats'), { code: 'INVALID_PARAMS' });
  assert.throws(() => parseJobOptions({ dpi: '700' }, dpi), { code: 'INVALID_PARAMS', message: 'dpi must be a number from 72 to 600' });
  assert.throws(() => parseJobOptions({ dpi: 'abc' }, dpi), { code: 'INVALID_PARAMS' });
  assert.throws(() => parseJobOptions({ text_layer: 'both' }, dpi), {
    code: 'INVALID_PARAMS',
    message: 'text_layer must be "auto" or "ocr"',
  });
});
