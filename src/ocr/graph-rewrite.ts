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
  bytesField, decodeMessage, encodeMessage, fieldsOf, floatField, floatOf, floatsOf, messageField, packedVarintsField,
  stringField, stringOf, stringsOf, varintField, varintOf, varintsOf, type Message,
} from './protobuf.ts';

// Field numbers of onnx.proto.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12;
const NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5;
const MODEL_OPSET = 8, OPSET_DOMAIN = 1, OPSET_VERSION = 2;
const ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_T = 5, ATTR_INTS = 8, ATTR_TYPE = 20;
const ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_INTS = 7;
const TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_FLOAT_DATA = 4, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9;
const TENSOR_FLOAT = 1, TENSOR_INT64 = 7;
const VALUE_INFO_NAME = 1, VALUE_INFO_TYPE = 2, TYPE_TENSOR = 1, TENSOR_TYPE_ELEM = 1;

export interface RewriteReport {
  /** Conv -> Mul(scalar) [-> Add(scalar)] folded into the convolution. */
  scaleShiftAfterConv: number;
  /** x * Clip(x + 3, 0, 6) / 6 written as x * HardSigmoid(x). */
  hardSwish: number;
  /** Mul(scalar) -> Add(scalar) -> Conv folded into the convolution (a shift stays where the conv pads). */
  scaleShiftBeforeConv: number;
  /** The class-probability output replaced by the best class and its probability per step. */
  argmaxOutputs: boolean;
  nodesBefore: number;
  nodesAfter: number;
}

interface GraphNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: Message[];
  /** Every other field of the NodeProto (name, domain, doc string), written back as it was. */
  rest: Message;
}

interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

function decodeNode(bytes: Uint8Array): GraphNode {
  const fields = decodeMessage(bytes);
  return {
    opType: stringOf(fields, NODE_OP_TYPE) ?? '',
    inputs: stringsOf(fields, NODE_INPUT),
    outputs: stringsOf(fields, NODE_OUTPUT),
    attributes: fieldsOf(fields, NODE_ATTRIBUTE).map((f) => decodeMessage(f.value as Uint8Array)),
    rest: fields.filter((f) => ![NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE, NODE_ATTRIBUTE].includes(f.no)),
  };
}

function encodeNode(node: GraphNode): Message {
  return [
    ...node.inputs.map((s) => stringField(NODE_INPUT, s)),
    ...node.outputs.map((s) => stringField(NODE_OUTPUT, s)),
    stringField(NODE_OP_TYPE, node.opType),
    ...node.attributes.map((a) => messageField(NODE_ATTRIBUTE, a)),
    ...node.rest,
  ];
}

function decodeFloatTensor(fields: Message): FloatTensor | undefined {
  if (Number(varintOf(fields, TENSOR_DATA_TYPE) ?? 0) !== TENSOR_FLOAT) return undefined;
  const dims = varintsOf(fields, TENSOR_DIMS);
  const raw = fieldsOf(fields, TENSOR_RAW_DATA)[0]?.value as Uint8Array | undefined;
  // Copied: raw_data inside the model buffer need not be 4-byte aligned.
  const data = raw ? new Float32Array(new Uint8Array(raw).buffer) : Float32Array.from(floatsOf(fields, TENSOR_FLOAT_DATA));
  return { dims, data };
}

function encodeFloatTensor(name: string, tensor: FloatTensor): Message {
  return [
    packedVarintsField(TENSOR_DIMS, tensor.dims),
    varintField(TENSOR_DATA_TYPE, TENSOR_FLOAT),
    stringField(TENSOR_NAME, name),
    bytesField(TENSOR_RAW_DATA, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)),
  ];
}

const attribute = (node: GraphNode, name: string) => node.attributes.find((a) => stringOf(a, ATTR_NAME) === name);

function floatAttribute(name: string, value: number): Message {
  return [stringField(ATTR_NAME, name), floatField(ATTR_F, value), varintField(ATTR_TYPE, ATTR_TYPE_FLOAT)];
}

function intAttribute(name: string, value: number): Message {
  return [stringField(ATTR_NAME, name), varintField(ATTR_I, value), varintField(ATTR_TYPE, ATTR_TYPE_INT)];
}

function intsAttribute(name: string, values: number[]): Message {
  return [stringField(ATTR_NAME, name), packedVarintsField(ATTR_INTS, values), varintField(ATTR_TYPE, ATTR_TYPE_INTS)];
}

