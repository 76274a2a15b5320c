/**
 * The invisible text of one page, as content-stream operators: every word in its own text object
 * (BT ... ET) in reading order, drawn in render mode 3 (neither filled nor stroked) with the glyphless
 * font, its glyph box on the word's line (one size a line) and stretched (Tz) to the word's length. A
 * space follows every word but a line's last, in the same string (as wide as the word's letters on
 * average), so that copying gives the words with spaces; lines and paragraphs come apart by position,
 * as viewers and pdftotext expect of a page. A stretch of its own for each space, to fill the gap to
 * the next word exactly, would cost a tenth more bytes (8.4 against 7.5 KB a page on the 100-page
 * benchmark) for nothing pdftotext or pdfjs read differently.
 */
import type { Box, OcrLine, Point } from '../../contracts.ts';
import { ASCENT, DESCENT, GLYPH_ADVANCE, type GlyphlessFont } from './glyphless-font.ts';
import type { Affine } from './page-frame.ts';

type Vector = [number, number];

const dot = (p: Point | Vector, v: Vector) => p[0] * v[0] + p[1] * v[1];
const linear = (m: Affine, v: Vector): Vector => [m[0] * v[0] + m[2] * v[1], m[1] * v[0] + m[3] * v[1]];
const apply = (m: Affine, p: Vector): Vector => [m[0] * p[0] + m[2] * p[1] + m[4], m[1] * p[0] + m[3] * p[1] + m[5]];

/** Numbers as PDF writes them: at most `decimals` decimals, no exponent, no -0. */
function num(v: number, decimals = 2): string {
  const r = Math.round(v * 10 ** decimals) / 10 ** decimals;
  return Object.is(r, -0) ? '0' : String(r);
}

/** A line whose ends differ by less than this many points across its direction is taken as level (Tesseract's rule). */
const LEVEL_RISE = 2;

/** The page's reading direction in pixels: the page was turned `rotation` degrees clockwise to be read. */
function readingDirection(rotation: number): Vector {
  const turn = (-rotation * Math.PI) / 180;
  return [Math.round(Math.cos(turn)), Math.round(Math.sin(turn))];
}

/**
 * The direction a line's text runs in, in pixels: the reading direction tilted as the line's box is
 * tilted, when it rises at least `levelRise` pixels from end to end.
 */
function lineDirection(box: Box, reading: Vector, levelRise: number): Vector {
  // Of the box's sides, the one running most nearly along the reading direction, pointed along it.
  let best: Vector = reading,
    along = 0;
  for (let i = 0; i < 4; i++) {
    const a = box[i]!,
      b = box[(i + 1) % 4]!;
    const side: Vector = [b[0] - a[0], b[1] - a[1]];
    const d = dot(side, reading);
    if (Math.abs(d) > Math.abs(along)) {
      along = d;
      best = d < 0 ? [-side[0], -side[1]] : side;
    }
  }
  const length = Math.hypot(best[0], best[1]);
  const tilt = Math.atan2(reading[0] * best[1] - reading[1] * best[0], dot(best, reading));
  return length === 0 || Math.abs(Math.sin(tilt)) * length < levelRise ? reading : [best[0] / length, best[1] / length];
}

export interface LayerWriter {
  font: GlyphlessFont;
  /** The font's name in the page's resources. */
  fontName: string;
  /** Pixels of the page image to the page's user space. */
  toUser: Affine;
}

/** "Up" from a direction of text: from the baseline towards the tops of the letters. */
const upOf = (d: Vector): Vector => [d[1], -d[0]];

/**
 * Operators showing one line's words invisibly. A word is placed level in the page's reading direction
 * (a word drawn tilted, as a skewed scan's are, has letters on different baselines, and pdftotext then
 * cuts it in two), centred where it lies on the line, its glyph box the line's height.
 */
function lineOperators(line: OcrLine, rotation: number, w: LayerWriter, state: { size: number }): string[] {
  const pointsPerPixel = Math.sqrt(Math.abs(w.toUser[0] * w.toUser[3] - w.toUser[1] * w.toUser[2]));
  const reading = readingDirection(rotation);
  const d = lineDirection(line.box, reading, LEVEL_RISE / pointsPerPixel);
  const up = upOf(d);
  const corners = line.words.map((word) => word.box);
  const heights = corners.flat().map((p) => dot(p, up));
  const bottom = Math.min(...heights),
    top = Math.max(...heights);
  const userD = linear(w.toUser, reading),
    userUp = linear(w.toUser, upOf(reading));
  const alongScale = Math.hypot(...userD),
    upScale = Math.hypot(...userUp);
  const size = Math.max(0.01, (top - bottom) * upScale);
  // The glyph box spans the line's letters: the baseline sits the font's descent above their bottom.
  const baseline = -DESCENT / (ASCENT - DESCENT) - 0.5;
  const matrix = `${num(userD[0] / alongScale, 5)} ${num(userD[1] / alongScale, 5)} ${num(userUp[0] / upScale, 5)} ${num(userUp[1] / upScale, 5)}`;
  // Every text object starts at the identity: an upright page's words need only a move (Td).
  const place = (x: number, y: number) =>
    matrix === '1 0 0 1' ? `${num(x, 1)} ${num(y, 1)} Td` : `${matrix} ${num(x, 1)} ${num(y, 1)} Tm`;
  const spans = corners.map((box) => {
    const along = box.map((p) => dot(p, d));
    return [Math.min(...along), Math.max(...along)] as const;
  });
  // Tz: the stretch that makes `chars` glyphs `length` pixels long.
  const stretch = (length: number, chars: number) => (100 * length * alongScale) / (chars * (GLYPH_ADVANCE / 1000) * size);
  const middle = (bottom + top) / 2,
    height = top - bottom;
  return line.words.flatMap((word, i) => {
    const chars = [...word.text].length;
    if (chars === 0) return [];
    const [s0, s1] = spans[i]!;
    // The word's centre on the line, then back half its length and down to the baseline, level.
    const centre: Vector = [((s0 + s1) / 2) * d[0] + middle * up[0], ((s0 + s1) / 2) * d[1] + middle * up[1]];
    const start = (s1 - s0) / 2,
      lift = baseline * height;
    const origin = apply(w.toUser, [
      centre[0] - start * reading[0] + lift * upOf(reading)[0],
      centre[1] - start * reading[1] + lift * upOf(reading)[1],
    ]);
    const font = state.size === size ? '' : `/${w.fontName} ${num(size)} Tf `;
    state.size = size;
    // Positions to a tenth of a point and stretches to a tenth of a percent keep a word within a
    // fraction of a point of its box, and the layer to a few kilobytes a page.
    const next = spans[i + 1];
    const ops = `BT ${font}${place(origin[0], origin[1])} ${num(stretch(s1 - s0, chars), 1)} Tz <${w.font.encode(next ? `${word.text} ` : word.text)}> Tj`;
    return [`${ops} ET`];
  });
}

/** The page's invisible text, lines in reading order. */
export function textLayerOperators(lines: readonly OcrLine[], rotation: number, writer: LayerWriter): string {
  const state = { size: -1 };
  const body = lines.filter((l) => l.words.length > 0).flatMap((line) => lineOperators(line, rotation, writer, state));
  return body.length === 0 ? '' : `q\n3 Tr 0 Tc 0 Tw 0 Ts\n${body.join('\n')}\nQ\n`;
}
