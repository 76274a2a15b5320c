/**
 * Reading order on magazine-like and brochure-like pages read by the real engine. The magazine page is
 * a 300 dpi bilevel scan of two justified columns three character widths apart, a picture in the
 * middle that both columns wrap around with its caption set in the gutter under it, a running header
 * and a page number. The brochure page, a grey scan, goes from one column to two with headings and
 * back to one with a bulleted list. Each column has words of its own, so a line or a paragraph that
 * joins the columns shows, and so does a part read out of order.
 */
import assert from 'node:assert/strict';
import { beforeAll, test } from '@jest/globals';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import sharp from 'sharp';
import type { PageOcr } from '../../src/contracts.ts';
import { pageMarkdown } from '../../src/jobs/results.ts';
import { defaultOcrConfig } from '../../src/ocr/config.ts';
import { OcrEngine } from '../../src/ocr/engine.ts';

const LEFT = [
  'river',
  'stone',
  'garden',
  'window',
  'market',
  'bread',
  'candle',
  'winter',
  'basket',
  'forest',
  'meadow',
  'copper',
  'lantern',
  'orchard',
  'pebble',
  'willow',
  'barley',
  'cottage',
];
const RIGHT = [
  'engine',
  'signal',
  'rocket',
  'cable',
  'silicon',
  'turbine',
  'voltage',
  'circuit',
  'magnet',
  'sensor',
  'piston',
  'gadget',
  'motor',
  'laser',
  'robot',
  'battery',
  'radar',
  'socket',
];
const INTRO = ['valley', 'village', 'mountain', 'lake', 'bridge', 'trail', 'summit', 'chapel', 'spring', 'hamlet'];
const CAPTION = ['Photo 2: the harbour at dawn, seen', 'from the old lighthouse'];
const ITEMS = ['Bring warm clothes for the evenings', 'Book the ferry a day ahead', 'The museum closes on Mondays'];

GlobalFonts.registerFromPath('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'MagazineSans');

/** A deterministic stream of the column's words. */
function wordStream(words: string[], seed: number): () => string {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return words[state % words.length]!;
  };
}

/** The page as a bilevel PNG at 300 dpi (US letter). */
function magazinePage(): Buffer {
  const [width, height, size] = [2550, 3300, 38];
  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, width, height);
  g.fillStyle = '#000';
  g.textBaseline = 'top';
  g.font = `${size}px MagazineSans`;
  const gutter = Math.round(3 * g.measureText('n').width);
  const margin = 170;
  const column = (width - 2 * margin - gutter) / 2;
  const [leftX, rightX] = [margin, margin + column + gutter];
  // The picture straddles the gutter; both columns' lines stop 40 pixels short of it, down to the caption's end.
  const picture = { x0: leftX + 0.6 * column, x1: rightX + 0.4 * column, y0: 1150, y1: 1750 };
  const wrapEnd = 1900;
  // A halftone photograph: dots on a 7-pixel grid, larger towards its middle.
  for (let y = picture.y0; y < picture.y1; y += 7) {
    for (let x = picture.x0; x < picture.x1; x += 7) {
      const shade =
        1 -
        Math.hypot(
          (x - (picture.x0 + picture.x1) / 2) / (picture.x1 - picture.x0),
          (y - (picture.y0 + picture.y1) / 2) / (picture.y1 - picture.y0),
        );
      const r = 1 + 2.5 * shade;
      g.fillRect(x - r / 2, y - r / 2, r, r);
    }
  }
  /** Justified words from x0 to x1, the last line of a paragraph left-aligned. */
  const justified = (words: string[], x0: number, x1: number, y: number, last: boolean) => {
    const widths = words.map((w) => g.measureText(w).width);
    const gap = last ? g.measureText(' ').width : (x1 - x0 - widths.reduce((s, w) => s + w, 0)) / (words.length - 1);
    let x = x0;
    words.forEach((w, k) => {
      g.fillText(w, x, y);
      x += widths[k]! + gap;
    });
  };
  const fill = (next: () => string, x0: number, x1: number) => {
    const words: string[] = [];
    for (let w = next(); g.measureText([...words, w].join(' ')).width <= x1 - x0; w = next()) words.push(w);
    return words;
  };
  g.font = `30px MagazineSans`;
  g.fillText('THE COASTAL REVIEW · SPRING ISSUE', width / 2 - g.measureText('THE COASTAL REVIEW · SPRING ISSUE').width / 2, 90);
  g.fillText('12', width / 2 - g.measureText('12').width / 2, height - 130);
  g.font = `${size}px MagazineSans`;
  for (const [side, x0, next] of [
    ['left', leftX, wordStream(LEFT, 7)],
    ['right', rightX, wordStream(RIGHT, 11)],
  ] as const) {
    for (let k = 0, y = 220; y < height - 260; k++, y += Math.round(1.3 * size)) {
      const wrapped = y + size > picture.y0 && y < wrapEnd;
      const [from, to] = side === 'left' ? [x0, wrapped ? picture.x0 - 40 : x0 + column] : [wrapped ? picture.x1 + 40 : x0, x0 + column];
      const lastOfParagraph = k % 12 === 11;
      justified(fill(next, from, to), from, to, y, lastOfParagraph);
      if (lastOfParagraph) y += Math.round(0.6 * size);
    }
  }
  g.font = '32px MagazineSans';
  CAPTION.forEach((text, k) => g.fillText(text, (picture.x0 + picture.x1) / 2 - g.measureText(text).width / 2, picture.y1 + 30 + 42 * k));
  const grey = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const bilevel = Buffer.alloc(width * height);
  for (let i = 0; i < bilevel.length; i++) bilevel[i] = grey[4 * i]! < 128 ? 0 : 255;
  return bilevel;
}

