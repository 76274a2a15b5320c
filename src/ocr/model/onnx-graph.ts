/**
 * An ONNX model as a list of nodes and constants that can be rewritten and written back, on the wire
 * codec of protobuf.ts. Used by the load-time rewrites (graph-rewrite.ts, quantize.ts).
 */
import {
  bytesField,
  decodeMessage,
  encodeMessage,
  fieldsOf,
  floatField,
  floatsOf,
  messageField,
  packedVarintsField,
  stringField,
  stringOf,
  stringsOf,
  varintField,
  varintOf,
  varintsOf,
  type Message,
} from './protobuf.ts';

// Field numbers of onnx.proto.
const MODEL_GRAPH = 7,
  MODEL_OPSET = 8,
  OPSET_DOMAIN = 1,
  OPSET_VERSION = 2;
const GRAPH_NODE = 1,
  GRAPH_INITIALIZER = 5,
  GRAPH_INPUT = 11,
  GRAPH_OUTPUT = 12;
const NODE_INPUT = 1,
  NODE_OUTPUT = 2,
  NODE_NAME = 3,
  NODE_OP_TYPE = 4,
  NODE_ATTRIBUTE = 5,
  NODE_DOMAIN = 7;
export const ATTR_NAME = 1,
  ATTR_F = 2,
  ATTR_I = 3,
  ATTR_S = 4,
  ATTR_T = 5,
  ATTR_INTS = 8;
const ATTR_TYPE = 20,
  ATTR_TYPE_FLOAT = 1,
  ATTR_TYPE_INT = 2,
  ATTR_TYPE_INTS = 7;
const TENSOR_DIMS = 1,
  TENSOR_DATA_TYPE = 2,
  TENSOR_FLOAT_DATA = 4,
  TENSOR_NAME = 8,
  TENSOR_RAW_DATA = 9;
const VALUE_INFO_NAME = 1,
  VALUE_INFO_TYPE = 2,
  TYPE_TENSOR = 1,
  TENSOR_TYPE_ELEM = 1,
  TENSOR_TYPE_SHAPE = 2,
  SHAPE_DIM = 1,
  DIM_VALUE = 1;

/** TensorProto.DataType values used here. */
export const DataType = { Float: 1, Uint8: 2, Int8: 3, Int32: 6, Int64: 7 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export interface GraphNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: Message[];
  /** Every other field of the NodeProto (name, domain, doc string), written back as it was. */
  rest: Message;
}

