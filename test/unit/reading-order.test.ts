/**
 * Reading order and blocks on magazine-like and brochure-like pages, from line boxes laid out as a
 * 300 dpi scan sets them (40-pixel lines, 20 pixels a character): a gutter of three character widths,
 * a picture the two columns wrap around with its caption set in the gutter, a running header and a
 * page number; a brochure going from one column to two and back to one with a bulleted list.
 */
import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import type { Box } from '../../src/contracts.ts';
import { pageMarkdown } from '../../src/jobs/results.ts';
import { DEFAULT_LAYOUT } from '../../src/ocr/config.ts';
import { assemblePage, type ReadLine } from '../../src/ocr/stages/layout/assemble.ts';

const rect = (x0: number, y0: number, x1: number, y1: number): Box => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];
const CHAR = 20;

/** A line of words from `x`, 20 pixels a character, one character's width between words, its box 6 pixels past the ink. */
function line(text: string, x: number, y: number, scale = 1): ReadLine {
  let at = x;
  const words = text.split(' ').map((word) => {
    const box = rect(at, y, at + scale * CHAR * word.length, y + scale * 40);
    at += scale * CHAR * (word.length + 1);
    return { text: word, box, confidence: 0.95 };
  });
  return { text, confidence: 0.95, box: rect(x - 6, y - 6, at - scale * CHAR + 6, y + scale * 40 + 6), words };
}

/** Words of a column's line `k`, as many as fit in `width` pixels: each word says where it belongs (L3 = left column, line 3). */
function columnLine(tag: string, k: number, x: number, y: number, width: number): ReadLine {
  const words: string[] = [];
  let n = 0;
  while (true) {
    const word = `${tag}${k}w${n++}`;
    if (CHAR * [...words, word].join(' ').length > width) break;
    words.push(word);
  }
  return line(words.join(' '), x, y);
}

/** Two columns with a 60-pixel gutter (three characters), a picture in the middle both wrap around, a caption in the gutter under it. */
function magazinePage(): ReadLine[] {
  const lines: ReadLine[] = [line('THE REVIEW · SPRING ISSUE', 800, 60)];
  const [leftX, rightX, columnWidth] = [150, 1290, 1080];
  for (let k = 0; k < 30; k++) {
    const y = 200 + 60 * k;
    // The picture spans x 900-1530 over rows 10-17; the caption sits under it, rows 18-19, in the gutter.
    const wrapped = k >= 10 && k <= 19;
    lines.push(columnLine('L', k, leftX, y, wrapped ? 700 : columnWidth));
    lines.push(wrapped ? columnLine('R', k, 1560, y, rightX + columnWidth - 1560) : columnLine('R', k, rightX, y, columnWidth));
  }
  lines.push(line('Photo 2: the harbour at dawn, as', 880, 200 + 60 * 18), line('seen from the old lighthouse', 880, 200 + 60 * 19));
  lines.push(line('12', 1190, 2150));
  return lines;
}

test('a magazine page with a three-character gutter is read column by column: no line or paragraph joins the columns', () => {
  const page = assemblePage(magazinePage(), DEFAULT_LAYOUT);
  for (const l of page.lines) assert.ok(!(/\bL\d/.test(l.text) && /\bR\d/.test(l.text)), `a line joins the columns: ${l.text}`);
  for (const p of page.paragraphs) assert.ok(!(/\bL\d/.test(p.text) && /\bR\d/.test(p.text)), `a paragraph joins the columns: ${p.text}`);
  const order = [...page.text.matchAll(/\b([LR])(\d+)w0\b/g)].map((m) => `${m[1]}${m[2]}`);
  assert.deepEqual(order, [...Array.from({ length: 30 }, (_, k) => `L${k}`), ...Array.from({ length: 30 }, (_, k) => `R${k}`)]);
});

test('a caption set in the gutter is a caption block of its own, between the columns, never inside a paragraph', () => {
  const page = assemblePage(magazinePage(), DEFAULT_LAYOUT);
  const captions = page.blocks.filter((b) => b.type === 'caption');
  assert.equal(captions.length, 1);
  assert.equal(
    captions[0]!.paragraphs.map((p) => page.paragraphs[p]!.text).join(' '),
    'Photo 2: the harbour at dawn, as seen from the old lighthouse',
  );
  for (const p of page.paragraphs) if (/\b[LR]\d/.test(p.text)) assert.doesNotMatch(p.text, /Photo|harbour|lighthouse/);
  const text = page.text;
  assert.ok(
    text.indexOf('Photo 2') > text.indexOf('L29w0') && text.indexOf('Photo 2') < text.indexOf('R0w0'),
    'the caption comes after the left column, before the right',
  );
});

