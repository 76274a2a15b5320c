import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import ort, { type InferenceSession } from '../../src/onnxruntime.ts';
import { int8Options, RangeRecorder, sha256 } from '../../src/ocr/model/calibration.ts';
import { cpuPointwiseGemm, cpuWeightBits, describeCpu, parseCpuInfo } from '../../src/ocr/model/cpu.ts';
import { defaultModelPaths } from '../../src/ocr/config.ts';
import { rewriteModel } from '../../src/ocr/model/graph-rewrite.ts';
import { OnnxModel } from '../../src/ocr/model/onnx-graph.ts';
import { calibrationModel, type QuantizeOptions } from '../../src/ocr/model/quantize.ts';
import { constantNode, onnxModel, opNode } from '../../harness/onnx-model.ts';

function seededValues(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  });
}

const DIMS = [1, 4, 8, 8];
const scalar = (name: string, v: number) => constantNode(name, [1], Float32Array.of(v));

/**
 * conv -> hard-swish -> shift -> padded depthwise conv -> hard-swish -> squeeze-and-excite -> 1x1 conv
 * -> sigmoid, then a Slice written the opset-9 way: the shape of a PP-LCNet trunk, in an opset-9 model.
 */
function trunkModel(): Uint8Array {
  return onnxModel(
    [
      constantNode('W1', [8, 4, 1, 1], seededValues(32, 1)),
      constantNode('B1', [8], seededValues(8, 2)),
      constantNode('W2', [8, 1, 3, 3], seededValues(72, 3)),
      constantNode('B2', [8], seededValues(8, 4)),
      constantNode('Wse1', [2, 8, 1, 1], seededValues(16, 5)),
      constantNode('Wse2', [8, 2, 1, 1], seededValues(16, 6)),
      constantNode('W3', [4, 8, 1, 1], seededValues(32, 7)),
      scalar('shift', 0.25),
      opNode({ op: 'Conv', inputs: ['x', 'W1', 'B1'], output: 'c1', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
      opNode({
        op: 'HardSigmoid',
        inputs: ['c1'],
        output: 'g1',
        attributes: [
          { name: 'alpha', f: 1 / 6 },
          { name: 'beta', f: 0.5 },
        ],
      }),
      opNode({ op: 'Mul', inputs: ['c1', 'g1'], output: 'h1' }),
      opNode({ op: 'Add', inputs: ['h1', 'shift'], output: 'a1' }),
      opNode({
        op: 'Conv',
        inputs: ['a1', 'W2', 'B2'],
        output: 'c2',
        attributes: [
          { name: 'group', i: 8 },
          { name: 'kernel_shape', ints: [3, 3] },
          { name: 'pads', ints: [1, 1, 1, 1] },
        ],
      }),
      opNode({
        op: 'HardSigmoid',
        inputs: ['c2'],
        output: 'g2',
        attributes: [
          { name: 'alpha', f: 1 / 6 },
          { name: 'beta', f: 0.5 },
        ],
      }),
      opNode({ op: 'Mul', inputs: ['c2', 'g2'], output: 'h2' }),
      opNode({ op: 'GlobalAveragePool', inputs: ['h2'], output: 'p' }),
      opNode({ op: 'Conv', inputs: ['p', 'Wse1'], output: 'se1', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
      opNode({ op: 'Relu', inputs: ['se1'], output: 'se2' }),
      opNode({ op: 'Conv', inputs: ['se2', 'Wse2'], output: 'se3', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
      opNode({
        op: 'HardSigmoid',
        inputs: ['se3'],
        output: 'se4',
        attributes: [
          { name: 'alpha', f: 1 / 6 },
          { name: 'beta', f: 0.5 },
        ],
      }),
      opNode({ op: 'Mul', inputs: ['h2', 'se4'], output: 'h3' }),
      opNode({ op: 'Conv', inputs: ['h3', 'W3'], output: 'c3', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
      opNode({ op: 'Sigmoid', inputs: ['c3'], output: 's' }),
      opNode({
        op: 'Slice',
        inputs: ['s'],
        output: 'y',
        attributes: [
          { name: 'starts', ints: [1] },
          { name: 'ends', ints: [-1] },
          { name: 'axes', ints: [3] },
        ],
      }),
    ],
    DIMS,
    [1, 4, 8, 6],
  );
}

async function session(bytes: Uint8Array, optimizedModelFilePath?: string): Promise<InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    logSeverityLevel: 3,
    graphOptimizationLevel: 'all',
    ...(optimizedModelFilePath ? { optimizedModelFilePath } : {}),
  });
}

async function outputs(s: InferenceSession, input: Float32Array): Promise<InferenceSession.ReturnType> {
  return s.run({ x: new ort.Tensor('float32', input, DIMS) });
}

const inputs = Array.from({ length: 20 }, (_, i) => seededValues(4 * 64, 100 + i).map((v) => v * 3));

/** Calibrates `model` on `samples` the way bench/calibrate.ts does; the tensors it records, and the options for this CPU. */
async function calibrate(
  model: Uint8Array,
  samples: Float32Array[],
  dims = DIMS,
): Promise<{ tensors: string[]; options: QuantizeOptions }> {
  const calibrated = new OnnxModel(model);
  const tensors = calibrationModel(calibrated);
  const probe = await session(calibrated.encode());
  const recorder = new RangeRecorder();
  for (const pass of ['extent', 'histogram']) {
    for (const input of samples) {
      const out = await probe.run({ x: new ort.Tensor('float32', input, dims) });
      for (const t of tensors) {
        if (pass === 'extent') recorder.recordExtent(t, out[t]!.data as Float32Array);
        else recorder.recordHistogram(t, out[t]!.data as Float32Array);
      }
    }
  }
  return { tensors, options: { ranges: recorder.ranges(1), weightBits: cpuWeightBits(), pointwiseGemm: false, int8Pools: true } };
}

/** The op types onnxruntime runs for `bytes`, from the model it optimized. */
async function kernelsOf(bytes: Uint8Array): Promise<{ kernels: string[]; session: InferenceSession }> {
  const optimized = join(mkdtempSync(join(tmpdir(), 'int8-')), 'optimized.onnx');
  const s = await session(bytes, optimized);
  return { kernels: new OnnxModel(readFileSync(optimized)).graph.nodes.map((n) => n.opType), session: s };
}

test('a conv trunk runs in int8 kernels and computes what the float model does, to the quantization step', async () => {
  const model = trunkModel();
  const { tensors, options } = await calibrate(model, inputs);
  // Every conv and elementwise node but the squeeze-and-excite branch's (one value per channel), whose
  // pool reads the int8 map.
  expect(tensors).toEqual(['x', 'c1', 'h1', 'a1', 'c2', 'h2', 'p', 'se4', 'h3', 'c3']);
  const { bytes, report } = rewriteModel(model, { int8: options });
  expect(report.int8).toEqual({ nodes: 11 });

  const float = await session(model);
  const { kernels, session: int8 } = await kernelsOf(bytes);
  for (const op of ['QLinearConv', 'QLinearAdd', 'QLinearMul', 'QLinearSigmoid', 'QLinearGlobalAveragePool'])
    assert.ok(kernels.includes(op), `${op} in ${kernels.join(' ')}`);
  assert.ok(!kernels.includes('GlobalAveragePool'), 'the pool reads int8, not a dequantized copy of the map');
  const floatPools = rewriteModel(model, { int8: { ...options, int8Pools: false } });
  expect(floatPools.report.int8).toEqual({ nodes: 10 });
  const { kernels: kept } = await kernelsOf(floatPools.bytes);
  assert.ok(kept.includes('GlobalAveragePool') && !kept.includes('QLinearGlobalAveragePool'), kept.join(' '));
  assert.ok(!kernels.includes('Conv') || kernels.filter((k) => k === 'Conv').length === 2, 'only the squeeze-and-excite convs stay float');

  for (const input of inputs.slice(0, 5)) {
    const [a, b] = [(await outputs(float, input)).y!, (await outputs(int8, input)).y!];
    expect(b.dims).toEqual([1, 4, 8, 6]); // the opset-9 Slice still slices
    const difference = (a.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - (b.data as Float32Array)[i]!)), 0);
    // Sigmoid outputs in [0, 1]: a few steps of 1/255 through four quantized layers.
    assert.ok(difference < 0.03, `max difference ${difference}`);
  }
});

test('class scores read by a softmax run as an int8 matrix product; the best class per step stays the same', async () => {
  // A recogniser's shape in small: a conv over a one-row image, its columns as timesteps, scores for
  // 40 classes, softmax; handing over the best class and its probability (argmaxOutputs).
  const [channels, steps, classes] = [8, 16, 40];
  const model = onnxModel(
    [
      constantNode('W', [channels, 4, 1, 3], seededValues(channels * 12, 11)),
      constantNode('S', [channels, classes], seededValues(channels * classes, 12)),
      constantNode('b', [classes], seededValues(classes, 13)),
      opNode({
        op: 'Conv',
        inputs: ['x', 'W'],
        output: 'c',
        attributes: [
          { name: 'kernel_shape', ints: [1, 3] },
          { name: 'pads', ints: [0, 1, 0, 1] },
        ],
      }),
      opNode({ op: 'Squeeze', inputs: ['c'], output: 'q', attributes: [{ name: 'axes', ints: [2] }] }),
      opNode({ op: 'Transpose', inputs: ['q'], output: 't', attributes: [{ name: 'perm', ints: [0, 2, 1] }] }),
      opNode({ op: 'MatMul', inputs: ['t', 'S'], output: 'm' }),
      opNode({ op: 'Add', inputs: ['m', 'b'], output: 'a' }),
      opNode({ op: 'Softmax', inputs: ['a'], output: 'y', attributes: [{ name: 'axis', i: 2 }] }),
    ],
    [1, 4, 1, steps],
    [1, steps, classes],
  );
  const dims = [1, 4, 1, steps];
  const samples = Array.from({ length: 20 }, (_, i) => seededValues(4 * steps, 200 + i).map((v) => v * 3));
  const { options } = await calibrate(model, samples, dims);
  const { bytes, report } = rewriteModel(model, { argmaxOutputs: true, int8: options });
  expect(report).toMatchObject({ argmaxOutputs: true, int8: { nodes: 2 } }); // the conv and the class scores
  const { kernels, session: int8 } = await kernelsOf(bytes);
  assert.ok(kernels.includes('DynamicQuantizeMatMul') && !kernels.includes('MatMul'), kernels.join(' '));
  const float = await session(model);
  let same = 0,
    worst = 0;
  for (const input of samples) {
    const probs = (await float.run({ x: new ort.Tensor('float32', input, dims) })).y!.data as Float32Array;
    const out = await int8.run({ x: new ort.Tensor('float32', input, dims) });
    const [best, prob] = int8.outputNames.map((n) => out[n]!.data);
    for (let t = 0; t < steps; t++) {
      const row = probs.subarray(t * classes, (t + 1) * classes);
      const top = row.indexOf(Math.max(...row));
      if (Number((best as BigInt64Array)[t]) === top) same++;
      worst = Math.max(worst, Math.abs((prob as Float32Array)[t]! - row[top]!));
    }
  }
  // Near ties may swap; the rest may not. A probability moves by a few quantization steps of the scores.
  assert.ok(same >= 0.95 * samples.length * steps, `${same} of ${samples.length * steps} steps keep their best class`);
  assert.ok(worst < 0.1, `a best class's probability moved by ${worst}`);
});

test('wide pointwise convolutions written for the GEMM compute what the symmetric ones do; narrower ones and 3x3 stay', async () => {
  // 256 -> 256 pointwise (wide), then 3x3 and 256 -> 16 pointwise (neither is rewritten).
  const dims = [1, 256, 4, 4];
  const model = onnxModel(
    [
      constantNode('W1', [256, 256, 1, 1], seededValues(256 * 256, 21)),
      constantNode('W2', [256, 256, 3, 3], seededValues(256 * 256 * 9, 22)),
      constantNode('W3', [16, 256, 1, 1], seededValues(16 * 256, 23)),
      opNode({ op: 'Conv', inputs: ['x', 'W1'], output: 'c1', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
      opNode({
        op: 'Conv',
        inputs: ['c1', 'W2'],
        output: 'c2',
        attributes: [
          { name: 'kernel_shape', ints: [3, 3] },
          { name: 'pads', ints: [1, 1, 1, 1] },
        ],
      }),
      opNode({ op: 'Conv', inputs: ['c2', 'W3'], output: 'c3', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
      opNode({ op: 'Sigmoid', inputs: ['c3'], output: 'y' }),
    ],
    dims,
    [1, 16, 4, 4],
  );
  const samples = Array.from({ length: 8 }, (_, i) => seededValues(256 * 16, 300 + i));
  const { options } = await calibrate(model, samples, dims);
  const symmetric = rewriteModel(model, { int8: options });
  const gemm = rewriteModel(model, { int8: { ...options, pointwiseGemm: true } });
  expect(symmetric.report.int8).toEqual({ nodes: 3 }); // the three convs; the sigmoid writes the output, in float
  expect(gemm.report.int8).toEqual({ nodes: 3, gemmConvolutions: 1 });
  const [a, b] = [await session(symmetric.bytes), await session(gemm.bytes)];
  for (const input of samples.slice(0, 3)) {
    const feeds = { x: new ort.Tensor('float32', input, dims) };
    const [ya, yb] = [(await a.run(feeds)).y!.data as Float32Array, (await b.run(feeds)).y!.data as Float32Array];
    // The same integer products; the kernels may round the requantization differently, by a step at most.
    const difference = ya.reduce((m, v, i) => Math.max(m, Math.abs(v - yb[i]!)), 0);
    assert.ok(difference <= 1.01 / 255, `max difference ${difference}`);
  }
});

test('ranges for another model leave it in float, and say why', () => {
  const { bytes, report } = rewriteModel(trunkModel(), {
    int8: { ranges: { x: [-1, 1] }, weightBits: 8, pointwiseGemm: false, int8Pools: true },
  });
  assert.match(report.int8!.skipped!, /no calibrated range for c1/);
  expect(bytes).toEqual(rewriteModel(trunkModel()).bytes);
});

test('percentile ranges cut the outliers evenly from both ends', () => {
  const recorder = new RangeRecorder();
  const values = Float32Array.from({ length: 10_000 }, (_, i) => i / 1000 - 2); // -2 .. 7.999
  values[0] = -100;
  values[1] = 500;
  recorder.recordExtent('t', values);
  recorder.recordHistogram('t', values);
  expect(recorder.ranges(1).t).toEqual([-100, 500]);
  const [lo, hi] = recorder.ranges(0.999).t!;
  assert.ok(lo > -2.5 && lo < -1.5 && hi > 7.5 && hi < 8.5, `${lo} ${hi}`);
});

test('the shipped recogniser has calibrated ranges; a different file does not get them', async () => {
  const models = defaultModelPaths();
  const file = readFileSync(models.rec);
  const options = await int8Options(models.rec, sha256(file));
  assert.ok('ranges' in options && Object.keys(options.ranges).length > 80);
  const other = await int8Options(models.rec, sha256(Uint8Array.of(1, 2, 3)));
  assert.match((other as { unavailable: string }).unavailable, /another ch_PP-OCRv4_rec_infer.onnx/);
});

test('the weights take 8 bits where the CPU has VNNI, AMX or ARM dot products, 7 on a CPU with AVX2 alone; AMX takes the GEMM', () => {
  const avx2Only = parseCpuInfo('processor\t: 0\nflags\t\t: fpu sse2 avx fma avx2 bmi2\n', 'AMD EPYC 7B12');
  expect(avx2Only).toEqual({ model: 'AMD EPYC 7B12', features: ['avx2'] });
  assert.equal(cpuWeightBits(avx2Only, 'x64'), 7);
  const vnni = parseCpuInfo('flags\t\t: avx2 avx512f avx512bw avx512_vnni avx_vnni avx512_bf16\n', 'AMD EPYC');
  expect(vnni.features).toEqual(['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni']);
  assert.equal(cpuWeightBits(vnni, 'x64'), 8);
  assert.equal(describeCpu(vnni), 'AMD EPYC: avx2 avx512f avx512_vnni avx_vnni');
  const arm = parseCpuInfo('Features\t: fp asimd asimddp i8mm\n', 'Neoverse-N1');
  expect(arm.features).toEqual(['asimddp', 'i8mm']);
  assert.equal(cpuWeightBits(arm, 'arm64'), 8);
  // Wide pointwise convolutions go through the GEMM only where AMX is (measured there).
  const amx = parseCpuInfo('flags\t\t: avx2 avx512f avx512_vnni avx_vnni amx_tile amx_int8\n', 'Intel(R) Xeon(R) Processor');
  expect(amx.features).toEqual(['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8']);
  expect([cpuPointwiseGemm(amx, 'x64'), cpuPointwiseGemm(vnni, 'x64'), cpuPointwiseGemm(arm, 'arm64')]).toEqual([true, false, false]);
  // No /proc/cpuinfo: nothing to show, and the weights keep the bits that never saturate.
  assert.equal(cpuWeightBits(parseCpuInfo('', 'unknown CPU'), 'x64'), 7);
  assert.equal(describeCpu(parseCpuInfo('', 'unknown CPU')), 'unknown CPU: none of avx2, avx512f, vnni');
});
