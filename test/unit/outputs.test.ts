/** The output writers on results made in the test: hOCR and ALTO as XML, the glyphless font, the sRGB profile, PDF dates. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import sharp from 'sharp';
import type { Box, JobResult, PageResult } from '../../src/contracts.ts';
import { buildJobResult } from '../../src/jobs/results.ts';
import { DEFAULT_LAYOUT } from '../../src/ocr/config.ts';
import { assemblePage, type ReadLine } from '../../src/ocr/stages/layout/assemble.ts';
import { writeAlto } from '../../src/outputs/alto.ts';
import { writeHocr } from '../../src/outputs/hocr.ts';
import { isOutputFormat, writeOutput } from '../../src/outputs/index.ts';
import { jsonPieces } from '../../src/outputs/json.ts';
import { glyphlessTrueType } from '../../src/outputs/pdf/glyphless-font.ts';
import { parsePdfDate } from '../../src/outputs/pdf/pdfa.ts';
import { srgbProfile } from '../../src/outputs/pdf/srgb-icc.ts';
import { allElements, parseXml, type XmlElement } from '../helpers/xml.ts';

const rect = (x0: number, y0: number, x1: number, y1: number): Box => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];

/** A line of words side by side, 20 pixels a character and 10 between words. */
function line(text: string, x: number, y: number): ReadLine {
  let at = x;
  const words = text.split(' ').map((word) => {
    const box = rect(at, y, at + 20 * [...word].length, y + 30);
    at += 20 * [...word].length + 10;
    return { text: word, box, confidence: 0.9 };
  });
  return { text, confidence: 0.9, box: rect(x - 2, y - 2, at - 8, y + 32), words };
}

function page(n: number, lines: ReadLine[], rotation: PageResult['rotation'] = 0): PageResult {
  return {
    page_number: n,
    width: 1000,
    height: 800,
    rotation,
    worker: 'w',
    source: 'ocr',
    dpi: 144,
    ...assemblePage(lines, DEFAULT_LAYOUT),
    timings: { decode_ms: 0, det_ms: 0, cls_ms: 0, rec_ms: 0, layout_ms: 0, total_ms: 1 },
  };
}

// Text that XML must escape, a character it forbids (a PDF text layer can carry one), and Chinese.
const RESULT: JobResult = buildJobResult(
  { job_id: 'j', filename: 'scan "A" & <B>.pdf', file_size_bytes: 1, total_pages: 3, start: new Date(0), end: new Date(1000) },
  [
    page(1, [
      line('Fish & <chips> "cost" £4', 50, 50),
      line('second line', 50, 100),
      line('third line', 50, 150),
      line('a new paragraph', 50, 300),
      line('ends here', 50, 350),
    ]),
    page(3, [line('中文 识别\u0001', 50, 50)], 90),
  ],
  [{ page: 2, code: 'PAGE_UNREADABLE', message: 'bad' }],
);

const words = (text: string) => text.split(/\s+/).filter(Boolean);
const bbox = (title: string) => /bbox (\d+) (\d+) (\d+) (\d+)/.exec(title)!.slice(1).map(Number);

test('hOCR is strict XHTML with a page per page read, areas, paragraphs, lines and words with their boxes and confidences', () => {
  const hocr = writeHocr(RESULT);
  const root = parseXml(hocr);
  const all = allElements(root);
  const meta = (name: string) => all.find((e) => e.name === 'meta' && e.attributes.name === name)?.attributes.content;
  assert.match(meta('ocr-system')!, /^ocr-cluster /);
  expect(meta('ocr-capabilities')!.split(' ')).toEqual(['ocr_page', 'ocr_carea', 'ocr_par', 'ocr_line', 'ocrx_word', 'ocrp_wconf']);
  const ofClass = (c: string, under: XmlElement = root) => allElements(under).filter((e) => e.attributes.class === c);
  const pages = ofClass('ocr_page');
  assert.deepEqual(
    pages.map((p) => p.attributes.title),
    ['bbox 0 0 1000 800; ppageno 0; scan_res 144 144', 'bbox 0 0 1000 800; ppageno 2; scan_res 144 144'],
  );
  assert.equal(ofClass('ocr_carea', pages[0]).length, 1, 'an area a block: both paragraphs are one run of text');
  assert.equal(ofClass('ocr_par', pages[0]).length, 2);
  assert.equal(ofClass('ocr_line', pages[0]).length, 5);
  RESULT.results.forEach((result, p) => {
    const spans = ofClass('ocrx_word', pages[p]);
    const json = result.lines.flatMap((l) => l.words);
    expect(spans.map((s) => s.text)).toEqual(json.map((w) => w.text.replace(/\u0001/g, '')));
    spans.forEach((s, i) => {
      const [x0, y0, x1, y1] = json[i]!.box[0].concat(json[i]!.box[2]);
      expect(bbox(s.attributes.title!)).toEqual([x0, y0, x1, y1]);
      assert.match(s.attributes.title!, /; x_wconf 90$/);
    });
    expect(words(spans.map((s) => s.text).join(' '))).toEqual(words(result.text.replace(/\u0001/g, '')));
  });
  assert.match(ofClass('ocr_line', pages[1])[0]!.attributes.title!, /textangle 90/);
  assert.equal(all.filter((e) => e.attributes.id).length, new Set(all.map((e) => e.attributes.id).filter(Boolean)).size, 'ids are unique');
});

