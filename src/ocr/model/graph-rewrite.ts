/**
 * Exact rewrites of PaddleOCR's exported ONNX graphs, applied once when a model is loaded.
 *
 * Paddle2ONNX writes PP-LCNetV3's learnable affine blocks (a scalar scale and shift after each
 * convolution and after each activation) and every hard-swish (x * clip(x + 3, 0, 6) / 6) as chains
 * of elementwise ops. Measured with onnxruntime's profiler on the PP-OCRv4 recogniser, those ops
 * and the layout reorders they force take half the run time. Folding the scales and shifts into
 * the neighbouring convolutions' weights and writing each hard-swish as HardSigmoid * x computes
 * the same function with a third of the elementwise work.
 */
import {
  ATTR_F,
  ATTR_I,
  ATTR_INTS,
  ATTR_S,
  attribute,
  DataType,
  floatAttribute,
  intAttribute,
  ModelGraph,
  newNode,
  OnnxModel,
  outputInfo,
  ungrouped,
  type FloatTensor,
  type GraphNode,
} from './onnx-graph.ts';
import { floatOf, stringOf, varintOf, varintsOf } from './protobuf.ts';
import { quantizeModel, type QuantizeOptions, type QuantizeReport } from './quantize.ts';

export interface RewriteReport {
  /** Conv -> Mul(scalar) [-> Add(scalar)] folded into the convolution. */
  scaleShiftAfterConv: number;
  /** x * Clip(x + 3, 0, 6) / 6 written as x * HardSigmoid(x). */
  hardSwish: number;
  /** Mul(scalar) -> Add(scalar) -> Conv folded into the convolution (a shift stays where the conv pads). */
  scaleShiftBeforeConv: number;
  /** Conv or ConvTranspose -> Add(a constant per output channel) folded into the bias. */
  biasAdd: number;
  /** Conv or ConvTranspose [-> Add] -> BatchNormalization folded into the convolution. */
  batchNorm: number;
  /** The class-probability output replaced by the best class and its probability per step. */
  argmaxOutputs: boolean;
  /** The image input read as one grey channel instead of three equal ones. */
  greyInput: boolean;
  /** What ran in int8, when asked for. */
  int8?: QuantizeReport;
  nodesBefore: number;
  nodesAfter: number;
}

/** Whether a Conv reads outside its input (zero padding), so that a shift of its input cannot move into its bias. */
function convPads(conv: GraphNode): boolean {
  const autoPad = attribute(conv, 'auto_pad');
  const mode = autoPad ? stringOf(autoPad, ATTR_S) : undefined;
  if (mode !== undefined && mode !== 'NOTSET' && mode !== 'VALID') return true;
  const pads = attribute(conv, 'pads');
  return pads !== undefined && varintsOf(pads, ATTR_INTS).some((p) => p !== 0);
}

function scaled(t: FloatTensor, scale: number): FloatTensor {
  return { dims: t.dims, data: t.data.map((v) => v * scale) };
}

/** A Conv's weights and bias when both are float constants (the bias may be absent), else undefined. */
function convParameters(g: ModelGraph, conv: GraphNode): { weights: FloatTensor; bias: FloatTensor | undefined } | undefined {
  const weights = g.constant(conv.inputs[1]);
  const bias = conv.inputs[2] ? g.constant(conv.inputs[2]) : undefined;
  return weights && (!conv.inputs[2] || bias) ? { weights, bias } : undefined;
}

/** Conv -> Mul(s) [-> Add(b)]  =>  Conv with weights s*W and bias s*B + b. */
function foldScaleShiftAfterConv(g: ModelGraph): number {
  let folded = 0;
  for (const conv of g.nodes.filter((n) => n.opType === 'Conv')) {
    const parameters = convParameters(g, conv);
    if (!parameters) continue;
    const { weights, bias } = parameters;
    const mul = g.soleConsumer(conv.outputs[0]!, 'Mul');
    const scale = mul && g.scalarOperand(mul);
    if (!mul || !scale) continue;
    const add = g.soleConsumer(mul.outputs[0]!, 'Add');
    const shift = add && g.scalarOperand(add);
    const channels = weights.dims[0]!;
    const newBias = new Float32Array(channels).map((_, c) => (bias?.data[c] ?? 0) * scale.value + (shift?.value ?? 0));
    const base = conv.outputs[0]!;
    conv.inputs[1] = g.addConstant(`${base}/W`, scaled(weights, scale.value));
    conv.inputs[2] = g.addConstant(`${base}/B`, { dims: [channels], data: newBias });
    const last = shift ? add : mul;
    conv.outputs[0] = last.outputs[0]!;
    g.remove(mul, ...(shift ? [add] : []));
    folded++;
  }
  return folded;
}

