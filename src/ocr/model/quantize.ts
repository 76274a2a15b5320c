/**
 * Static int8 quantization of a model's convolutional trunk, applied when the model is loaded.
 *
 * The trunk (the nodes from the input image up to where the network starts reshaping) is written in
 * the QDQ form: every activation a quantized node reads or writes passes through QuantizeLinear and
 * DequantizeLinear with a calibrated range (bench/calibrate.ts), and weights are stored as per-channel
 * int8. onnxruntime fuses each DQ -> Conv/Add/Mul/Sigmoid -> Q into its integer kernel, so the trunk
 * runs in uint8 from end to end. Measured on the PP-OCRv4 recogniser (2 threads): 92 -> 48 ms for
 * five 480-column lines, CER on the 40 evaluation pages 0.74 -> 0.76 %.
 */
import {
  ATTR_F,
  ATTR_I,
  ATTR_INTS,
  attribute,
  DataType,
  intAttribute,
  newNode,
  outputInfo,
  ungrouped,
  type GraphNode,
  type ModelGraph,
  type OnnxModel,
} from './onnx-graph.ts';
import { floatOf, varintOf, varintsOf } from './protobuf.ts';

export interface QuantizeOptions {
  /** Calibrated [low, high] of every tensor `quantizedTensors` names. */
  ranges: Readonly<Record<string, readonly [number, number]>>;
  /**
   * Magnitude bits of the int8 weights: 7 on CPUs without VNNI, whose u8 x s8 multiply-add sums pairs
   * into 16 bits and saturates with full 8-bit weights.
   */
  weightBits: 7 | 8;
  /**
   * Write wide pointwise convolutions (1x1, at least GEMM_CHANNELS in and out) with a weight zero
   * point of -1 and their values less 1, which dequantize to the same weights: onnxruntime then runs
   * them through its int8 GEMM, which uses AMX where the CPU has it, instead of its symmetric
   * convolution kernels (cpu.ts decides).
   */
  pointwiseGemm: boolean;
  /** Global average pools read the int8 maps (see findTrunk); false keeps them in float. */
  int8Pools: boolean;
}

export interface QuantizeReport {
  /** Nodes that run in int8. */
  nodes: number;
  /** Of those, the pointwise convolutions written for the GEMM (`pointwiseGemm`). */
  gemmConvolutions?: number;
  /** Why nothing was quantized, when nothing was. */
  skipped?: string;
}

/** Ops the trunk may hold; the first other op (Shape, Reshape, MatMul...) ends it. */
const TRUNK_OPS = new Set([
  'Conv',
  'ConvTranspose',
  'Add',
  'Mul',
  'HardSigmoid',
  'Sigmoid',
  'Relu',
  'GlobalAveragePool',
  'AveragePool',
  'MaxPool',
  'Concat',
  'Resize',
]);
/**
 * Input and output channels from which a pointwise convolution is written for the GEMM. Measured per
 * node with onnxruntime's profiler on the recogniser, Intel Xeon with AMX: 240 -> 240 and 480 -> 480
 * took 17-48 % less time that way, 128 -> 240 and narrower up to 3x more.
 */
const GEMM_CHANNELS = 240;

/** Ops of the trunk that run in int8 (onnxruntime has QDQ fusions for each; GlobalAveragePool too, see findTrunk). */
const QUANTIZED_OPS = new Set(['Conv', 'Add', 'Mul', 'HardSigmoid', 'Sigmoid']);
/** Ops whose meaning changed from opset 9 to 10 and that the upgrade below does not rewrite. */
const CHANGED_IN_OPSET_10 = new Set(['Upsample', 'Dropout', 'ThresholdedRelu', 'Mod']);
const MS_DOMAIN = 'com.microsoft';

/** Output ranges fixed by the op: nothing to calibrate. */
const UNIT_RANGE_OPS = new Set(['HardSigmoid', 'Sigmoid']);

interface Trunk {
  nodes: GraphNode[];
  /** Activations (not constants) the quantized nodes read or write, in graph order. */
  tensors: string[];
}

