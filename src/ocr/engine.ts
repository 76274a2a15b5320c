/**
 * The OCR engine: loads the models once, then reads page images through the stages
 * detection -> page orientation -> crop -> line orientation -> recognition -> spaces -> layout.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { PageOcr } from '../types.ts';
import { classifyLines } from './cls.ts';
import { REC_HEIGHT, type OcrConfig } from './config.ts';
import { cropLine, flipLine, lineAspect, splitLineAtGaps } from './crop.ts';
import { ctcAlphabet } from './ctc.ts';
import type { DetectedBox } from './db-postprocess.ts';
import { detectText } from './det.ts';
import { quadSize, rotateQuad, type Quad } from './geometry.ts';
import { assemblePage } from './assemble.ts';
import { loadSession, type Session } from './onnx.ts';
import { decodeImage, turnRaster, type Raster, type Turn } from './raster.ts';
import { recognizeLines } from './rec.ts';
import { recoverSpaces } from './spaces.ts';

export interface EngineInfo {
  models: { det: string; rec: string; cls: string };
  threads: number;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** Whether most of the page's text runs vertically: the page is turned a quarter. */
function mostlyVertical(boxes: DetectedBox[]): boolean {
  let vertical = 0, horizontal = 0;
  for (const { box } of boxes) {
    const { width, height } = quadSize(box);
    if (height >= 1.5 * width) vertical += height;
    else if (width >= 1.5 * height) horizontal += width;
  }
  return vertical > 2 * horizontal;
}

export class OcrEngine {
  readonly config: OcrConfig;
  private readonly det: Session;
  private readonly rec: Session;
  private readonly cls: Session | undefined;
  private readonly alphabet: string[];

  private constructor(config: OcrConfig, det: Session, rec: Session, cls: Session | undefined, alphabet: string[]) {
    this.config = config;
    this.det = det;
    this.rec = rec;
    this.cls = cls;
    this.alphabet = alphabet;
  }

  static async load(config: OcrConfig): Promise<OcrEngine> {
    const { models, threads } = config;
    const [det, rec, cls, dict] = await Promise.all([
      loadSession(models.det, threads),
      loadSession(models.rec, threads),
      config.cls.enabled ? loadSession(models.cls, threads) : undefined,
      readFile(models.dict, 'utf8'),
    ]);
    return new OcrEngine(config, det, rec, cls, ctcAlphabet(dict));
  }

  get info(): EngineInfo {
    const { models, threads } = this.config;
    return { models: { det: basename(models.det), rec: basename(models.rec), cls: this.cls ? basename(models.cls) : 'off' }, threads };
  }

  /** Reads an encoded image (PNG, JPEG, WebP, TIFF). */
  async recognizeImage(encoded: Uint8Array, maxPixels: number): Promise<PageOcr> {
    const t0 = performance.now();
    const raster = await decodeImage(encoded, maxPixels);
    const page = await this.recognizeRaster(raster);
    const decodeMs = performance.now() - t0 - page.timings.total_ms;
    return { ...page, timings: { ...page.timings, decode_ms: round1(decodeMs), total_ms: round1(performance.now() - t0) } };
  }

  /** Reads a decoded page. */
  async recognizeRaster(original: Raster): Promise<PageOcr> {
    const t0 = performance.now();
    let page = original;
    let turn: Turn = 0;
    let detected = await detectText(this.det, page, this.config.det);
    let detMs = detected.ms;
    if (mostlyVertical(detected.boxes)) {
      turn = 90;
      page = turnRaster(page, 90);
      detected = await detectText(this.det, page, this.config.det);
      detMs += detected.ms;
    }
    const pieces = detected.boxes.flatMap(({ box }) => {
      const { splitGap, widthScale } = this.config.rec;
      const image = cropLine(page, box, REC_HEIGHT, widthScale);
      if (lineAspect(box).vertical) return [{ box, image }];
      return splitLineAtGaps(image, box, splitGap * REC_HEIGHT * widthScale, Math.round(0.15 * REC_HEIGHT * widthScale));
    });
    let boxes = pieces.map((p) => p.box);
    let crops = pieces.map((p) => p.image);

    let clsMs = 0;
    if (this.cls && crops.length > 0) {
      const { orientations, ms } = await classifyLines(this.cls, crops, this.config.cls.windowsPerLine);
      clsMs = ms;
      const { flipThreshold, pageFlipShare } = this.config.cls;
      const isTurned = orientations.map((o) => o.turned && o.score >= flipThreshold);
      const total = crops.reduce((s, c) => s + c.width, 0);
      const turnedWidth = crops.reduce((s, c, i) => s + (isTurned[i] ? c.width : 0), 0);
      if (turnedWidth > pageFlipShare * total) {
        // Most text reads upside down: the page is, so turn it and read every line the other way.
        const { width, height } = page;
        turn = ((turn + 180) % 360) as Turn;
        page = turnRaster(page, 180);
        boxes = boxes.map((b) => rotateQuad(b, 180, width, height));
        crops = crops.map(flipLine);
        isTurned.forEach((t, i) => (isTurned[i] = !t && orientations[i]!.score >= flipThreshold));
      }
      crops = crops.map((c, i) => (isTurned[i] ? flipLine(c) : c));
    }

    const recognized = await recognizeLines(this.rec, crops, this.alphabet, this.config.rec);
    const texts = recoverSpaces(recognized.lines.map((r, i) => ({ chars: r.chars, image: crops[i]! })), this.config.spaces);
    const kept: { box: Quad; text: string; confidence: number }[] = [];
    recognized.lines.forEach((r, i) => {
      const text = texts[i]!;
      if (text.trim() !== '' && r.confidence >= this.config.rec.minConfidence) kept.push({ box: boxes[i]!, text, confidence: r.confidence });
    });

    // Boxes are reported in the frame of the image as it was sent.
    const back = ((360 - turn) % 360) as Turn;
    const assembled = assemblePage(kept, (q) => rotateQuad(q, back, page.width, page.height));
    const totalMs = performance.now() - t0;
    return {
      width: original.width,
      height: original.height,
      rotation: turn,
      ...assembled,
      timings: { decode_ms: 0, det_ms: round1(detMs), cls_ms: round1(clsMs), rec_ms: round1(recognized.ms), total_ms: round1(totalMs) },
    };
  }
}
