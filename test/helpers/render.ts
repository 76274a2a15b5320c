/** Test fixtures made in the test: pages of known text rendered with @napi-rs/canvas. */
import { existsSync } from 'node:fs';
import { createCanvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import type { Box } from '../../src/contracts.ts';
import { rotateQuad } from '../../src/ocr/image/geometry.ts';

const FONTS = {
  sans: { file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', family: 'TestSans', debian: 'fonts-dejavu-core' },
  cjk: { file: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', family: 'TestCJK', debian: 'fonts-noto-cjk' },
};
const registered = new Set<string>();

function ensureFont(font: keyof typeof FONTS): string {
  const { file, family, debian } = FONTS[font];
  if (registered.has(family)) return family;
  if (!existsSync(file)) throw new Error(`${file} is missing: apt-get install ${debian} (.ci/run does)`);
  GlobalFonts.registerFromPath(file, family);
  registered.add(family);
  return family;
}

export interface PageSpec {
  /** Paragraphs of lines. */
  paragraphs: string[][];
  width?: number;
  height?: number;
  fontSize?: number;
  /** Clockwise turn applied to the finished page. */
  turn?: 0 | 90 | 180 | 270;
  /** Two columns: the paragraphs are split between a left and a right column. */
  columns?: 1 | 2;
  format?: 'png' | 'jpeg' | 'webp';
  /** DejaVu Sans (default), or Noto Sans CJK for Chinese text. */
  font?: keyof typeof FONTS;
}

/** A drawn word and the box of its ink, in pixels of the finished (turned) page. */
export interface DrawnWord {
  text: string;
  box: Box;
}

/** A white canvas set to draw dark text in `font`. */
function blankCanvas(width: number, height: number, font: string, baseline: 'top' | 'middle'): SKRSContext2D {
  const g = createCanvas(width, height).getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, width, height);
  g.fillStyle = '#111';
  g.font = font;
  g.textBaseline = baseline;
  return g;
}

/**
 * Renders the page and returns the encoded image, its truth (lines joined by \n, paragraphs by \n\n)
 * and every word with the box of its ink.
 */
export function renderPage(spec: PageSpec): { image: Buffer; truth: string; words: DrawnWord[] } {
  const family = ensureFont(spec.font ?? 'sans');
  const width = spec.width ?? 1200,
    height = spec.height ?? 900,
    size = spec.fontSize ?? 28;
  const g = blankCanvas(width, height, `${size}px ${family}`, 'top');
  const page = g.canvas;
  const columns = spec.columns ?? 1;
  const margin = 60,
    gutter = 80;
  const columnWidth = (width - 2 * margin - (columns - 1) * gutter) / columns;
  const perColumn = Math.ceil(spec.paragraphs.length / columns);
  const turn = spec.turn ?? 0;
  const words: DrawnWord[] = [];
  spec.paragraphs.forEach((para, p) => {
    const column = Math.floor(p / perColumn);
    const x = margin + column * (columnWidth + gutter);
    let y = margin + spec.paragraphs.slice(column * perColumn, p).reduce((s, q) => s + q.length * size * 1.5 + size, 0);
    for (const line of para) {
      g.fillText(line, x, y);
      for (const match of line.matchAll(/\S+/g)) {
        const left = x + g.measureText(line.slice(0, match.index)).width;
        const ink = g.measureText(match[0]);
        const [x0, x1] = [left - ink.actualBoundingBoxLeft, left + ink.actualBoundingBoxRight];
        const [y0, y1] = [y - ink.actualBoundingBoxAscent, y + ink.actualBoundingBoxDescent];
        words.push({
          text: match[0],
          box: rotateQuad(
            [
              [x0, y0],
              [x1, y0],
              [x1, y1],
              [x0, y1],
            ],
            turn,
            width,
            height,
          ),
        });
      }
      y += size * 1.5;
    }
  });
  const [ow, oh] = turn === 90 || turn === 270 ? [height, width] : [width, height];
  const out = createCanvas(ow, oh);
  const o = out.getContext('2d');
  o.translate(ow / 2, oh / 2);
  o.rotate((turn * Math.PI) / 180);
  o.drawImage(page, -width / 2, -height / 2);
  const format = spec.format ?? 'png';
  const image =
    format === 'png' ? out.toBuffer('image/png') : format === 'jpeg' ? out.toBuffer('image/jpeg', 90) : out.toBuffer('image/webp', 90);
  return { image, truth: spec.paragraphs.map((p) => p.join('\n')).join('\n\n'), words };
}

/**
 * One line of text as the recogniser and classifier read it: grey, 48 rows, as wide as the text with
 * a little margin; `turned` gives it turned 180 degrees (the pixels in reverse order).
 */
export function renderLine(text: string, turned = false): { data: Uint8Array; width: number; height: number } {
  const family = ensureFont('sans');
  const height = 48,
    size = 30;
  const probe = createCanvas(1, 1).getContext('2d');
  probe.font = `${size}px ${family}`;
  const width = Math.ceil(probe.measureText(text).width) + 12;
  const g = blankCanvas(width, height, `${size}px ${family}`, 'middle');
  g.fillText(text, 6, height / 2);
  const rgba = g.getImageData(0, 0, width, height).data;
  const data = Uint8Array.from({ length: width * height }, (_, i) => rgba[i * 4]!);
  return { data: turned ? data.reverse() : data, width, height };
}

export { cer } from '../../bench/cer.ts';

export const ENGLISH_PARAGRAPHS: string[][] = [
  ['The quick brown fox jumps over the lazy dog.', 'Pack my box with five dozen liquor jugs.'],
  ['Sphinx of black quartz, judge my vow: 42 items', 'cost $1,250.75 in total, shipped on 2024-06-01.'],
];
