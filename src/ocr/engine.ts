/**
 * The OCR engine: loads the models once, then reads page images through the stages
 * detection -> page orientation -> crop -> line orientation -> recognition -> spaces and word boxes -> layout.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { BatchHelper, EngineInfo, PageOcr, StepMaxima } from '../contracts.ts';
import { OcrError } from '../errors.ts';
import { classifyLines, pageOrientation, type LineOrientation, type PageOrientation } from './stages/cls/cls.ts';
import { REC_HEIGHT, type OcrConfig } from './config.ts';
import { cropLine, flipLine, greyPage, lineAspect, lineFrame, splitLineAtGaps, type LinePiece } from './image/crop.ts';
import { ctcAlphabet } from './stages/rec/ctc.ts';
import type { DetectedBox } from './stages/det/db-postprocess.ts';
import { detectText } from './stages/det/det.ts';
import { quadSize, rotateQuad } from './image/geometry.ts';
import { assemblePage, type ReadLine } from './stages/layout/assemble.ts';
import { cpuInfo } from './model/cpu.ts';
import { sha256 } from './model/calibration.ts';
import { createSession, inferenceTime, sessionPrecision, type PreparedModel, type Session } from './model/onnx.ts';
import { prepareModelsApart, type EngineModels } from './engine-models.ts';
import { decodeImage, turnRaster, type Raster, type Turn } from './image/raster.ts';
import type { LineSpan } from './image/line-tensor.ts';
import { linePieces, readSteps, recognizeLines } from './stages/rec/rec.ts';
import { recoverSpaces } from './stages/rec/spaces.ts';
import { wordBoxes } from './stages/rec/words.ts';

/** Whether most of the page's text runs vertically: the page is turned a quarter. */
function mostlyVertical(boxes: DetectedBox[]): boolean {
  let vertical = 0,
    horizontal = 0;
  for (const { box } of boxes) {
    const { width, height } = quadSize(box);
    if (height >= 1.5 * width) vertical += height;
    else if (width >= 1.5 * height) horizontal += width;
  }
  return vertical > 2 * horizontal;
}

/**
 * What reads pages: one engine (OcrEngine), or several in threads of their own (EnginePool). A page's
 * `language` picks the recogniser (the default one when not given); one the engine does not read is
 * UNSUPPORTED_LANGUAGE. Its idle engines read recognition batches that busy engines elsewhere (on
 * other workers) lend them.
 */
export interface PageReader {
  readonly info: EngineInfo;
  /** Reads a decoded page. */
  recognizeRaster(raster: Raster, language?: string): Promise<PageOcr>;
  /** Reads an encoded image (PNG, JPEG, WebP, TIFF); `decode` may run elsewhere (an isolated process). */
  recognizeImage(encoded: Uint8Array, maxPixels: number, decode?: typeof decodeImage, language?: string): Promise<PageOcr>;
  /** The recognisers whose batches this reader reads, by id (recogniserId). */
  readonly recognisers: readonly string[];
  /**
   * Reads a batch that an engine elsewhere packed for recogniser `recogniser`, on an engine without a
   * page, after the other such batches; undefined when a page is here to read (pages come first).
   */
  readLentBatch(input: Float32Array<ArrayBuffer>, dims: number[], recogniser: string): Promise<StepMaxima | undefined>;
}

/**
 * A recogniser's id: its model file and dictionary. Engines that share it may read each other's
 * batches, whatever the CPU made of the model (int8 weight bits): the classes mean the same.
 */
export function recogniserId(modelPath: string, modelSha256: string, dictionary: string): string {
  return `${basename(modelPath)}@${modelSha256.slice(0, 12)}/${sha256(Buffer.from(dictionary)).slice(0, 8)}`;
}

/** Decodes, then reads: the page's timings get the decode time. */
export async function readEncodedPage(
  reader: PageReader,
  encoded: Uint8Array,
  maxPixels: number,
  decode: typeof decodeImage,
  language: string | undefined,
): Promise<PageOcr> {
  const t0 = performance.now();
  const raster = await decode(encoded, maxPixels);
  const page = await reader.recognizeRaster(raster, language);
  const decodeMs = performance.now() - t0 - page.timings.total_ms;
  return { ...page, timings: { ...page.timings, decode_ms: decodeMs, total_ms: performance.now() - t0 } };
}