test('ALTO 4 has its description, a Page per page read, TextBlocks, TextLines, Strings with positions and confidences, and SP between words', () => {
  const root = parseXml(writeAlto(RESULT));
  assert.equal(root.name, 'alto');
  assert.equal(root.attributes.xmlns, 'http://www.loc.gov/standards/alto/ns-v4#');
  const all = allElements(root);
  const named = (n: string, under: XmlElement = root) => allElements(under).filter((e) => e.name === n);
  assert.equal(named('MeasurementUnit')[0]!.text, 'pixel');
  assert.equal(named('fileName')[0]!.text, 'scan "A" & <B>.pdf');
  assert.equal(named('softwareName')[0]!.text, 'ocr-cluster');
  const pages = named('Page');
  expect(pages.map((p) => [p.attributes.PHYSICAL_IMG_NR, p.attributes.WIDTH, p.attributes.HEIGHT])).toEqual([
    ['1', '1000', '800'],
    ['3', '1000', '800'],
  ]);
  assert.equal(named('PrintSpace', pages[0]).length, 1);
  assert.equal(named('TextBlock', pages[0]).length, 1, 'a TextBlock a block');
  assert.equal(named('TextBlock', pages[1])[0]!.attributes.ROTATION, '90');
  RESULT.results.forEach((result, p) => {
    const strings = named('String', pages[p]);
    const json = result.lines.flatMap((l) => l.words);
    expect(strings.map((s) => s.attributes.CONTENT)).toEqual(json.map((w) => w.text.replace(/\u0001/g, '')));
    strings.forEach((s, i) => {
      const [[x0, y0], , [x1, y1]] = json[i]!.box;
      expect(['HPOS', 'VPOS', 'WIDTH', 'HEIGHT'].map((k) => Number(s.attributes[k]))).toEqual([x0, y0, x1 - x0, y1 - y0]);
      assert.equal(s.attributes.WC, '0.90');
    });
    expect(words(strings.map((s) => s.attributes.CONTENT).join(' '))).toEqual(words(result.text.replace(/\u0001/g, '')));
  });
  // Between "Fish" (50-130) and "&" (140-160) on line 1: a space 10 wide.
  const firstLine = named('TextLine', pages[0])[0]!;
  expect(firstLine.children.map((c) => c.name).slice(0, 3)).toEqual(['String', 'SP', 'String']);
  expect(['HPOS', 'WIDTH'].map((k) => firstLine.children[1]!.attributes[k])).toEqual(['130', '10']);
  assert.equal(all.filter((e) => e.attributes.ID).length, new Set(all.map((e) => e.attributes.ID).filter(Boolean)).size, 'IDs are unique');
});

test('the writers sit behind one seam: txt and md are the combined text and markdown', async () => {
  assert.equal(await writeOutput('txt', { result: RESULT }), RESULT.combined_text);
  assert.equal(await writeOutput('md', { result: RESULT }), RESULT.combined_markdown);
  expect(JSON.parse((await writeOutput('json', { result: RESULT })) as string)).toEqual(RESULT);
  assert.equal(await writeOutput('hocr', { result: RESULT }), writeHocr(RESULT));
  assert.ok(isOutputFormat('alto') && !isOutputFormat('docx'));
  await assert.rejects(writeOutput('pdf', { result: RESULT }), { code: 'INVALID_PARAMS' });
});

