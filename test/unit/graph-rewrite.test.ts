import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { expect, test } from '@jest/globals';
import ort from '../../src/onnxruntime.ts';
import { defaultModelPaths } from '../../src/ocr/config.ts';
import { rewriteModel } from '../../src/ocr/model/graph-rewrite.ts';
import { decodeMessage, encodeMessage, fieldsOf, stringOf } from '../../src/ocr/model/protobuf.ts';
import { constantNode, onnxModel, opNode } from '../../harness/onnx-model.ts';

function seededValues(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  });
}

async function run(model: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

/** Op types of the model's nodes, Constants left out. */
function ops(model: Uint8Array): string[] {
  const graph = decodeMessage(fieldsOf(decodeMessage(model), 7)[0]!.value as Uint8Array);
  return fieldsOf(graph, 1)
    .map((f) => stringOf(decodeMessage(f.value as Uint8Array), 4)!)
    .filter((op) => op !== 'Constant');
}

const scalar = (name: string, v: number) => constantNode(name, [1], Float32Array.of(v));

test('the wire codec writes back a message byte for byte', () => {
  const model = onnxModel([scalar('s', 2), opNode({ op: 'Mul', inputs: ['x', 's'], output: 'y' })], [1, 3], [1, 3]);
  expect(encodeMessage(decodeMessage(model))).toEqual(model);
  assert.throws(() => decodeMessage(model.subarray(0, model.length - 3)), /protobuf/);
});

test('PP-LCNet blocks are rewritten to fewer nodes that compute the same function', async () => {
  // conv -> affine -> hard-swish -> affine -> padded depthwise conv -> affine -> affine -> 1x1 conv -> batch norm,
  // the shape of one PP-LCNetV3 block as Paddle2ONNX exports it.
  const nodes = [
    constantNode('W1', [8, 4, 1, 1], seededValues(32, 1)),
    constantNode('B1', [8], seededValues(8, 2)),
    constantNode('W2', [8, 1, 3, 3], seededValues(72, 3)),
    constantNode('B2', [8], seededValues(8, 4)),
    constantNode('W3', [4, 8, 1, 1], seededValues(32, 5)),
    scalar('s1', 1.7),
    scalar('b1', 0.3),
    scalar('three', 3),
    scalar('six', 6),
    scalar('s2', 0.4),
    scalar('b2', -0.25),
    scalar('s3', 2.1),
    scalar('b3', 0.6),
    scalar('s4', 0.9),
    scalar('b4', 0.05),
    opNode({ op: 'Conv', inputs: ['x', 'W1', 'B1'], output: 'c1', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
    opNode({ op: 'Mul', inputs: ['s1', 'c1'], output: 'm1' }),
    opNode({ op: 'Add', inputs: ['m1', 'b1'], output: 'a1' }),
    opNode({ op: 'Add', inputs: ['a1', 'three'], output: 'h1' }),
    opNode({
      op: 'Clip',
      inputs: ['h1'],
      output: 'h2',
      attributes: [
        { name: 'min', f: 0 },
        { name: 'max', f: 6 },
      ],
    }),
    opNode({ op: 'Mul', inputs: ['a1', 'h2'], output: 'h3' }),
    opNode({ op: 'Div', inputs: ['h3', 'six'], output: 'hs' }),
    opNode({ op: 'Mul', inputs: ['s2', 'hs'], output: 'm2' }),
    opNode({ op: 'Add', inputs: ['m2', 'b2'], output: 'a2' }),
    opNode({
      op: 'Conv',
      inputs: ['a2', 'W2', 'B2'],
      output: 'c2',
      attributes: [
        { name: 'group', i: 8 },
        { name: 'kernel_shape', ints: [3, 3] },
        { name: 'pads', ints: [1, 1, 1, 1] },
      ],
    }),
    opNode({ op: 'Mul', inputs: ['c2', 's3'], output: 'm3' }),
    opNode({ op: 'Add', inputs: ['m3', 'b3'], output: 'a3' }),
    opNode({ op: 'Mul', inputs: ['a3', 's4'], output: 'm4' }),
    opNode({ op: 'Add', inputs: ['b4', 'm4'], output: 'a4' }),
    opNode({ op: 'Conv', inputs: ['a4', 'W3'], output: 'c3', attributes: [{ name: 'kernel_shape', ints: [1, 1] }] }),
    constantNode('gamma', [4], Float32Array.of(1.5, 0.5, -1, 2)),
    constantNode('beta', [4], Float32Array.of(0.1, 0, -0.2, 0.3)),
    constantNode('mean', [4], Float32Array.of(0.2, -0.1, 0, 0.5)),
    constantNode('variance', [4], Float32Array.of(1, 0.25, 4, 0.5)),
    opNode({
      op: 'BatchNormalization',
      inputs: ['c3', 'gamma', 'beta', 'mean', 'variance'],
      output: 'y',
      attributes: [{ name: 'epsilon', f: 1e-5 }],
    }),
  ];
  const model = onnxModel(nodes, [1, 4, 6, 6], [1, 4, 6, 6]);
  const input = seededValues(4 * 36, 9).map((v) => v * 4);
  const { bytes, report } = rewriteModel(model);
  expect(ops(bytes)).toEqual(['Conv', 'HardSigmoid', 'Mul', 'Add', 'Conv', 'Conv']);
  expect({ ...report, nodesBefore: 0, nodesAfter: 0 }).toEqual({
    scaleShiftAfterConv: 2,
    hardSwish: 1,
    scaleShiftBeforeConv: 2,
    biasAdd: 0,
    batchNorm: 1,
    argmaxOutputs: false,
    greyInput: false,
    nodesBefore: 0,
    nodesAfter: 0,
  });
  const before = await run(model, input, [1, 4, 6, 6]);
  const after = await run(bytes, input, [1, 4, 6, 6]);
  assert.ok(maxDifference(before, after) < 1e-5, `max difference ${maxDifference(before, after)}`);
});

test("the detector's head: each transposed convolution's bias and batch norm go into its weights", async () => {
  // ConvTranspose -> Add(bias) -> BatchNormalization -> Relu -> ConvTranspose -> Add(bias) -> Sigmoid, as
  // Paddle2ONNX exports DBNet's head; then the same head with a bias along the width, which must stay.
  const head = (bias2Dims: number[]) => [
    constantNode('W1', [4, 4, 2, 2], seededValues(64, 11)),
    constantNode('b1', [1, 4, 1, 1], seededValues(4, 12)),
    constantNode('gamma', [4], Float32Array.of(1.5, 0.5, -1, 2)),
    constantNode('beta', [4], Float32Array.of(0.1, 0, -0.2, 0.3)),
    constantNode('mean', [4], Float32Array.of(0.2, -0.1, 0, 0.5)),
    constantNode('variance', [4], Float32Array.of(1, 0.25, 4, 0.5)),
    constantNode('W2', [4, 1, 2, 2], seededValues(16, 13)),
    constantNode(
      'b2',
      bias2Dims,
      seededValues(
        bias2Dims.reduce((a, b) => a * b),
        14,
      ),
    ),
    opNode({ op: 'ConvTranspose', inputs: ['x', 'W1'], output: 't1', attributes: [{ name: 'strides', ints: [2, 2] }] }),
    opNode({ op: 'Add', inputs: ['t1', 'b1'], output: 'a1' }),
    opNode({ op: 'BatchNormalization', inputs: ['a1', 'gamma', 'beta', 'mean', 'variance'], output: 'n1' }),
    opNode({ op: 'Relu', inputs: ['n1'], output: 'r1' }),
    opNode({ op: 'ConvTranspose', inputs: ['r1', 'W2'], output: 't2', attributes: [{ name: 'strides', ints: [2, 2] }] }),
    opNode({ op: 'Add', inputs: ['b2', 't2'], output: 'a2' }),
    opNode({ op: 'Sigmoid', inputs: ['a2'], output: 'y' }),
  ];
  const input = seededValues(4 * 36, 15).map((v) => v * 3);
  const model = onnxModel(head([1, 1, 1, 1]), [1, 4, 6, 6], [1, 1, 24, 24]);
  const { bytes, report } = rewriteModel(model);
  expect(ops(bytes)).toEqual(['ConvTranspose', 'Relu', 'ConvTranspose', 'Sigmoid']);
  expect([report.biasAdd, report.batchNorm]).toEqual([2, 1]);
  const difference = maxDifference(await run(model, input, [1, 4, 6, 6]), await run(bytes, input, [1, 4, 6, 6]));
  assert.ok(difference < 1e-6, `max difference ${difference}`);

  const alongWidth = onnxModel(head([24]), [1, 4, 6, 6], [1, 1, 24, 24]);
  const kept = rewriteModel(alongWidth);
  expect(ops(kept.bytes)).toEqual(['ConvTranspose', 'Relu', 'ConvTranspose', 'Add', 'Sigmoid']);
  const keptDifference = maxDifference(await run(alongWidth, input, [1, 4, 6, 6]), await run(kept.bytes, input, [1, 4, 6, 6]));
  assert.ok(keptDifference < 1e-6, `max difference ${keptDifference}`);

  // One value, but of a higher rank than the output: adding it makes the output 5-D, so it stays.
  const higherRank = rewriteModel(onnxModel(head([1, 1, 1, 1, 1]), [1, 4, 6, 6], [1, 1, 1, 24, 24]));
  expect(ops(higherRank.bytes)).toEqual(['ConvTranspose', 'Relu', 'ConvTranspose', 'Add', 'Sigmoid']);
});

test('a chain that only looks like hard-swish is left alone', async () => {
  const nodes = [
    scalar('three', 3),
    scalar('six', 6),
    opNode({ op: 'Add', inputs: ['x', 'three'], output: 'h1' }),
    opNode({
      op: 'Clip',
      inputs: ['h1'],
      output: 'h2',
      attributes: [
        { name: 'min', f: 0 },
        { name: 'max', f: 5 },
      ],
    }),
    opNode({ op: 'Mul', inputs: ['x', 'h2'], output: 'h3' }),
    opNode({ op: 'Div', inputs: ['h3', 'six'], output: 'y' }),
  ];
  const model = onnxModel(nodes, [1, 8], [1, 8]);
  const { bytes, report } = rewriteModel(model);
  assert.equal(report.hardSwish, 0);
  expect(ops(bytes)).toEqual(['Add', 'Clip', 'Mul', 'Div']);
});

test('the shipped PaddleOCR models: rewritten, same outputs', async () => {
  const models = defaultModelPaths();
  const cases = [
    {
      path: models.det,
      dims: [1, 3, 320, 256],
      expect: {
        scaleShiftAfterConv: 28,
        hardSwish: 24,
        scaleShiftBeforeConv: 20,
        biasAdd: 2,
        batchNorm: 3,
        argmaxOutputs: false,
        greyInput: false,
      },
    },
    {
      path: models.rec,
      dims: [2, 3, 48, 320],
      expect: {
        scaleShiftAfterConv: 28,
        hardSwish: 28,
        scaleShiftBeforeConv: 25,
        biasAdd: 0,
        batchNorm: 6,
        argmaxOutputs: false,
        greyInput: false,
      },
    },
    {
      path: models.cls,
      dims: [2, 3, 48, 192],
      expect: {
        scaleShiftAfterConv: 0,
        hardSwish: 18,
        scaleShiftBeforeConv: 0,
        biasAdd: 0,
        batchNorm: 35,
        argmaxOutputs: false,
        greyInput: false,
      },
    },
  ];
  for (const c of cases) {
    const original = readFileSync(c.path);
    const { bytes, report } = rewriteModel(original);
    const { nodesBefore, nodesAfter, ...counts } = report;
    expect({ path: c.path, ...counts }).toEqual({ path: c.path, ...c.expect });
    assert.ok(nodesAfter < nodesBefore);
    const input = seededValues(
      c.dims.reduce((a, b) => a * b),
      3,
    );
    const difference = maxDifference(await run(original, input, c.dims), await run(bytes, input, c.dims));
    assert.ok(difference < 1e-4, `${c.path}: max difference ${difference}`);
  }
});

test('the line models read one grey channel and compute what they computed from three equal ones', async () => {
  const models = defaultModelPaths();
  for (const [path, width] of [
    [models.rec, 320],
    [models.cls, 192],
  ] as const) {
    const original = readFileSync(path);
    const { bytes, report } = rewriteModel(original, { greyInput: true });
    assert.equal(report.greyInput, true, path);
    const grey = seededValues(2 * 48 * width, 5);
    const plane = 48 * width;
    const threeEqual = new Float32Array(3 * grey.length);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) threeEqual.set(grey.subarray(n * plane, (n + 1) * plane), (n * 3 + c) * plane);
    const difference = maxDifference(await run(original, threeEqual, [2, 3, 48, width]), await run(bytes, grey, [2, 1, 48, width]));
    assert.ok(difference < 1e-4, `${path}: max difference ${difference}`);
  }
});

test('an input read by anything but convolutions over three channels is left as it is', () => {
  const nodes = [
    constantNode('W', [4, 3, 1, 1], seededValues(12, 6)),
    opNode({ op: 'Conv', inputs: ['x', 'W'], output: 'c' }),
    opNode({ op: 'Relu', inputs: ['x'], output: 'r' }),
  ];
  const model = onnxModel(nodes, [1, 3, 2, 2], [1, 4, 2, 2]);
  const { bytes, report } = rewriteModel(model, { greyInput: true });
  assert.equal(report.greyInput, false);
  expect(ops(bytes)).toEqual(['Conv', 'Relu']);
});

test('the recogniser can hand over the best class and its probability per step instead of every class', async () => {
  const original = readFileSync(defaultModelPaths().rec);
  const { bytes, report } = rewriteModel(original, { argmaxOutputs: true });
  assert.equal(report.argmaxOutputs, true);
  const dims = [2, 3, 48, 320];
  const input = seededValues(
    dims.reduce((a, b) => a * b),
    4,
  );
  const probs = await run(original, input, dims);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
  const [best, prob] = session.outputNames.map((n) => out[n]!);
  expect(best!.dims).toEqual([2, 40, 1]);
  const classes = probs.length / 80;
  for (let t = 0; t < 80; t++) {
    const row = probs.subarray(t * classes, (t + 1) * classes);
    const top = row.indexOf(Math.max(...row));
    assert.equal(Number((best!.data as BigInt64Array)[t]), top);
    assert.ok(Math.abs((prob!.data as Float32Array)[t]! - row[top]!) < 1e-4);
  }
});