/**
 * The trunk's nodes that run in int8. Nodes working on globally pooled tensors (squeeze-and-excite
 * branches: one value per channel) stay in float: there is no time to gain there. The pool itself
 * reads int8 where its input is int8 (onnxruntime's QLinearGlobalAveragePool), over a calibrated range
 * of its own, unless `int8Pools` is false: read in float, the whole map was dequantized for it, and in
 * the recogniser that and the layout changes around it were 2 % of its time (onnxruntime's profiler).
 * A node writing a graph output stays in float, so that the output keeps its full precision.
 */
function findTrunk(g: ModelGraph, int8Pools: boolean): Trunk {
  const computed = new Set(g.nodes.filter((n) => n.opType !== 'Constant').flatMap((n) => n.outputs));
  const inputs = new Set(g.inputs);
  const activation = (name: string) => computed.has(name) || inputs.has(name);
  const inTrunk = new Set(inputs);
  const pooled = new Set<string>();
  const quantized: GraphNode[] = [];
  const written = new Set<string>();
  for (const node of g.nodes) {
    if (node.opType === 'Constant') continue;
    const read = node.inputs.filter((name) => name !== '' && activation(name));
    if (!TRUNK_OPS.has(node.opType) || !read.every((name) => inTrunk.has(name))) continue;
    node.outputs.forEach((o) => inTrunk.add(o));
    const writesOutput = node.outputs.some((o) => g.outputs.includes(o));
    if (node.opType === 'GlobalAveragePool' || read.every((name) => pooled.has(name))) {
      node.outputs.forEach((o) => pooled.add(o));
      if (int8Pools && node.opType === 'GlobalAveragePool' && written.has(node.inputs[0]!) && !writesOutput) quantized.push(node);
      continue;
    }
    if (QUANTIZED_OPS.has(node.opType) && quantizable(g, node, read) && !writesOutput) {
      quantized.push(node);
      written.add(node.outputs[0]!);
    }
  }
  const tensors = new Set<string>();
  for (const node of quantized) {
    for (const name of node.inputs) if (name !== '' && activation(name)) tensors.add(name);
    tensors.add(node.outputs[0]!);
  }
  for (const node of quantized) if (UNIT_RANGE_OPS.has(node.opType)) tensors.delete(node.outputs[0]!);
  return { nodes: quantized, tensors: [...tensors] };
}

function quantizable(g: ModelGraph, node: GraphNode, activations: string[]): boolean {
  if (node.outputs.length !== 1) return false;
  if (node.opType === 'Conv')
    return g.constant(node.inputs[1]) !== undefined && (!node.inputs[2] || g.constant(node.inputs[2]) !== undefined);
  // Hard-sigmoid is read through a rescaled dequantization, whose scale must stay positive.
  if (node.opType === 'HardSigmoid' && hardSigmoidParameters(node).alpha <= 0) return false;
  // Elementwise: activations, or scalar constants that a single uint8 can hold exactly.
  return node.inputs.every((name) => activations.includes(name) || g.scalar(name) !== undefined);
}

/** HardSigmoid's alpha and beta, with ONNX's defaults. */
function hardSigmoidParameters(node: GraphNode): { alpha: number; beta: number } {
  const alpha = attribute(node, 'alpha'),
    beta = attribute(node, 'beta');
  return { alpha: (alpha && floatOf(alpha, ATTR_F)) ?? 0.2, beta: (beta && floatOf(beta, ATTR_F)) ?? 0.5 };
}

/** The activations whose ranges quantization needs, by name (with the pools in int8: all it may need). */
export function quantizedTensors(g: ModelGraph): string[] {
  return findTrunk(g, true).tensors;
}

/** The model with every tensor `quantizedTensors` names added as a float output, to record their ranges. */
export function calibrationModel(model: OnnxModel): string[] {
  const tensors = quantizedTensors(model.graph);
  model.graph.setOutputs([...model.graph.outputInfos, ...tensors.map((t) => outputInfo(t, DataType.Float))]);
  return tensors;
}

