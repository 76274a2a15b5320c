import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import type { LineImage } from '../../src/ocr/image/crop.ts';
import type { DecodedChar } from '../../src/ocr/stages/rec/ctc.ts';
import { insertSpaces, normaliseLatin, otsuThreshold, recoverSpaces } from '../../src/ocr/stages/rec/spaces.ts';

const PARAMS = { gapToWordGap: 0.6, gapToAdvance: 0.6, minGapToAdvance: 0.4, lineSamples: 2, pageSamples: 2, otsuSamples: 10 };

/** A 48-high line with ink at the given column spans, and characters centred on each span. */
function line(spans: [number, number, string][], width: number): { image: LineImage; chars: DecodedChar[]; blank: Uint8Array } {
  const data = new Uint8Array(width * 48).fill(255);
  const blank = new Uint8Array(width).fill(1);
  for (const [x0, x1] of spans) {
    for (let x = x0; x < x1; x++) {
      blank[x] = 0;
      for (let y = 10; y < 38; y++) data[y * width + x] = 0;
    }
  }
  const chars = spans.map(([x0, x1, char]) => {
    const t = Math.floor((x0 + x1) / 2 / 8);
    return { char, start: t, end: t, prob: 0.99 };
  });
  return { image: { data, width, height: 48 }, chars, blank };
}

test('a wide blank run between two characters is a word break, a narrow one is not', () => {
  const l = line(
    [
      [0, 14, 'a'],
      [17, 31, 'b'],
      [50, 64, 'c'],
    ],
    80,
  );
  assert.equal(insertSpaces(l.chars, l.blank, 10), 'ab c');
});

test('no space is put between CJK characters, whatever the gap; between CJK and Latin where the page shows one', () => {
  const l = line(
    [
      [0, 30, '中'],
      [60, 90, '文'],
      [96, 108, 'p'],
      [112, 124, 'g'],
      [150, 180, '是'],
      [182, 212, '一'],
    ],
    220,
  );
  assert.equal(insertSpaces(l.chars, l.blank, 10), '中文pg 是一');
});

test('words keep their characters when normalisation changes them: full-width letters, a full-width space, an I read as l', () => {
  const l = line(
    [
      [0, 12, 'Ｈ'],
      [14, 26, 'i'],
      [28, 40, '\u3000'],
      [42, 54, 's'],
      [56, 68, 'I'],
      [70, 82, 'l'],
    ],
    90,
  );
  const [spaced] = recoverSpaces([{ chars: l.chars, image: l.image }], PARAMS);
  assert.equal(spaced!.text, 'Hi sll');
  expect(spaced!.words).toEqual([
    { text: 'Hi', first: 0, last: 1 },
    { text: 'sll', first: 3, last: 5 },
  ]);
});

test('outside CJK text, full-width digits and letters become ASCII and a capital I between lower-case letters an l', () => {
  assert.equal(normaliseLatin('cost １２ ＵＳＤ'), 'cost 12 USD');
  assert.equal(normaliseLatin('价格（１２）'), '价格（１２）');
  assert.equal(normaliseLatin('The stiIl hiIls of Illinois, I said; WIFI'), 'The still hills of Illinois, I said; WIFI');
  assert.equal(normaliseLatin('überaIl'), 'überall');
});

test('word gaps are learned from the spaces the model emitted', () => {
  // "ab cd" with the space emitted (gap 24), then "efgh" where the model dropped one (gap 22 between f and g).
  const first = line(
    [
      [0, 14, 'a'],
      [18, 32, 'b'],
      [56, 70, 'c'],
      [74, 88, 'd'],
      [112, 126, 'e'],
      [130, 144, 'f'],
    ],
    160,
  );
  const space: DecodedChar = { char: ' ', start: 5, end: 5, prob: 0.9 };
  const chars = [
    first.chars[0]!,
    first.chars[1]!,
    space,
    first.chars[2]!,
    first.chars[3]!,
    { ...space, start: 12, end: 12 },
    first.chars[4]!,
    first.chars[5]!,
  ];
  const second = line(
    [
      [0, 14, 'e'],
      [18, 32, 'f'],
      [54, 68, 'g'],
      [72, 86, 'h'],
    ],
    100,
  );
  const lines = recoverSpaces(
    [
      { chars, image: first.image },
      { chars: second.chars, image: second.image },
    ],
    PARAMS,
  );
  expect(lines.map((l) => l.text)).toEqual(['ab cd ef', 'ef gh']);
  // Each word knows the characters it came from, emitted spaces (indices 2 and 5) left out.
  expect(lines[0]!.words).toEqual([
    { text: 'ab', first: 0, last: 1 },
    { text: 'cd', first: 3, last: 4 },
    { text: 'ef', first: 6, last: 7 },
  ]);
  expect(lines[1]!.words).toEqual([
    { text: 'ef', first: 0, last: 1 },
    { text: 'gh', first: 2, last: 3 },
  ]);
});