function clipBounds(g: ModelGraph, clip: GraphNode): [number | undefined, number | undefined] {
  // Opset < 11 keeps the bounds in attributes, later opsets in inputs.
  const min = attribute(clip, 'min'),
    max = attribute(clip, 'max');
  if (min || max) return [min && floatOf(min, ATTR_F), max && floatOf(max, ATTR_F)];
  return [g.scalar(clip.inputs[1]), g.scalar(clip.inputs[2])];
}

/** Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6)  =>  Mul(x, HardSigmoid(x, 1/6, 1/2)). */
function rewriteHardSwish(g: ModelGraph): number {
  let rewritten = 0;
  for (const add of g.nodes.filter((n) => n.opType === 'Add')) {
    const three = g.scalarOperand(add);
    if (!three || three.value !== 3) continue;
    const x = three.other;
    const clip = g.soleConsumer(add.outputs[0]!, 'Clip');
    if (!clip) continue;
    const [min, max] = clipBounds(g, clip);
    if (min !== 0 || max !== 6) continue;
    const mul = g.soleConsumer(clip.outputs[0]!, 'Mul');
    if (!mul || !mul.inputs.includes(x)) continue;
    const div = g.soleConsumer(mul.outputs[0]!, 'Div');
    if (!div || div.inputs[0] !== mul.outputs[0] || g.scalar(div.inputs[1]) !== 6) continue;
    add.opType = 'HardSigmoid';
    add.inputs = [x];
    add.attributes = [floatAttribute('alpha', 1 / 6), floatAttribute('beta', 0.5)];
    mul.inputs = [x, add.outputs[0]!];
    mul.outputs = [div.outputs[0]!];
    g.remove(clip, div);
    rewritten++;
  }
  return rewritten;
}

/**
 * Mul(h, s) -> Add(b) -> Conv(W, B)  =>  Conv(s*W, B + b*sum(W)) reading h. Where the Conv pads,
 * padding must stay zero in the shifted input, so the shift stays as Add(h, b/s) and only the scale moves.
 */
function foldScaleShiftBeforeConv(g: ModelGraph): number {
  let folded = 0;
  for (const conv of g.nodes.filter((n) => n.opType === 'Conv')) {
    const parameters = convParameters(g, conv);
    if (!parameters) continue;
    const { weights, bias } = parameters;
    const add = g.producer(conv.inputs[0]!);
    if (add?.opType !== 'Add' || !g.soleConsumer(add.outputs[0]!, 'Conv')) continue;
    const shift = g.scalarOperand(add);
    const mul = shift && g.producer(shift.other);
    if (!shift || mul?.opType !== 'Mul' || !g.soleConsumer(mul.outputs[0]!, 'Add')) continue;
    const scale = g.scalarOperand(mul);
    if (!scale || scale.value === 0) continue;

    const base = conv.outputs[0]!;
    conv.inputs[1] = g.addConstant(`${base}/W`, scaled(weights, scale.value));
    if (convPads(conv)) {
      add.inputs = [scale.other, g.addConstant(`${base}/shift`, { dims: [], data: Float32Array.of(shift.value / scale.value) })];
      g.remove(mul);
    } else {
      const channels = weights.dims[0]!;
      const perChannel = weights.data.length / channels;
      const newBias = new Float32Array(channels).map((_, c) => {
        let sum = 0;
        for (let k = 0; k < perChannel; k++) sum += weights.data[c * perChannel + k]!;
        return (bias?.data[c] ?? 0) + shift.value * sum;
      });
      conv.inputs[2] = g.addConstant(`${base}/B`, { dims: [channels], data: newBias });
      conv.inputs[0] = scale.other;
      g.remove(mul, add);
    }
    folded++;
  }
  return folded;
}

/**
 * Softmax over classes as the only output  =>  outputs `<name>/best` (int64) and `<name>/prob`, the
 * best class and its probability per step, each with a trailing axis of 1: greedy CTC decoding needs
 * only these, and the model hands over two numbers per step instead of 6,625 (measured: the argmax in
 * JavaScript was the largest cost outside inference). One TopK finds both in a single pass over the
 * classes (ArgMax with ReduceMax took 232 ms of the recogniser's 6.3 s on 6 pages, TopK 146).
 */