/** Slice took its starts, ends and axes, and TopK its k, as attributes before opset 10 and as inputs from it. */
function upgradeToOpset10(model: OnnxModel): string | undefined {
  const g = model.graph;
  const changed = g.nodes.find((n) => CHANGED_IN_OPSET_10.has(n.opType));
  if (changed) return `${changed.opType} changed meaning in opset 10`;
  for (const slice of g.nodes.filter((n) => n.opType === 'Slice')) {
    const base = slice.outputs[0]!;
    const extra = ['starts', 'ends', 'axes'].flatMap((name) => {
      const a = attribute(slice, name);
      if (!a) return [];
      const values = varintsOf(a, ATTR_INTS);
      return [g.addTensor(`${base}/${name}`, DataType.Int64, [values.length], BigInt64Array.from(values, BigInt))];
    });
    slice.inputs = [slice.inputs[0]!, ...extra];
    slice.attributes = [];
  }
  for (const topK of g.nodes.filter((n) => n.opType === 'TopK')) {
    const kAttribute = attribute(topK, 'k');
    const k = (kAttribute && varintOf(kAttribute, ATTR_I)) ?? 1n;
    topK.inputs = [topK.inputs[0]!, g.addTensor(`${topK.outputs[0]!}/k`, DataType.Int64, [1], BigInt64Array.of(k))];
    topK.attributes = topK.attributes.filter((a) => a !== kAttribute);
  }
  model.setOpset('', 10);
  return undefined;
}

interface Quantization {
  scale: number;
  zeroPoint: number;
}

/** uint8 scale and zero point covering [lo, hi] and 0 (zero must be exact: convolutions pad with it). */
function activationQuantization([lo, hi]: readonly [number, number]): Quantization {
  const low = Math.min(lo, 0),
    high = Math.max(hi, 0);
  const scale = Math.max(high - low, 1e-8) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-low / scale))) };
}

/**
 * Symmetric int8 weights with a scale per channel (`channelOf` names each value's channel), their
 * magnitude within `weightBits` bits; a channel of zeros gets scale 1.
 */
function int8Weights(
  data: Float32Array,
  channels: number,
  channelOf: (i: number) => number,
  weightBits: number,
): { scales: Float32Array; values: Int8Array } {
  const limit = 2 ** (weightBits - 1) - 1;
  const scales = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) scales[channelOf(i)] = Math.max(scales[channelOf(i)]!, Math.abs(data[i]!));
  for (let c = 0; c < channels; c++) scales[c] = scales[c]! / limit || 1;
  return { scales, values: Int8Array.from(data, (v, i) => Math.round(v / scales[channelOf(i)]!)) };
}

/** Writes the QDQ graph. Names: `<t>/q`, `<t>/dq` for a quantized activation, `<t>/scale`, `<t>/zero`. */
class QdqWriter {
  readonly out: GraphNode[] = [];
  /** Activation -> the name its consumers read after quantization. */
  readonly renamed = new Map<string, string>();
  readonly params = new Map<string, Quantization>();
  private constants = 0;
  private readonly g: ModelGraph;

  constructor(g: ModelGraph) {
    this.g = g;
  }

  private scaleAndZero(base: string, q: Quantization, zeroType: DataType = DataType.Uint8): [string, string] {
    const zero = zeroType === DataType.Uint8 ? Uint8Array.of(q.zeroPoint) : Int8Array.of(q.zeroPoint);
    return [
      this.g.addTensor(`${base}/scale`, DataType.Float, [], Float32Array.of(q.scale)),
      this.g.addTensor(`${base}/zero`, zeroType, [], zero),
    ];
  }

  /** Q -> DQ after `tensor`; every later node reads the DQ output. */
  quantize(tensor: string, q: Quantization): void {
    const [scale, zero] = this.scaleAndZero(tensor, q);
    this.params.set(tensor, q);
    this.out.push(
      newNode('QuantizeLinear', [tensor, scale, zero], [`${tensor}/q`]),
      newNode('DequantizeLinear', [`${tensor}/q`, scale, zero], [`${tensor}/dq`]),
    );
    this.renamed.set(tensor, `${tensor}/dq`);
  }

  /** A scalar as the dequantization of one uint8, exact for the value. */
  scalar(value: number): string {
    const base = `int8/constant_${this.constants++}`;
    const q = { scale: Math.abs(value) / 255 || 1, zeroPoint: value < 0 ? 255 : 0 };
    const [scale, zero] = this.scaleAndZero(base, q);
    const data = this.g.addTensor(`${base}/value`, DataType.Uint8, [], Uint8Array.of(value < 0 ? 0 : 255));
    this.out.push(newNode('DequantizeLinear', [data, scale, zero], [`${base}/dq`]));
    return `${base}/dq`;
  }