/** The brochure page as grey pixels at 300 dpi, with a little noise. */
function brochurePage(): Buffer {
  const [width, height, size] = [2550, 3300, 40];
  const canvas = createCanvas(width, height);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, width, height);
  g.fillStyle = '#222';
  g.textBaseline = 'top';
  const margin = 200;
  const lines = (next: () => string, x0: number, x1: number, y: number, count: number) => {
    for (let k = 0; k < count; k++, y += Math.round(1.35 * size)) {
      const words: string[] = [];
      for (let w = next(); g.measureText([...words, w].join(' ')).width <= x1 - x0; w = next()) words.push(w);
      g.fillText(words.join(' '), x0, y);
    }
    return y;
  };
  g.font = '80px MagazineSans';
  g.fillText('Welcome to the Valley', margin, 180);
  g.font = `${size}px MagazineSans`;
  let y = lines(wordStream(INTRO, 5), margin, width - margin, 330, 5);
  const gutter = Math.round(3 * g.measureText('n').width);
  const column = (width - 2 * margin - gutter) / 2;
  g.font = '56px MagazineSans';
  g.fillText('Where to stay', margin, y + 60);
  g.fillText('What to see', margin + column + gutter, y + 60);
  g.font = `${size}px MagazineSans`;
  lines(wordStream(LEFT, 3), margin, margin + column, y + 160, 16);
  y = lines(wordStream(RIGHT, 9), margin + column + gutter, width - margin, y + 160, 16);
  ITEMS.forEach((item, k) => g.fillText(`•  ${item}`, margin + 40, y + 80 + 70 * k));
  const rgba = g.getImageData(0, 0, width, height).data;
  const grey = Buffer.alloc(width * height);
  const noise = wordStream(
    Array.from({ length: 21 }, (_, k) => String(k - 10)),
    13,
  );
  for (let i = 0; i < grey.length; i++) grey[i] = Math.max(0, Math.min(255, rgba[4 * i]! + Number(noise())));
  return grey;
}