/** Engines elsewhere (of the pool, or on other workers) that an engine lends recognition batches to. */
export interface PoolSharing {
  /** Idle engines that read recognition batches for recogniser `recogniser` (recognizeLines). */
  recognitionHelper(recogniser: string): BatchHelper;
}

/** A recogniser with its dictionary's classes. */
interface Recognizer {
  id: string;
  path: string;
  session: Session;
  alphabet: string[];
}

/**
 * V8 optimizes a function after it has done a certain amount of work, and the pipeline makes fresh
 * closures for every page (callbacks per line, per word): each crossed that mark again, and a 24-page
 * job compiled some 850 functions on V8's background threads, about 70 ms of a core per page taken
 * from the engines. Ten times the work before optimizing leaves 274 compilations, while the hot loops
 * (crops, tensors) still optimize within the first page: engines in process 1-2 % faster (npm run
 * bench, 30 pages, the VNNI EPYC). The setting is V8's, so the whole process's.
 */
const V8_TIERING = '--invocation-count-for-turbofan=30000';

export class OcrEngine implements PageReader {
  readonly config: OcrConfig;
  private readonly det: Session;
  /** The recogniser of `config.models`, for pages that name no language. */
  private readonly rec: Recognizer;
  /** The recogniser of each language read. */
  private readonly byLanguage: ReadonlyMap<string, Recognizer>;
  private readonly cls: Session | undefined;
  private readonly sharing: PoolSharing | undefined;
  /** Pages being read. */
  private pages = 0;

  private constructor(
    config: OcrConfig,
    det: Session,
    recognizers: Recognizer[],
    cls: Session | undefined,
    sharing: PoolSharing | undefined,
  ) {
    this.config = config;
    this.det = det;
    this.sharing = sharing;
    this.rec = recognizers[0]!;
    this.cls = cls;
    // The added recognisers come after the default one, so theirs wins a language both name.
    const named = [config.languages, ...config.languageModels.map((m) => m.languages)];
    this.byLanguage = new Map(recognizers.flatMap((r, i) => named[i]!.map((language) => [language, r] as const)));
  }

  /**
   * Loads the models, prepared here or, for an engine of a pool, by the pool (`prepared`: not kept, as
   * onnxruntime keeps what it needs of them); an engine of a pool also gets what it shares with the
   * others (`sharing`).
   */
  static async load(config: OcrConfig, sharing?: PoolSharing, prepared?: EngineModels): Promise<OcrEngine> {
    setFlagsFromString(V8_TIERING);
    const models = prepared ?? (await prepareModelsApart(config));
    const session = (model: PreparedModel) => createSession(model, config.threads);
    const recognizers = [config.models, ...config.languageModels].map(async ({ rec, dict }, i): Promise<Recognizer> => {
      const [recSession, classes] = await Promise.all([session(models.rec[i]!), readFile(dict, 'utf8')]);
      return { id: recogniserId(rec, models.rec[i]!.sha256, classes), path: rec, session: recSession, alphabet: ctcAlphabet(classes) };
    });
    const [det, cls, ...loaded] = await Promise.all([session(models.det), models.cls && session(models.cls), ...recognizers]);
    const engine = new OcrEngine(config, det, loaded, cls, sharing);
    await engine.warmUp();
    return engine;
  }

  /** The recogniser for a page in `language`: the default one when none is named. */
  private recognizerFor(language: string | undefined): Recognizer {
    if (language === undefined) return this.rec;
    const found = this.byLanguage.get(language);
    if (!found)
      throw new OcrError('UNSUPPORTED_LANGUAGE', `This worker reads ${[...this.byLanguage.keys()].sort().join(', ')}, not ${language}`);
    return found;
  }

  private get recognizers(): Recognizer[] {
    return [...new Set([this.rec, ...this.byLanguage.values()])];
  }

  get recognisers(): string[] {
    return this.recognizers.map((r) => r.id);
  }