  /** Pointwise convolutions written with a weight zero point of -1 (QuantizeOptions.pointwiseGemm). */
  gemmConvolutions = 0;

  /**
   * Per-output-channel int8 weights and int32 bias of a Conv reading an input quantized with `input`:
   * symmetric, or shifted by a zero point of -1 for a wide pointwise convolution when `pointwiseGemm`.
   */
  convParameters(conv: GraphNode, input: Quantization, { weightBits, pointwiseGemm }: Omit<QuantizeOptions, 'ranges'>): string[] {
    const weights = this.g.constant(conv.inputs[1])!;
    const bias = conv.inputs[2] ? this.g.constant(conv.inputs[2]) : undefined;
    const base = conv.outputs[0]!;
    const channels = weights.dims[0]!;
    const perChannel = weights.data.length / channels;
    const { scales, values } = int8Weights(weights.data, channels, (i) => Math.floor(i / perChannel), weightBits);
    const [, inputChannels, kh, kw] = weights.dims;
    const wide = pointwiseGemm && ungrouped(conv) && kh === 1 && kw === 1 && inputChannels! >= GEMM_CHANNELS && channels >= GEMM_CHANNELS;
    // int8Weights keeps the values within [-127, 127]: shifted by the zero point they still fit, in [-128, 126].
    const zero = wide ? -1 : 0;
    if (wide) this.gemmConvolutions++;
    const perChannelDq = (
      name: string,
      type: DataType,
      data: ArrayBufferView,
      scale: Float32Array,
      zero: ArrayBufferView,
      dims: number[],
    ) => {
      const inputs = [
        this.g.addTensor(`${base}/${name}`, type, dims, data),
        this.g.addTensor(`${base}/${name}/scale`, DataType.Float, [channels], scale),
        this.g.addTensor(`${base}/${name}/zero`, type, [channels], zero),
      ];
      // Per-axis DequantizeLinear is ONNX opset 13; onnxruntime's own domain has it for older models.
      this.out.push(newNode('DequantizeLinear', inputs, [`${base}/${name}/dq`], [intAttribute('axis', 0)], MS_DOMAIN));
      return `${base}/${name}/dq`;
    };
    const read = [
      perChannelDq(
        'weight_int8',
        DataType.Int8,
        wide ? values.map((v) => v + zero) : values,
        scales,
        new Int8Array(channels).fill(zero),
        weights.dims,
      ),
    ];
    if (bias) {
      const biasScales = scales.map((s) => s * input.scale);
      const biasValues = Int32Array.from(bias.data, (b, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / biasScales[c]!))));
      read.push(perChannelDq('bias_int32', DataType.Int32, biasValues, biasScales, new Int32Array(channels), [channels]));
    }
    return read;
  }
}