function argmaxOutputs(g: ModelGraph, opset: number): boolean {
  if (g.outputs.length !== 1) return false;
  const probs = g.outputs[0]!;
  const softmax = g.producer(probs);
  const axisAttribute = softmax?.opType === 'Softmax' ? attribute(softmax, 'axis') : undefined;
  const axis = axisAttribute && varintOf(axisAttribute, ATTR_I);
  if (axis === undefined || axis < 1n) return false;
  // TopK took k as an attribute before opset 10, as an input from it.
  const k =
    opset < 10
      ? { inputs: [probs], attributes: [intAttribute('k', 1)] }
      : { inputs: [probs, g.addTensor(`${probs}/k`, DataType.Int64, [1], BigInt64Array.of(1n))], attributes: [] };
  g.nodes.push(newNode('TopK', k.inputs, [`${probs}/prob`, `${probs}/best`], [intAttribute('axis', Number(axis)), ...k.attributes]));
  g.setOutputs([outputInfo(`${probs}/best`, DataType.Int64), outputInfo(`${probs}/prob`, DataType.Float)]);
  return true;
}

/**
 * The axis of a convolution's weights that runs over its output channels: 0 for Conv ([out, in/group,
 * kh, kw]), 1 for an ungrouped ConvTranspose ([in, out, kh, kw]); undefined for anything else.
 */
function outputChannelAxis(node: GraphNode): 0 | 1 | undefined {
  if (node.opType === 'Conv') return 0;
  if (node.opType !== 'ConvTranspose') return undefined;
  return ungrouped(node) ? 1 : undefined;
}

/** The output channel each weight of a convolution belongs to, by its index in the weights. */
function outputChannelOf(weights: FloatTensor, axis: 0 | 1): (index: number) => number {
  const inner = weights.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = weights.dims[axis]!;
  return (index) => Math.floor(index / inner) % channels;
}

/** The convolutions whose weights and bias are constants, with the axis of their output channels. */
function foldableConvolutions(g: ModelGraph) {
  return g.nodes.flatMap((conv) => {
    const axis = outputChannelAxis(conv);
    const parameters = axis === undefined ? undefined : convParameters(g, conv);
    return parameters ? [{ conv, axis: axis!, ...parameters }] : [];
  });
}

/**
 * Whether a constant added to a convolution's output (rank `rank`, channels on axis 1) adds one value
 * per channel and leaves the shape as it is: one value for all, or C values on the channel axis once
 * the shapes are aligned from the end ([C, 1, 1] or [1, C, 1, 1] for a 2-D convolution). A plain [C]
 * would be added along the width instead.
 */
function alongChannels(t: FloatTensor, channels: number, rank: number): boolean {
  if (t.dims.length > rank) return false;
  if (t.data.length === 1) return true;
  const axis = t.dims.length - (rank - 1);
  return axis >= 0 && t.dims[axis] === channels && t.data.length === channels;
}

/**
 * Conv or ConvTranspose -> Add(a constant of one value per output channel, or one for all)  =>  the
 * convolution with that constant added to its bias. Paddle2ONNX writes a transposed convolution's
 * bias so; in the detector's head it is a full pass over a 29 MB tensor at half the page's resolution.
 */
function foldBiasAdd(g: ModelGraph): number {
  let folded = 0;
  for (const { conv, axis, weights, bias } of foldableConvolutions(g)) {
    const add = g.soleConsumer(conv.outputs[0]!, 'Add');
    const operand = add?.inputs.find((name) => name !== conv.outputs[0]);
    const shift = g.constant(operand);
    const channels = weights.dims[axis]!;
    if (!add || add.inputs.length !== 2 || !shift || !alongChannels(shift, channels, weights.dims.length)) continue;
    const base = conv.outputs[0]!;
    const newBias = new Float32Array(channels).map((_, c) => (bias?.data[c] ?? 0) + shift.data[shift.data.length === 1 ? 0 : c]!);
    conv.inputs[2] = g.addConstant(`${base}/B`, { dims: [channels], data: newBias });
    conv.outputs[0] = add.outputs[0]!;
    g.remove(add);
    folded++;
  }
  return folded;
}