test('the running header and the page number are blocks of their kind, kept in the text and left out of the markdown', () => {
  const page = assemblePage(magazinePage(), DEFAULT_LAYOUT);
  const first = page.blocks[0]!,
    last = page.blocks[page.blocks.length - 1]!;
  assert.equal(first.type, 'header');
  assert.equal(last.type, 'page_number');
  assert.match(page.text, /^THE REVIEW · SPRING ISSUE\n/);
  assert.match(page.text, /\n12$/);
  const markdown = pageMarkdown(page);
  assert.doesNotMatch(markdown, /THE REVIEW|\n12$/);
  assert.match(markdown, /^L0w0/);
});

test('a brochure going from one column to two and back is read in that order, with its headings and its bulleted list', () => {
  const lines: ReadLine[] = [line('Welcome to the Valley', 150, 80, 1.6)];
  for (let k = 0; k < 4; k++) lines.push(columnLine('I', k, 150, 220 + 60 * k, 2160));
  lines.push(line('Where to stay', 150, 520), line('What to see', 1290, 520));
  for (let k = 0; k < 12; k++) lines.push(columnLine('L', k, 150, 600 + 60 * k, 1080), columnLine('R', k, 1290, 600 + 60 * k, 1080));
  const items = ['• Bring warm clothes for the evenings', '• Book the ferry a day ahead', '• The museum closes on Mondays'];
  items.forEach((text, k) => lines.push(line(text, 150, 1400 + 60 * k)));
  const page = assemblePage(lines, DEFAULT_LAYOUT);
  const order = [...page.text.matchAll(/\b([ILR])(\d+)w0\b|(Where to stay|What to see|Bring warm)/g)].map((m) => m[3] ?? `${m[1]}${m[2]}`);
  assert.deepEqual(order, [
    'I0',
    'I1',
    'I2',
    'I3',
    'Where to stay',
    ...Array.from({ length: 12 }, (_, k) => `L${k}`),
    'What to see',
    ...Array.from({ length: 12 }, (_, k) => `R${k}`),
    'Bring warm',
  ]);
  // Runs of text may come in more than one block (one a region of the page); the kinds come in this order.
  const types = page.blocks.map((b) => b.type).filter((t, k, all) => t !== all[k - 1]);
  assert.deepEqual(types, ['heading', 'text', 'heading', 'text', 'heading', 'text', 'list']);
  const list = page.blocks[page.blocks.length - 1]!;
  assert.equal(list.paragraphs.length, 3, 'each item a paragraph');
  const markdown = pageMarkdown(page);
  assert.match(markdown, /^### Welcome to the Valley\n\nI0w0/);
  assert.match(markdown, /### Where to stay\n\nL0w0/);
  assert.match(markdown, /- Bring warm clothes for the evenings\n- Book the ferry a day ahead\n- The museum closes on Mondays$/);
});

test("a figure's own text (axis labels, legend) is a figure block: kept with its lines, left out of the text and the markdown", () => {
  const prose = [
    'The signal was recorded for ten seconds at each of the two temperatures',
    'and it decays faster when the sample is warmer, as the figure below shows',
    'for the first run of the series.',
  ];
  const lines: ReadLine[] = prose.map((text, k) => line(text, 150, 100 + 60 * k));
  // A plot: tick labels down its left side and under it, a legend, then its caption.
  ['1.0', '0.5', '0.0'].forEach((tick, k) => lines.push(line(tick, 300, 340 + 120 * k)));
  lines.push(line('T=10K', 1500, 360), line('T=300K', 1500, 420));
  lines.push(line('0 5 10', 400, 700), line('time [s]', 1100, 760));
  lines.push(line('Fig. 2: Decay of the signal over time at two temperatures.', 150, 860));
  lines.push(line('The second run of the series was recorded a week later with the same set-up', 150, 1000));
  lines.push(line('and the same two temperatures, and it shows the same decay.', 150, 1060));
  const page = assemblePage(lines, DEFAULT_LAYOUT);
  const types = page.blocks.map((b) => b.type);
  assert.deepEqual(types, ['text', 'figure', 'caption', 'text']);
  const figure = page.blocks[1]!;
  assert.deepEqual(figure.lines.map((i) => page.lines[i]!.text).sort(), ['0 5 10', '0.0', '0.5', '1.0', 'T=10K', 'T=300K', 'time [s]']);
  assert.doesNotMatch(page.text, /T=300K|time \[s\]|0\.5/);
  assert.match(page.text, /of the series\.\n\nFig\. 2: Decay/);
  assert.doesNotMatch(pageMarkdown(page), /T=300K/);
});

/** Two columns of `rows` lines, 100 pixels apart, the left one's line k as `left(k)` gives it. */
function twoColumns(
  rows: number,
  left: (k: number, y: number) => ReadLine,
  right: (k: number, y: number) => ReadLine = (k, y) => columnLine('R', k, 1250, y, 1000),
) {
  const lines: ReadLine[] = [];
  for (let k = 0; k < rows; k++) lines.push(left(k, 200 + 60 * k), right(k, 200 + 60 * k));
  return lines;
}

const columnOrder = (text: string) =>
  [...text.matchAll(/\b([LR])(\d+)w\d+\b/g)].map((m) => `${m[1]}${m[2]}`).filter((t, k, all) => t !== all[k - 1]);
const leftThenRight = (left: number, right: number) => [
  ...Array.from({ length: left }, (_, k) => `L${k}`),
  ...Array.from({ length: right }, (_, k) => `R${k}`),
];

test('a speck before a line of the left column (read as a bullet) leaves the line where it stands, not a list item of its own', () => {
  // A dot of dust 40 pixels left of row 12 of the left column, read as '·': the line pokes into the margin.
  const lines = twoColumns(30, (k, y) => {
    const text = columnLine('L', k, 150, y, 1000);
    return k === 12 ? line(`· ${text.text}`, 110, y) : text;
  });
  const page = assemblePage(lines, DEFAULT_LAYOUT);
  expect(columnOrder(page.text)).toEqual(leftThenRight(30, 30));
  expect(page.blocks.map((b) => b.type)).not.toContain('list');
});

test("a column's last line set a little lower than the other column's last line still ends its column", () => {
  // The left column is set ragged right; its short last line overlaps the right column's smaller last
  // line by half its height.
  const lines = twoColumns(
    20,
    (k, y) => line(`${columnLine('L', k, 150, y, 880).text} ${'abcde'.slice(0, 1 + (k % 5))}`, 150, y),
    (k, y) => (k === 19 ? line(columnLine('R', k, 1250, y, 1000).text, 1250, y + 42, 0.75) : columnLine('R', k, 1250, y + 40, 1000)),
  );
  lines.push(line('L20w0 or copying.', 150, 200 + 60 * 20));
  const page = assemblePage(lines, DEFAULT_LAYOUT);
  expect(columnOrder(page.text)).toEqual(leftThenRight(21, 20));
});

/** One line of one word in the given box. */
function boxLine(text: string, x0: number, y0: number, x1: number, y1: number): ReadLine {
  const box = rect(x0, y0, x1, y1);
  return { text, confidence: 0.95, box, words: [{ text, box, confidence: 0.95 }] };
}

test('a table set above two columns, its cells ending near the gutter or crossing it, is read row by row before the columns', () => {
  // The detector's boxes of Table V on real-dev's 01_final_report (1700 x 2200 px): twelve rows of three
  // centred cells, those of the middle column ending near the page's gutter (x 836-867) or crossing
  // it; two line heights below, the page's two columns.
  const cells: [number, number, number, number][][] = [
    [
      [395, 213, 550, 244],
      [694, 212, 875, 245],
      [1049, 215, 1266, 244],
    ],
    [
      [384, 246, 563, 277],
      [751, 246, 815, 276],
      [1126, 247, 1188, 274],
    ],
    [
      [382, 273, 565, 302],
      [751, 270, 814, 302],
      [1146, 273, 1173, 300],
    ],
    [
      [403, 299, 541, 328],
      [752, 299, 814, 325],
      [1147, 301, 1172, 323],
    ],
    [
      [370, 329, 574, 360],
      [693, 327, 875, 362],
      [1049, 329, 1268, 360],
    ],
    [
      [385, 364, 561, 389],
      [754, 362, 814, 389],
      [1126, 362, 1188, 389],
    ],
    [
      [382, 387, 564, 418],
      [752, 388, 814, 415],
      [1146, 388, 1169, 416],
    ],
    [
      [405, 415, 541, 443],
      [748, 414, 818, 441],
      [1149, 415, 1168, 438],
    ],
    [
      [411, 447, 537, 471],
      [694, 444, 874, 474],
      [1052, 445, 1267, 473],
    ],
    [
      [385, 478, 561, 506],
      [611, 479, 814, 504],
      [985, 479, 1279, 504],
    ],
    [
      [382, 504, 565, 533],
      [613, 505, 814, 530],
      [1043, 505, 1184, 530],
    ],
    [
      [405, 530, 541, 558],
      [609, 530, 962, 556],
      [1044, 532, 1271, 553],
    ],
  ];
  const lines = cells.flatMap((row, r) => row.map(([x0, y0, x1, y1], c) => boxLine(`T${r}${'abc'[c]}`, x0, y0, x1, y1)));
  for (let k = 0; k < 20; k++) {
    const y = 624 + 33 * k;
    lines.push(boxLine(`L${k}`, 133, y, 836, y + 30), boxLine(`R${k}`, 867, y, 1570, y + 30));
  }
  const page = assemblePage(lines, DEFAULT_LAYOUT);
  const order = [...page.text.matchAll(/\b(T\d+[abc]|[LR]\d+)\b/g)].map((m) => m[1]);
  const table = cells.flatMap((_, r) => [`T${r}a`, `T${r}b`, `T${r}c`]);
  expect(order).toEqual([...table, ...Array.from({ length: 20 }, (_, k) => `L${k}`), ...Array.from({ length: 20 }, (_, k) => `R${k}`)]);
});