  /** One small inference per model: onnxruntime's first run is slow, and no user should pay it. */
  private async warmUp(): Promise<void> {
    const page: Raster = { data: new Uint8Array(256 * 256).fill(255), width: 256, height: 256, channels: 1 };
    await detectText(this.det, page, this.config.det);
    const line = { data: new Uint8Array(REC_HEIGHT * 96).fill(255), width: 96, height: REC_HEIGHT };
    for (const rec of this.recognizers) await recognizeLines(rec.session, [line], rec.alphabet, this.config.rec);
    if (this.cls) await classifyLines(this.cls, [line], 1);
  }

  /** Milliseconds spent inside the models since loading (warm-up included). */
  get inferenceMs(): number {
    const rec = this.recognizers.reduce((ms, r) => ms + inferenceTime(r.session), 0);
    return inferenceTime(this.det) + rec + (this.cls ? inferenceTime(this.cls) : 0);
  }

  get info(): EngineInfo {
    const { models, threads } = this.config;
    const described = (path: string, session: Session) => `${basename(path)} ${sessionPrecision(session)}`;
    return {
      models: {
        det: described(models.det, this.det),
        rec: described(models.rec, this.rec.session),
        cls: this.cls ? described(models.cls, this.cls) : 'off',
      },
      languages: Object.fromEntries(
        [...this.byLanguage].sort(([a], [b]) => a.localeCompare(b)).map(([l, r]) => [l, described(r.path, r.session)]),
      ),
      threads,
      engines: 1,
      cpu: cpuInfo(),
    };
  }

  /** Reads an encoded image (PNG, JPEG, WebP, TIFF); `decode` may run elsewhere (an isolated process). */
  recognizeImage(encoded: Uint8Array, maxPixels: number, decode: typeof decodeImage = decodeImage, language?: string): Promise<PageOcr> {
    return readEncodedPage(this, encoded, maxPixels, decode, language);
  }

  /** Reads a decoded page. */
  async recognizeRaster(original: Raster, language?: string): Promise<PageOcr> {
    this.pages++;
    try {
      return await this.readPage(original, language);
    } finally {
      this.pages--;
    }
  }

  private async readPage(original: Raster, language: string | undefined): Promise<PageOcr> {
    const rec = this.recognizerFor(language);
    const t0 = performance.now();
    let page = original;
    let turn: Turn = 0;
    let detMs = 0,
      clsMs = 0;
    const detect = async () => {
      const detected = await detectText(this.det, page, this.config.det);
      detMs += detected.ms;
      return detected.boxes;
    };
    let boxes = await detect();
    if (mostlyVertical(boxes)) {
      turn = 90;
      page = turnRaster(page, 90);
      boxes = await detect();
    }
    let lines = this.cutLines(page, boxes);
    const orientation = await this.orientation(lines);
    clsMs += orientation.ms;
    let orientations = orientation.lines;
    if (orientation.upsideDown) {
      // Read it again the right way up: boxes found on the upright page fit its text best.
      turn = ((turn + 180) % 360) as Turn;
      page = turnRaster(page, 180);
      lines = this.cutLines(page, await detect());
      // Lines of a page of mixed orientation are all classified again, now the page is upright.
      if (orientations) {
        const again = await this.classify(lines);
        clsMs += again.ms;
        orientations = again.lines;
      }
    }
    // A line the classifier calls turned is read both ways and keeps the likelier reading: on short
    // pieces (one word cut from a justified line) the classifier is often wrong, the recogniser rarely.
    const { flipThreshold } = this.config.cls;
    const upright = lines.map((l) => l.image);
    const turned = (orientations ?? []).flatMap((o, i) => (o.turned && o.score >= flipThreshold ? [i] : []));
    const flipped = turned.map((i) => flipLine(upright[i]!));
    const both = await recognizeLines(
      rec.session,
      [...upright, ...flipped],
      rec.alphabet,
      this.config.rec,
      this.sharing?.recognitionHelper(rec.id),
    );
    const crops = [...upright];
    const readFlipped = new Set<number>();
    const recognized = { lines: both.lines.slice(0, upright.length), ms: both.ms };
    turned.forEach((lineIndex, k) => {
      const reading = both.lines[upright.length + k]!;
      if (reading.confidence > recognized.lines[lineIndex]!.confidence) {
        recognized.lines[lineIndex] = reading;
        crops[lineIndex] = flipped[k]!;
        readFlipped.add(lineIndex);
      }
    });
    const spaced = recoverSpaces(
      recognized.lines.map((r, i) => ({ chars: r.chars, image: crops[i]! })),
      this.config.spaces,
    );
    const kept: ReadLine[] = [];
    recognized.lines.forEach((r, i) => {
      const { text, words } = spaced[i]!;
      if (text.trim() === '' || r.confidence < this.config.rec.minConfidence) return;
      const source = { chars: r.chars, image: crops[i]!, frame: lines[i]!.frame, flipped: readFlipped.has(i) };
      kept.push({ box: lines[i]!.box, text, confidence: r.confidence, words: wordBoxes(source, words) });
    });

    // Boxes are reported in the frame of the image as it was sent.
    const back = ((360 - turn) % 360) as Turn;
    const layoutStart = performance.now();
    const assembled = assemblePage(kept, this.config.layout, (q) => rotateQuad(q, back, page.width, page.height));
    const layoutMs = performance.now() - layoutStart;
    return {
      width: original.width,
      height: original.height,
      rotation: turn,
      ...assembled,
      timings: { decode_ms: 0, det_ms: detMs, cls_ms: clsMs, rec_ms: recognized.ms, layout_ms: layoutMs, total_ms: performance.now() - t0 },
    };
  }