let page: PageOcr;
let brochure: PageOcr;
const side = (word: string) => {
  const w = word.toLowerCase().replace(/[^a-z]/g, '');
  return LEFT.includes(w) ? 'L' : RIGHT.includes(w) ? 'R' : INTRO.includes(w) ? 'I' : undefined;
};
const sides = (text: string) => new Set(text.split(/\s+/).map(side).filter(Boolean));

beforeAll(async () => {
  const engine = await OcrEngine.load(defaultOcrConfig());
  const png = await sharp(magazinePage(), { raw: { width: 2550, height: 3300, channels: 1 } })
    .png()
    .toBuffer();
  page = await engine.recognizeImage(png, 50_000_000);
  const grey = await sharp(brochurePage(), { raw: { width: 2550, height: 3300, channels: 1 } })
    .png()
    .toBuffer();
  brochure = await engine.recognizeImage(grey, 50_000_000);
});

test('no line and no paragraph joins the two columns across a gutter of three character widths', () => {
  assert.ok(page.lines.length > 80, `${page.lines.length} lines read`);
  for (const line of page.lines) assert.ok(sides(line.text).size <= 1, `a line joins the columns: ${line.text}`);
  for (const p of page.paragraphs) assert.ok(sides(p.text).size <= 1, `a paragraph joins the columns: ${p.text}`);
});

test('the left column is read whole, top to bottom, before the right column', () => {
  const order = page.text.split(/\s+/).map(side).filter(Boolean);
  const lastLeft = order.lastIndexOf('L'),
    firstRight = order.indexOf('R');
  assert.ok(lastLeft < firstRight, `the columns interleave: ${order.join('')}`);
  assert.ok(order.length > 300, `${order.length} column words read`);
});

test('the caption set in the gutter is a caption block of its own, not inside a paragraph of either column', () => {
  const captions = page.blocks.filter((b) => b.type === 'caption');
  assert.equal(captions.length, 1, JSON.stringify(page.blocks.map((b) => b.type)));
  const text = captions[0]!.paragraphs.map((p) => page.paragraphs[p]!.text).join(' ');
  assert.match(text, /^Photo 2: the harbour at dawn, seen from the old lighthouse$/);
  for (const p of page.paragraphs) if (sides(p.text).size > 0) assert.doesNotMatch(p.text, /harbour|lighthouse/);
});

test('the running header and the page number are blocks of their kind: in the text, not in the markdown', () => {
  assert.equal(page.blocks[0]!.type, 'header');
  assert.equal(page.blocks[page.blocks.length - 1]!.type, 'page_number');
  assert.match(page.text, /^THE COASTAL REVIEW/);
  assert.match(page.text, /\n12$/);
  assert.doesNotMatch(pageMarkdown(page), /COASTAL|\n12$/);
});

test('a brochure going from one column to two and back is read in that order, with its headings and its bulleted list', () => {
  for (const p of brochure.paragraphs) assert.ok(sides(p.text).size <= 1, `a paragraph joins two parts: ${p.text}`);
  // Each part's words once, in the order the parts are read.
  const parts = brochure.text
    .split(/\s+/)
    .map(side)
    .filter(Boolean)
    .join('')
    .replace(/(.)\1+/g, '$1');
  assert.equal(parts, 'ILR');
  const headings = brochure.blocks.filter((b) => b.type === 'heading').map((b) => brochure.paragraphs[b.paragraphs[0]!]!.text);
  assert.deepEqual(headings, ['Welcome to the Valley', 'Where to stay', 'What to see']);
  const list = brochure.blocks[brochure.blocks.length - 1]!;
  assert.equal(list.type, 'list');
  assert.deepEqual(
    list.paragraphs.map((p) => brochure.paragraphs[p]!.text.replace(/^\W+/, '')),
    ITEMS,
  );
  const markdown = pageMarkdown(brochure);
  assert.match(markdown, /^### Welcome to the Valley\n\n/);
  assert.match(markdown, /### Where to stay\n\n/);
  assert.ok(markdown.endsWith(ITEMS.map((item) => `- ${item}`).join('\n')), markdown.slice(-200));
});