test('monospace letter gaps wider than a proportional word space are not word breaks there', () => {
  // Emitted word gaps of 40 make 20-column letter gaps (narrow "il" in a monospace font) plain letters.
  const l = line(
    [
      [0, 10, 'i'],
      [30, 40, 'l'],
      [80, 95, 'x'],
      [135, 150, 'y'],
    ],
    160,
  );
  const chars = [
    l.chars[0]!,
    l.chars[1]!,
    { char: ' ', start: 7, end: 7, prob: 0.9 },
    l.chars[2]!,
    { char: ' ', start: 14, end: 14, prob: 0.9 },
    l.chars[3]!,
  ];
  expect(recoverSpaces([{ chars, image: l.image }], PARAMS).map((r) => r.text)).toEqual(['il x y']);
});

test("Otsu's cut falls between letter gaps and word gaps", () => {
  const gaps = [2, 3, 4, 5, 3, 2, 6, 4, 3, 5, 18, 22, 20, 19, 4, 3, 25, 2];
  const cut = otsuThreshold(gaps);
  assert.ok(cut > 6 && cut <= 18, `cut ${cut}`);
});

test('without emitted spaces, a page of run-together words is cut at the letter/word gap boundary', () => {
  // Four-letter words with letter gaps of 4 and word gaps of 20, no spaces emitted anywhere.
  const spans: [number, number, string][] = [];
  let x = 0;
  for (const word of ['abcd', 'efgh', 'ijkl', 'mnop', 'qrst', 'uvwx']) {
    for (const ch of word) {
      spans.push([x, x + 12, ch]);
      x += 16;
    }
    x += 16;
  }
  const l = line(spans, x);
  const [spaced] = recoverSpaces([{ chars: l.chars, image: l.image }], PARAMS);
  assert.equal(spaced!.text, 'abcd efgh ijkl mnop qrst uvwx');
  expect(spaced!.words.map((w) => [w.first, w.last])).toEqual([
    [0, 3],
    [4, 7],
    [8, 11],
    [12, 15],
    [16, 19],
    [20, 23],
  ]);
});

test('a one-line page without emitted spaces is cut where its own gaps split, not at a fixed share of the advance', () => {
  // "Secret ledger page" at 36 pt: letter gaps of 4, word gaps of 17, just under 0.6 of the 30-column advance.
  const spans: [number, number, string][] = [];
  let x = 0;
  for (const word of ['Secret', 'ledger', 'page']) {
    for (const ch of word) {
      spans.push([x, x + 26, ch]);
      x += 30;
    }
    x += 13;
  }
  const l = line(spans, x);
  expect(recoverSpaces([{ chars: l.chars, image: l.image }], PARAMS).map((r) => r.text)).toEqual(['Secret ledger page']);
});

test('numbers keep their separators tight; narrow punctuation needs a wider gap', () => {
  // "1,250.75 x": digit gaps 4, 14 around the separators (wider than the threshold of 10), 30 before x.
  const spans: [number, number, string][] = [];
  let x = 0;
  for (const ch of '1,250.75') {
    const separator = ch === ',' || ch === '.';
    if (separator) x += 10;
    spans.push([x, x + (separator ? 4 : 12), ch]);
    x += (separator ? 4 : 12) + (separator ? 14 : 4);
  }
  spans.push([x + 26, x + 38, 'x']);
  const l = line(spans, x + 40);
  assert.equal(insertSpaces(l.chars, l.blank, 10), '1,250.75 x');
  const p = line(
    [
      [0, 12, 'a'],
      [24, 28, '.'],
      [42, 54, 'b'],
      [56, 60, '.'],
      [90, 102, 'c'],
    ],
    110,
  );
  assert.equal(insertSpaces(p.chars, p.blank, 10), 'a.b. c');
});

test('the blank beside a narrow tabular 1 does not split a number; a real gap between numbers still does', () => {
  // "177 42": the 1's ink is narrow, so the blank between it and the 7 is 12 columns (above 10).
  const l = line(
    [
      [4, 8, '1'],
      [20, 32, '7'],
      [36, 48, '7'],
      [78, 90, '4'],
      [94, 106, '2'],
    ],
    110,
  );
  assert.equal(insertSpaces(l.chars, l.blank, 10), '177 42');
});

test('after a comma before a word, or a full stop before a capital, an ordinary word gap is a space; elsewhere punctuation needs a wider one', () => {
  // The same 12-column blank after each mark: a word gap (10 needed), not wide enough beside punctuation (15).
  const l = line(
    [
      [0, 12, 'E'],
      [14, 16, ','],
      [28, 40, 'T'],
      [42, 44, '.'],
      [56, 68, 'Y'],
      [70, 72, '.'],
      [84, 96, 'c'],
    ],
    100,
  );
  assert.equal(insertSpaces(l.chars, l.blank, 10), 'E, T. Y.c');
});
