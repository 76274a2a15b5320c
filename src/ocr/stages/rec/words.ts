/**
 * Word boxes. The recogniser places each character on its timeline (REC_STRIDE line-image columns a
 * step), but a CTC peak is narrow and sits early in its glyph: it says which gap lies between two
 * words, not where a word's ink starts and ends. So two neighbouring words are parted at the widest
 * blank run between their facing characters, each word's box is the ink between its cuts, and its
 * corners go back to the page through the frame the line was cropped with.
 */
import type { OcrWord } from '../../../contracts.ts';
import { REC_STRIDE } from '../../config.ts';
import { blankColumns, inkThreshold, widestBlankRun, type LineImage } from '../../image/crop.ts';
import { lerp, type Point, type Quad } from '../../image/geometry.ts';
import type { DecodedChar } from './ctc.ts';
import { charCentre, type WordSpan } from './spaces.ts';

/** A read line as word boxes need it. */
export interface WordSource {
  chars: readonly DecodedChar[];
  /** The image the characters were read from. */
  image: LineImage;
  /** The page corners of the upright line image (LinePiece.frame). */
  frame: Quad;
  /** Whether `image` is the upright line image turned 180 degrees (the line was read the other way up). */
  flipped: boolean;
}

/** Rows [y0, y1) of the image holding ink in columns [x0, x1); all rows when none do. */
function inkRows(image: LineImage, x0: number, x1: number, cut: number | undefined): [number, number] {
  if (cut === undefined) return [0, image.height];
  const { data, width } = image;
  let y0 = image.height,
    y1 = 0;
  for (let y = 0; y < image.height; y++) {
    // A plain loop, not `some` with a callback: this runs for every row of every word.
    for (let i = y * width + x0, end = y * width + x1; i < end; i++) {
      if (data[i]! < cut) {
        y0 = Math.min(y0, y);
        y1 = y + 1;
        break;
      }
    }
  }
  return y1 > y0 ? [y0, y1] : [0, image.height];
}

/** The boxes of a line's words (from recoverSpaces), in the frame of the page the line was cut from. */
export function wordBoxes(line: WordSource, words: readonly WordSpan[]): OcrWord[] {
  const { chars, image, frame, flipped } = line;
  const { width, height } = image;
  const cut = inkThreshold(image);
  const blank = blankColumns(image, cut);
  // Column limits of each word: the line's ends, and between two words the widest blank run between
  // their facing characters (the midpoint of those characters where no column there is blank).
  const from = [0],
    to: number[] = [];
  for (let k = 1; k < words.length; k++) {
    const a = charCentre(chars[words[k - 1]!.last]!),
      b = charCentre(chars[words[k]!.first]!);
    const run = widestBlankRun(blank, a, b);
    const middle = Math.round((a + b) / 2);
    to.push(run ? run.x0 : middle);
    from.push(run ? run.x1 : middle);
  }
  to.push(width);
  return words.map((word, k) => {
    // The outer words end within a line height of their characters: ink further out is a speck or a neighbour's.
    const reach = height;
    const left = Math.max(from[k]!, k === 0 ? Math.floor(chars[word.first]!.start * REC_STRIDE - reach) : 0);
    const right = Math.min(to[k]!, k === words.length - 1 ? Math.ceil((chars[word.last]!.end + 1) * REC_STRIDE + reach) : width);
    let x0 = left,
      x1 = right;
    while (x0 < right && blank[x0]) x0++;
    while (x1 > x0 && blank[x1 - 1]) x1--;
    if (x1 <= x0) [x0, x1] = [left, Math.max(left + 1, right)];
    const [y0, y1] = inkRows(image, x0, x1, cut);
    // In the upright image's columns and rows.
    const [u0, u1, v0, v1] = flipped ? [width - x1, width - x0, height - y1, height - y0] : [x0, x1, y0, y1];
    const at = (u: number, v: number): Point => lerp(lerp(frame[0], frame[1], u / width), lerp(frame[3], frame[2], u / width), v / height);
    const own = chars.slice(word.first, word.last + 1).filter((c) => c.char.trim() !== '');
    const confidence = own.length === 0 ? 0 : own.reduce((s, c) => s + c.prob, 0) / own.length;
    return { text: word.text, box: [at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)], confidence };
  });
}