/** A graph output of the given element type, its shape left to the runtime. */
function outputInfo(name: string, elemType: number): Message {
  return [stringField(VALUE_INFO_NAME, name), messageField(VALUE_INFO_TYPE, [messageField(TYPE_TENSOR, [varintField(TENSOR_TYPE_ELEM, elemType)])])];
}

/** Whether a Conv reads outside its input (zero padding), so that a shift of its input cannot move into its bias. */
function convPads(conv: GraphNode): boolean {
  const autoPad = attribute(conv, 'auto_pad');
  const mode = autoPad ? stringOf(autoPad, ATTR_S) : undefined;
  if (mode !== undefined && mode !== 'NOTSET' && mode !== 'VALID') return true;
  const pads = attribute(conv, 'pads');
  return pads !== undefined && varintsOf(pads, ATTR_INTS).some((p) => p !== 0);
}

class ModelGraph {
  readonly nodes: GraphNode[];
  private readonly constants = new Map<string, FloatTensor>();
  private readonly added = new Map<string, FloatTensor>();
  private graphOutputs: Set<string>;
  private newOutputs: Message[] | undefined;
  private names = 0;
  private readonly graph: Message;

  constructor(graph: Message) {
    this.graph = graph;
    this.nodes = fieldsOf(graph, GRAPH_NODE).map((f) => decodeNode(f.value as Uint8Array));
    this.graphOutputs = new Set(fieldsOf(graph, GRAPH_OUTPUT).map((f) => stringOf(decodeMessage(f.value as Uint8Array), VALUE_INFO_NAME) ?? ''));
    for (const f of fieldsOf(graph, GRAPH_INITIALIZER)) {
      const tensor = decodeMessage(f.value as Uint8Array);
      const value = decodeFloatTensor(tensor);
      if (value) this.constants.set(stringOf(tensor, TENSOR_NAME) ?? '', value);
    }
    for (const node of this.nodes) {
      if (node.opType !== 'Constant') continue;
      const value = attribute(node, 'value');
      const tensor = value && fieldsOf(value, ATTR_T)[0];
      const decoded = tensor && decodeFloatTensor(decodeMessage(tensor.value as Uint8Array));
      if (decoded) this.constants.set(node.outputs[0]!, decoded);
    }
  }

  constant(name: string | undefined): FloatTensor | undefined {
    return name === undefined ? undefined : this.constants.get(name);
  }

  scalar(name: string | undefined): number | undefined {
    const c = this.constant(name);
    return c && c.data.length === 1 ? c.data[0] : undefined;
  }

  /** For a binary node with one scalar constant input: that scalar and the other input. */
  scalarOperand(node: GraphNode): { value: number; other: string } | undefined {
    if (node.inputs.length !== 2) return undefined;
    for (const i of [0, 1]) {
      const value = this.scalar(node.inputs[i]);
      if (value !== undefined) return { value, other: node.inputs[1 - i]! };
    }
    return undefined;
  }

  consumers(name: string): GraphNode[] {
    return this.nodes.filter((n) => n.inputs.includes(name));
  }

  /** The one node reading `name`, when exactly one does and it is not a graph output. */
  soleConsumer(name: string, opType: string): GraphNode | undefined {
    if (this.graphOutputs.has(name)) return undefined;
    const readers = this.consumers(name);
    return readers.length === 1 && readers[0]!.opType === opType ? readers[0] : undefined;
  }

  producer(name: string): GraphNode | undefined {
    return this.nodes.find((n) => n.outputs.includes(name));
  }

  addConstant(base: string, tensor: FloatTensor): string {
    const name = `${base}/rewritten_${this.names++}`;
    this.added.set(name, tensor);
    this.constants.set(name, tensor);
    return name;
  }

  get outputs(): string[] {
    return [...this.graphOutputs];
  }

  setOutputs(outputs: Message[]): void {
    this.newOutputs = outputs;
    this.graphOutputs = new Set(outputs.map((o) => stringOf(o, VALUE_INFO_NAME) ?? ''));
  }