export interface FloatTensor {
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

/** A node written by a rewrite, named after its first output. */
export function newNode(opType: string, inputs: string[], outputs: string[], attributes: Message[] = [], domain = ''): GraphNode {
  const rest: Message = [stringField(NODE_NAME, `${outputs[0]}/${opType}`), ...(domain ? [stringField(NODE_DOMAIN, domain)] : [])];
  return { opType, inputs, outputs, attributes, rest };
}

function decodeFloatTensor(fields: Message): FloatTensor | undefined {
  if (Number(varintOf(fields, TENSOR_DATA_TYPE) ?? 0) !== DataType.Float) return undefined;
  const dims = varintsOf(fields, TENSOR_DIMS);
  const raw = fieldsOf(fields, TENSOR_RAW_DATA)[0]?.value as Uint8Array | undefined;
  // Copied: raw_data inside the model buffer need not be 4-byte aligned.
  const data = raw ? new Float32Array(new Uint8Array(raw).buffer) : Float32Array.from(floatsOf(fields, TENSOR_FLOAT_DATA));
  return { dims, data };
}

/** A TensorProto holding `data` (a typed array of `type`) as raw bytes. */
export function tensorMessage(name: string, type: DataType, dims: readonly number[], data: ArrayBufferView): Message {
  return [
    ...(dims.length > 0 ? [packedVarintsField(TENSOR_DIMS, dims)] : []),
    varintField(TENSOR_DATA_TYPE, type),
    stringField(TENSOR_NAME, name),
    bytesField(TENSOR_RAW_DATA, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  ];
}

export const attribute = (node: GraphNode, name: string) => node.attributes.find((a) => stringOf(a, ATTR_NAME) === name);

/** Whether a convolution has a single group (no `group` attribute, or 1): every output channel reads every input channel. */
export function ungrouped(node: GraphNode): boolean {
  const group = attribute(node, 'group');
  return group === undefined || varintOf(group, ATTR_I) === 1n;
}

export function floatAttribute(name: string, value: number): Message {
  return [stringField(ATTR_NAME, name), floatField(ATTR_F, value), varintField(ATTR_TYPE, ATTR_TYPE_FLOAT)];
}

export function intAttribute(name: string, value: number): Message {
  return [stringField(ATTR_NAME, name), varintField(ATTR_I, value), varintField(ATTR_TYPE, ATTR_TYPE_INT)];
}

export function intsAttribute(name: string, values: number[]): Message {
  return [stringField(ATTR_NAME, name), packedVarintsField(ATTR_INTS, values), varintField(ATTR_TYPE, ATTR_TYPE_INTS)];
}

/** A graph output of the given element type, its shape left to the runtime. */
export function outputInfo(name: string, elemType: DataType): Message {
  return [
    stringField(VALUE_INFO_NAME, name),
    messageField(VALUE_INFO_TYPE, [messageField(TYPE_TENSOR, [varintField(TENSOR_TYPE_ELEM, elemType)])]),
  ];
}

const valueInfoName = (info: Message) => stringOf(info, VALUE_INFO_NAME) ?? '';

export class ModelGraph {
  nodes: GraphNode[];
  private readonly constants = new Map<string, FloatTensor>();
  /** Tensors added by rewrites, encoded, by name. */
  private readonly added = new Map<string, Message>();
  private outputMessages: Message[];
  /** The outputs' names, kept beside their messages: rewrites ask for them at every node they look at. */
  private outputNames: string[];
  private outputsChanged = false;
  private names = 0;
  private readonly graph: Message;

  constructor(graph: Message) {
    this.graph = graph;
    this.nodes = fieldsOf(graph, GRAPH_NODE).map((f) => decodeNode(f.value as Uint8Array));
    this.outputMessages = fieldsOf(graph, GRAPH_OUTPUT).map((f) => decodeMessage(f.value as Uint8Array));
    this.outputNames = this.outputMessages.map(valueInfoName);
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
    if (this.outputs.includes(name)) return undefined;
    const readers = this.consumers(name);
    return readers.length === 1 && readers[0]!.opType === opType ? readers[0] : undefined;
  }

  producer(name: string): GraphNode | undefined {
    return this.nodes.find((n) => n.outputs.includes(name));
  }

  /** A new float constant, with a name unique in the graph. */
  addConstant(base: string, tensor: FloatTensor): string {
    const name = `${base}/rewritten_${this.names++}`;
    this.addTensor(name, DataType.Float, tensor.dims, tensor.data);
    this.constants.set(name, tensor);
    return name;
  }

  /** A new constant of any type under the given name. */
  addTensor(name: string, type: DataType, dims: readonly number[], data: ArrayBufferView): string {
    this.added.set(name, tensorMessage(name, type, dims, data));
    return name;
  }

  get inputs(): string[] {
    return fieldsOf(this.graph, GRAPH_INPUT).map((f) => valueInfoName(decodeMessage(f.value as Uint8Array)));
  }

  get outputs(): string[] {
    return this.outputNames;
  }

  /** Declares axis `axis` of graph input `name` to be `size` long (the graph's readers must already read it so). */
  setInputDim(name: string, axis: number, size: number): void {
    const field = fieldsOf(this.graph, GRAPH_INPUT).find((f) => valueInfoName(decodeMessage(f.value as Uint8Array)) === name);
    if (!field) throw new Error(`ONNX graph has no input ${name}`);
    const edit = (message: Message, no: number, change: (inner: Message) => Message): Message =>
      message.map((f) => (f.no === no ? messageField(no, change(decodeMessage(f.value as Uint8Array))) : f));
    const info = edit(decodeMessage(field.value as Uint8Array), VALUE_INFO_TYPE, (type) =>
      edit(type, TYPE_TENSOR, (tensor) =>
        edit(tensor, TENSOR_TYPE_SHAPE, (shape) => {
          const dims = fieldsOf(shape, SHAPE_DIM);
          if (!dims[axis]) throw new Error(`ONNX graph input ${name} has no axis ${axis}`);
          return shape.map((f) => (f === dims[axis] ? messageField(SHAPE_DIM, [varintField(DIM_VALUE, size)]) : f));
        }),
      ),
    );
    field.value = encodeMessage(info);
  }

  /** The graph outputs' ValueInfoProtos. */
  get outputInfos(): Message[] {
    return this.outputMessages;
  }

  setOutputs(outputs: Message[]): void {
    this.outputMessages = outputs;
    this.outputNames = outputs.map(valueInfoName);
    this.outputsChanged = true;
  }

  remove(...nodes: GraphNode[]): void {
    for (const node of nodes) this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  private used(): Set<string> {
    return new Set([...this.nodes.flatMap((n) => n.inputs), ...this.outputs]);
  }

  /** The nodes that are written out: Constants whose readers were rewritten away are dropped (onnxruntime warns about each one otherwise). */
  liveNodes(used = this.used()): GraphNode[] {
    return this.nodes.filter((n) => n.opType !== 'Constant' || used.has(n.outputs[0]!));
  }

  encode(): Message {
    const used = this.used();
    const graphInputs = new Set(this.inputs);
    const nodes = this.liveNodes(used);
    const initializers = fieldsOf(this.graph, GRAPH_INITIALIZER).filter((f) => {
      const name = stringOf(decodeMessage(f.value as Uint8Array), TENSOR_NAME) ?? '';
      return used.has(name) || graphInputs.has(name);
    });
    return [
      ...nodes.map((n) => messageField(GRAPH_NODE, encodeNode(n))),
      ...initializers,
      ...[...this.added].filter(([name]) => used.has(name)).map(([, t]) => messageField(GRAPH_INITIALIZER, t)),
      ...this.graph.filter((f) => f.no !== GRAPH_NODE && f.no !== GRAPH_INITIALIZER && (f.no !== GRAPH_OUTPUT || !this.outputsChanged)),
      ...(this.outputsChanged ? this.outputMessages.map((o) => messageField(GRAPH_OUTPUT, o)) : []),
    ];
  }
}

/** A whole model: its graph, and the operator set versions it was written for. */
export class OnnxModel {
  readonly graph: ModelGraph;
  private fields: Message;

  constructor(bytes: Uint8Array) {
    this.fields = decodeMessage(bytes);
    const graphField = fieldsOf(this.fields, MODEL_GRAPH)[0];
    if (!graphField) throw new Error('ONNX model has no graph');
    this.graph = new ModelGraph(decodeMessage(graphField.value as Uint8Array));
  }

  private opsets(): Message[] {
    return fieldsOf(this.fields, MODEL_OPSET).map((f) => decodeMessage(f.value as Uint8Array));
  }

  /** The version of an operator domain the model imports ('' is the ONNX domain), 0 if none. */
  opset(domain = ''): number {
    const entry = this.opsets().find((o) => (stringOf(o, OPSET_DOMAIN) ?? '') === domain);
    return entry ? Number(varintOf(entry, OPSET_VERSION) ?? 0) : 0;
  }

  setOpset(domain: string, version: number): void {
    const entry = messageField(MODEL_OPSET, [...(domain ? [stringField(OPSET_DOMAIN, domain)] : []), varintField(OPSET_VERSION, version)]);
    this.fields = [
      ...this.fields.filter((f) => f.no !== MODEL_OPSET || (stringOf(decodeMessage(f.value as Uint8Array), OPSET_DOMAIN) ?? '') !== domain),
      entry,
    ];
  }

  encode(): Uint8Array {
    return encodeMessage(this.fields.map((f) => (f.no === MODEL_GRAPH ? messageField(MODEL_GRAPH, this.graph.encode()) : f)));
  }
}