/** Rewrites the model's trunk to QDQ int8 in place. Leaves the model as it was when it cannot. */
export function quantizeModel(model: OnnxModel, options: QuantizeOptions): QuantizeReport {
  const g = model.graph;
  const trunk = findTrunk(g, options.int8Pools);
  if (trunk.nodes.length === 0) return { nodes: 0, skipped: 'no convolutional trunk' };
  const missing = trunk.tensors.find((t) => options.ranges[t] === undefined);
  if (missing) return { nodes: 0, skipped: `no calibrated range for ${missing}: the ranges are for another model` };
  if (model.opset() < 10) {
    const reason = upgradeToOpset10(model);
    if (reason) return { nodes: 0, skipped: reason };
  }
  model.setOpset(MS_DOMAIN, 1);

  const w = new QdqWriter(g);
  const quantized = new Set(trunk.nodes);
  const wanted = new Set(trunk.tensors);
  const quantizeIfWanted = (names: string[]) =>
    names.filter((t) => wanted.has(t)).forEach((t) => w.quantize(t, activationQuantization(options.ranges[t]!)));
  quantizeIfWanted(g.inputs);
  for (const original of g.nodes) {
    const node = { ...original, inputs: original.inputs.map((name) => w.renamed.get(name) ?? name) };
    if (!quantized.has(original)) {
      w.out.push(node);
      quantizeIfWanted(node.outputs);
      continue;
    }
    const output = node.outputs[0]!;
    if (node.opType === 'Conv') {
      node.inputs = [node.inputs[0]!, ...w.convParameters(original, w.params.get(original.inputs[0]!)!, options)];
    } else if (node.opType === 'HardSigmoid') {
      // clip(alpha*x + beta, 0, 1): x's bytes read at alpha times their scale, plus beta, saturated by a
      // uint8 output over [0, 1]. onnxruntime fuses that into one QLinearAdd; it has no int8 HardSigmoid.
      const x = original.inputs[0]!;
      const { alpha, beta } = hardSigmoidParameters(original);
      const { scale } = w.params.get(x)!;
      const alphaScale = g.addTensor(`${output}/alpha_scale`, DataType.Float, [], Float32Array.of(alpha * scale));
      w.out.push(newNode('DequantizeLinear', [`${x}/q`, alphaScale, `${x}/zero`], [`${output}/alpha_x`]));
      w.out.push(newNode('Add', [`${output}/alpha_x`, w.scalar(beta)], [output]));
      w.quantize(output, { scale: 1 / 255, zeroPoint: 0 });
      continue;
    } else {
      node.inputs = original.inputs.map((name) => w.renamed.get(name) ?? w.scalar(g.scalar(name)!));
    }
    w.out.push(node);
    w.quantize(
      output,
      UNIT_RANGE_OPS.has(node.opType) ? { scale: 1 / 255, zeroPoint: 0 } : activationQuantization(options.ranges[output]!),
    );
  }
  g.nodes = w.out;
  const nodes = quantized.size + quantizeClassScores(g, options.weightBits);
  return w.gemmConvolutions > 0 ? { nodes, gemmConvolutions: w.gemmConvolutions } : { nodes };
}

/**
 * The class scores, a MatMul by a constant [K, N] matrix (plus a constant bias) read by a Softmax,
 * as onnxruntime's DynamicQuantizeMatMul: the input quantized to uint8 as it comes, the weights to
 * per-class int8. On the recogniser (120 x 6,625) that is 416 -> 159 ms of its 6.3 s on 6 pages, and
 * the 140 corpus pages and 32 real-dev pages read with the same CER (0.25 and 11.46 %). Returns the
 * nodes rewritten.
 */
function quantizeClassScores(g: ModelGraph, weightBits: number): number {
  let rewritten = 0;
  for (const softmax of g.nodes.filter((n) => n.opType === 'Softmax')) {
    let scores = g.producer(softmax.inputs[0]!);
    const add = scores?.opType === 'Add' ? scores : undefined;
    const biasName = add?.inputs.find((name) => g.constant(name) !== undefined);
    if (add) scores = g.producer(add.inputs.find((name) => name !== biasName) ?? '');
    const weights = scores?.opType === 'MatMul' ? g.constant(scores.inputs[1]) : undefined;
    if (!scores || !weights || weights.dims.length !== 2 || (add && !biasName)) continue;
    if (add && g.consumers(scores.outputs[0]!).length !== 1) continue;
    const [rows, classes] = weights.dims as [number, number];
    const { scales, values } = int8Weights(weights.data, classes, (i) => i % classes, weightBits);
    const base = scores.outputs[0]!;
    const inputs = [
      scores.inputs[0]!,
      g.addTensor(`${base}/weight_int8`, DataType.Int8, [rows, classes], values),
      g.addTensor(`${base}/weight_int8/scale`, DataType.Float, [classes], scales),
      g.addTensor(`${base}/weight_int8/zero`, DataType.Int8, [classes], new Int8Array(classes)),
      ...(biasName ? [biasName] : []),
    ];
    const fused = newNode('DynamicQuantizeMatMul', inputs, [add ? add.outputs[0]! : base], [], MS_DOMAIN);
    g.nodes.splice(g.nodes.indexOf(scores), 1, fused);
    if (add) g.remove(add);
    rewritten++;
  }
  return rewritten;
}