  remove(...nodes: GraphNode[]): void {
    for (const node of nodes) this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  encode(): Message {
    const used = new Set([...this.nodes.flatMap((n) => n.inputs), ...this.graphOutputs]);
    const graphInputs = new Set(fieldsOf(this.graph, GRAPH_INPUT).map((f) => stringOf(decodeMessage(f.value as Uint8Array), VALUE_INFO_NAME)));
    // Constants whose readers were folded away are dropped (onnxruntime warns about each one otherwise).
    const nodes = this.nodes.filter((n) => n.opType !== 'Constant' || used.has(n.outputs[0]!));
    const initializers = fieldsOf(this.graph, GRAPH_INITIALIZER).filter((f) => {
      const name = stringOf(decodeMessage(f.value as Uint8Array), TENSOR_NAME) ?? '';
      return used.has(name) || graphInputs.has(name);
    });
    return [
      ...nodes.map((n) => messageField(GRAPH_NODE, encodeNode(n))),
      ...initializers,
      ...[...this.added].filter(([name]) => used.has(name)).map(([name, t]) => messageField(GRAPH_INITIALIZER, encodeFloatTensor(name, t))),
      ...this.graph.filter((f) => f.no !== GRAPH_NODE && f.no !== GRAPH_INITIALIZER && (f.no !== GRAPH_OUTPUT || !this.newOutputs)),
      ...(this.newOutputs ?? []).map((o) => messageField(GRAPH_OUTPUT, o)),
    ];
  }
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
  const min = attribute(clip, 'min'), max = attribute(clip, 'max');
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
 * Softmax over classes as the only output  =>  outputs `<name>/best` (ArgMax, int64) and `<name>/prob`
 * (ReduceMax): greedy CTC decoding needs only these, and the model hands over two numbers per step
 * instead of 6,625 (measured: the argmax in JavaScript was the largest cost outside inference).
 */
function argmaxOutputs(g: ModelGraph, opset: number): boolean {
  // From opset 18 ReduceMax takes its axes as an input; the models this is for are older.
  if (opset >= 18 || g.outputs.length !== 1) return false;
  const probs = g.outputs[0]!;
  const softmax = g.producer(probs);
  const axisAttribute = softmax?.opType === 'Softmax' ? attribute(softmax, 'axis') : undefined;
  const axis = axisAttribute && varintOf(axisAttribute, ATTR_I);
  if (axis === undefined || axis < 1n) return false;
  const node = (opType: string, output: string, attributes: Message[]): GraphNode => ({ opType, inputs: [probs], outputs: [output], attributes, rest: [] });
  g.nodes.push(
    node('ArgMax', `${probs}/best`, [intAttribute('axis', Number(axis)), intAttribute('keepdims', 0)]),
    node('ReduceMax', `${probs}/prob`, [intsAttribute('axes', [Number(axis)]), intAttribute('keepdims', 0)]),
  );
  g.setOutputs([outputInfo(`${probs}/best`, TENSOR_INT64), outputInfo(`${probs}/prob`, TENSOR_FLOAT)]);
  return true;
}

export interface RewriteOptions {
  /** Replace a class-probability output by the best class and its probability (for the recogniser). */
  argmaxOutputs?: boolean;
}

/** The model with the rewrites applied, and what was rewritten. Unknown fields pass through unchanged. */
export function rewriteModel(bytes: Uint8Array, options: RewriteOptions = {}): { bytes: Uint8Array; report: RewriteReport } {
  const model = decodeMessage(bytes);
  const opset = fieldsOf(model, MODEL_OPSET).map((f) => decodeMessage(f.value as Uint8Array))
    .filter((o) => (stringOf(o, OPSET_DOMAIN) ?? '') === '').map((o) => Number(varintOf(o, OPSET_VERSION) ?? 0))[0] ?? 0;
  const graphField = fieldsOf(model, MODEL_GRAPH)[0];
  if (!graphField) throw new Error('ONNX model has no graph');
  const graph = new ModelGraph(decodeMessage(graphField.value as Uint8Array));
  const nodesBefore = graph.nodes.length;
  const report = {
    scaleShiftAfterConv: foldScaleShiftAfterConv(graph),
    hardSwish: rewriteHardSwish(graph),
    scaleShiftBeforeConv: foldScaleShiftBeforeConv(graph),
    argmaxOutputs: options.argmaxOutputs === true && argmaxOutputs(graph, opset),
  };
  const encodedGraph = graph.encode();
  const out = encodeMessage(model.map((f) => (f.no === MODEL_GRAPH ? messageField(MODEL_GRAPH, encodedGraph) : f)));
  return { bytes: out, report: { ...report, nodesBefore, nodesAfter: fieldsOf(encodedGraph, GRAPH_NODE).length } };
}