/** Conv or ConvTranspose -> BatchNormalization  =>  the convolution with weights W*g/sqrt(v+e) and bias (B-m)*g/sqrt(v+e) + b. */
function foldBatchNorm(g: ModelGraph): number {
  let folded = 0;
  for (const { conv, axis, weights, bias } of foldableConvolutions(g)) {
    const bn = g.soleConsumer(conv.outputs[0]!, 'BatchNormalization');
    if (!bn || bn.outputs.length !== 1) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((name) => g.constant(name));
    if (!gamma || !beta || !mean || !variance) continue;
    const epsilonAttribute = attribute(bn, 'epsilon');
    const epsilon = (epsilonAttribute && floatOf(epsilonAttribute, ATTR_F)) ?? 1e-5;
    const channels = weights.dims[axis]!;
    const channelOf = outputChannelOf(weights, axis);
    const factor = gamma.data.map((v, c) => v / Math.sqrt(variance.data[c]! + epsilon));
    const base = conv.outputs[0]!;
    conv.inputs[1] = g.addConstant(`${base}/W`, {
      dims: weights.dims,
      data: weights.data.map((v, i) => v * factor[channelOf(i)]!),
    });
    conv.inputs[2] = g.addConstant(`${base}/B`, {
      dims: [channels],
      data: factor.map((f, c) => ((bias?.data[c] ?? 0) - mean.data[c]!) * f + beta.data[c]!),
    });
    conv.outputs[0] = bn.outputs[0]!;
    g.remove(bn);
    folded++;
  }
  return folded;
}

/**
 * Image input [N, 3, H, W] read only by convolutions  =>  input [N, 1, H, W], each convolution's
 * weights summed over the three input channels. PaddleOCR's line models read a grey line as three
 * equal channels, on which the two compute the same; the pipeline then packs a third of the values
 * and the first layer reads a third (the recogniser's batches were 12 bytes a pixel, now 4).
 */
function greyInput(g: ModelGraph): boolean {
  const input = g.inputs.find((name) => g.constant(name) === undefined);
  const readers = input === undefined ? [] : g.consumers(input);
  const convolutions = readers.map((conv) => {
    const weights = conv.opType === 'Conv' && conv.inputs[0] === input ? g.constant(conv.inputs[1]) : undefined;
    return ungrouped(conv) && weights?.dims.length === 4 && weights.dims[1] === 3 ? { conv, weights } : undefined;
  });
  if (input === undefined || readers.length === 0 || convolutions.some((c) => c === undefined)) return false;
  for (const { conv, weights } of convolutions as { conv: GraphNode; weights: FloatTensor }[]) {
    const [out, , kh, kw] = weights.dims as [number, number, number, number];
    const plane = kh * kw;
    const summed = new Float32Array(out * plane);
    for (let o = 0; o < out; o++)
      for (let k = 0; k < plane; k++)
        summed[o * plane + k] =
          weights.data[o * 3 * plane + k]! + weights.data[(o * 3 + 1) * plane + k]! + weights.data[(o * 3 + 2) * plane + k]!;
    conv.inputs[1] = g.addConstant(`${conv.outputs[0]}/W`, { dims: [out, 1, kh, kw], data: summed });
  }
  g.setInputDim(input, 1, 1);
  return true;
}

export interface RewriteOptions {
  /** Replace a class-probability output by the best class and its probability (for the recogniser). */
  argmaxOutputs?: boolean;
  /** Read the image input as one grey channel where the model reads it only through convolutions (the line models). */
  greyInput?: boolean;
  /** Run the convolutional trunk in int8 with these calibrated activation ranges (quantize.ts). */
  int8?: QuantizeOptions;
}

/** The model with the rewrites applied, and what was rewritten. Unknown fields pass through unchanged. */
export function rewriteModel(bytes: Uint8Array, options: RewriteOptions = {}): { bytes: Uint8Array; report: RewriteReport } {
  const model = new OnnxModel(bytes);
  const graph = model.graph;
  const nodesBefore = graph.liveNodes().length;
  const report = {
    scaleShiftAfterConv: foldScaleShiftAfterConv(graph),
    hardSwish: rewriteHardSwish(graph),
    scaleShiftBeforeConv: foldScaleShiftBeforeConv(graph),
    biasAdd: foldBiasAdd(graph),
    batchNorm: foldBatchNorm(graph),
    argmaxOutputs: options.argmaxOutputs === true && argmaxOutputs(graph, model.opset()),
    greyInput: options.greyInput === true && greyInput(graph),
    ...(options.int8 ? { int8: quantizeModel(model, options.int8) } : {}),
  };
  return { bytes: model.encode(), report: { ...report, nodesBefore, nodesAfter: graph.liveNodes().length } };
}