  /** Reads a batch packed by another engine for recogniser `recogniser` (recognizeLines). */
  readBatch(input: Float32Array, dims: number[], recogniser: string): Promise<StepMaxima> {
    const rec = this.recognizers.find((r) => r.id === recogniser);
    if (!rec) return Promise.reject(new OcrError('INVALID_PARAMS', `This engine has no recogniser ${recogniser}`));
    return readSteps(rec.session, input, dims);
  }

  async readLentBatch(input: Float32Array<ArrayBuffer>, dims: number[], recogniser: string): Promise<StepMaxima | undefined> {
    return this.pages > 0 ? undefined : this.readBatch(input, dims, recogniser);
  }

  /** The upright line pieces the recogniser reads on a page: what int8 calibration (bench/calibrate.ts) records. */
  async recognizerInputs(page: Raster): Promise<LineSpan[]> {
    const { boxes } = await detectText(this.det, page, this.config.det);
    return linePieces(
      this.cutLines(page, boxes).map((l) => l.image),
      this.config.rec.maxPieceWidth,
    ).map((p) => p.span);
  }

  /** Each detected box straightened at the recogniser's height, cut at column gutters. */
  private cutLines(page: Raster, boxes: readonly DetectedBox[]): LinePiece[] {
    const { splitGap, widthScale } = this.config.rec;
    const grey = greyPage(page);
    return boxes.flatMap(({ box }) => {
      const image = cropLine(grey, box, REC_HEIGHT, widthScale);
      if (lineAspect(box).vertical) return [{ box, image, frame: lineFrame(box) }];
      return splitLineAtGaps(image, box, splitGap * REC_HEIGHT * widthScale, Math.round(0.15 * REC_HEIGHT * widthScale));
    });
  }

  private async classify(lines: readonly LinePiece[]): Promise<{ lines: LineOrientation[]; ms: number }> {
    if (!this.cls || lines.length === 0) return { lines: [], ms: 0 };
    const { orientations, ms } = await classifyLines(
      this.cls,
      lines.map((l) => l.image),
      this.config.cls.windowsPerLine,
    );
    return { lines: orientations, ms };
  }

  /** The page's orientation (upright when the classifier is off), and each line's where its lines disagree. */
  private async orientation(lines: readonly LinePiece[]): Promise<PageOrientation> {
    if (!this.cls) return { upsideDown: false, lines: undefined, ms: 0 };
    return pageOrientation(
      this.cls,
      lines.map((l) => l.image),
      this.config.cls,
    );
  }
}