test('the JSON sent a page at a time is the text of JSON.stringify, with no pages and with a property left undefined', () => {
  const pieces = [...jsonPieces(RESULT)];
  assert.ok(pieces.length >= RESULT.results.length + 2);
  assert.equal(pieces.join(''), JSON.stringify(RESULT));
  const empty: JobResult = { ...RESULT, results: [] };
  assert.equal([...jsonPieces(empty)].join(''), JSON.stringify(empty));
  // A property left undefined is left out, first or not, as JSON.stringify leaves it out.
  const unset: JobResult & { note?: string } = { note: undefined, ...RESULT };
  assert.equal([...jsonPieces(unset)].join(''), JSON.stringify(unset));
});

test('the glyphless font is a well-formed TrueType font of two empty glyphs, half an em wide, under a kilobyte', () => {
  const font = glyphlessTrueType();
  assert.ok(font.length < 1024, `${font.length} bytes`);
  let sum = 0;
  for (let i = 0; i < font.length; i += 4) sum = (sum + font.readUInt32BE(i)) >>> 0;
  assert.equal(sum, 0xb1b0afba, 'the whole-font checksum head.checkSumAdjustment sets');
  const tables = new Map<string, Buffer>();
  for (let i = 0; i < font.readUInt16BE(4); i++) {
    const at = 12 + 16 * i;
    const [offset, length] = [font.readUInt32BE(at + 8), font.readUInt32BE(at + 12)];
    tables.set(font.toString('latin1', at, at + 4), font.subarray(offset, offset + length));
  }
  expect([...tables.keys()]).toEqual(['OS/2', 'cmap', 'glyf', 'head', 'hhea', 'hmtx', 'loca', 'maxp', 'name', 'post']);
  assert.equal(tables.get('maxp')!.readUInt16BE(4), 2, 'two glyphs');
  assert.equal(tables.get('head')!.readUInt16BE(18), 1000, 'units per em');
  expect([0, 4].map((at) => tables.get('hmtx')!.readUInt16BE(at))).toEqual([500, 500]);
  assert.equal(tables.get('glyf')!.length, 0, 'no outlines at all');
});

test('the sRGB profile is one lcms reads: sRGB pixels convert to themselves, and would not with its red and blue swapped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'icc-'));
  try {
    const profile = srgbProfile();
    assert.equal(profile.readUInt32BE(0), profile.length);
    assert.equal(profile.toString('latin1', 36, 40), 'acsp');
    const swapped = Buffer.from(profile);
    const entry = (tag: number) => 128 + 4 + 12 * tag + 4;
    const [red, blue] = [swapped.readUInt32BE(entry(3)), swapped.readUInt32BE(entry(5))];
    swapped.writeUInt32BE(blue, entry(3));
    swapped.writeUInt32BE(red, entry(5));
    await writeFile(join(dir, 'srgb.icc'), profile);
    await writeFile(join(dir, 'swapped.icc'), swapped);
    const pixels = Buffer.from(Array.from({ length: 256 }, (_, i) => [i, 255 - i, (i * 7) & 255]).flat());
    const convert = async (file: string) =>
      sharp(pixels, { raw: { width: 256, height: 1, channels: 3 } })
        .withIccProfile(join(dir, file))
        .raw()
        .toBuffer();
    const largest = (out: Buffer) => out.reduce((m, v, i) => Math.max(m, Math.abs(v - pixels[i]!)), 0);
    assert.ok(largest(await convert('srgb.icc')) <= 1);
    assert.ok(largest(await convert('swapped.icc')) > 100);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('PDF dates are read with their time zones, and nonsense is not a date', () => {
  assert.equal(parsePdfDate("D:20240601123000+02'00'")?.toISOString(), '2024-06-01T10:30:00.000Z');
  assert.equal(parsePdfDate('D:20240601123000Z')?.toISOString(), '2024-06-01T12:30:00.000Z');
  assert.equal(parsePdfDate('D:2024')?.toISOString(), '2024-01-01T00:00:00.000Z');
  assert.equal(parsePdfDate('yesterday'), undefined);
});

test('the XML check the tests use is strict: it rejects what is not well-formed', () => {
  assert.equal(parseXml('<?xml version="1.0"?>\n<a x="1 &amp; 2"><b/>t&#x4e2d;</a>').children[0]!.name, 'b');
  for (const bad of [
    '<a><b></a></b>',
    '<a>fish & chips</a>',
    '<a>&nbsp;</a>',
    '<a x="1" x="2"/>',
    '<a x=1/>',
    '<a>\u0001</a>',
    '<a/><b/>',
    '<a>',
    'text',
  ]) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
});
