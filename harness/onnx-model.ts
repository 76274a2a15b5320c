/** Writes small ONNX models for tests, with the same wire codec and builders the graph rewrite uses. */
import { DataType, floatAttribute, intAttribute, intsAttribute, tensorMessage } from '../src/ocr/model/onnx-graph.ts';
import { encodeMessage, messageField, stringField, varintField, type Field, type Message } from '../src/ocr/model/protobuf.ts';

export type Attribute = { name: string } & ({ f: number } | { i: number } | { ints: number[] });

export interface NodeSpec {
  op: string;
  inputs: string[];
  output: string;
  attributes?: Attribute[];
}

function attributeMessage(a: Attribute): Message {
  if ('f' in a) return floatAttribute(a.name, a.f);
  if ('i' in a) return intAttribute(a.name, a.i);
  return intsAttribute(a.name, a.ints);
}

/** A Constant node holding a float tensor, as Paddle2ONNX writes every weight. */
export function constantNode(name: string, dims: number[], data: Float32Array): Field {
  const value: Message = [stringField(1, 'value'), messageField(5, tensorMessage(name, DataType.Float, dims, data)), varintField(20, 4)];
  return messageField(1, [stringField(2, name), stringField(4, 'Constant'), messageField(5, value)]);
}

export function opNode(n: NodeSpec): Field {
  return messageField(1, [
    ...n.inputs.map((i) => stringField(1, i)),
    stringField(2, n.output),
    stringField(3, n.output),
    stringField(4, n.op),
    ...(n.attributes ?? []).map((a) => messageField(5, attributeMessage(a))),
  ]);
}

/** A graph input or output: its element type (float by default) and dims, a string naming a symbolic one. */
export interface ValueSpec {
  name: string;
  type?: DataType;
  dims: (number | string)[];
}

/** ValueInfoProto, as graph input (field 11) or output (field 12). */
function valueInfo(field: number, { name, type = DataType.Float, dims }: ValueSpec): Field {
  const shape: Message = dims.map((d) => messageField(1, [typeof d === 'string' ? stringField(2, d) : varintField(1, d)]));
  const tensorType: Message = [varintField(1, type), messageField(2, shape)];
  return messageField(field, [stringField(1, name), messageField(2, [messageField(1, tensorType)])]);
}

/** A tensor stored in the graph (an initializer), of any type. */
export function initializer(name: string, type: DataType, dims: number[], data: ArrayBufferView): Field {
  return messageField(5, tensorMessage(name, type, dims, data));
}

/** A model of the given nodes (and initializers), inputs and outputs, for an ONNX operator set. */
export function graphModel(nodes: Field[], inputs: ValueSpec[], outputs: ValueSpec[], opset: number): Uint8Array {
  const graph: Message = [
    ...nodes,
    stringField(2, 'test'),
    ...inputs.map((v) => valueInfo(11, v)),
    ...outputs.map((v) => valueInfo(12, v)),
  ];
  return encodeMessage([varintField(1, 7), messageField(7, graph), messageField(8, [stringField(1, ''), varintField(2, opset)])]);
}

/** An opset-9 model with one float input `x` and one output `y`. */
export function onnxModel(nodes: Field[], inputDims: number[], outputDims: number[]): Uint8Array {
  return graphModel(nodes, [{ name: 'x', dims: inputDims }], [{ name: 'y', dims: outputDims }], 9);
}
