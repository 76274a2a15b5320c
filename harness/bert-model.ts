/**
 * A small BERT-shaped sentence encoder written as ONNX, and the same computation in plain JavaScript.
 * Word, token-type and position embeddings (Gather), one self-attention layer whose padding positions
 * get -10000 before the softmax as BERT's do, a residual and a dense layer: inputs input_ids,
 * attention_mask and (optionally) token_type_ids [batch, seq] int64, output last_hidden_state
 * [batch, seq, hidden]. Weights come from a seeded generator, so a model is the same every time.
 */
import { DataType } from '../src/ocr/model/onnx-graph.ts';
import { graphModel, initializer, opNode, type ValueSpec } from './onnx-model.ts';
import { seededRandom } from './seeded-random.ts';

export interface BertShape {
  vocabSize: number;
  hidden: number;
  /** Position embeddings: the longest input the model takes. */
  positions: number;
  seed?: number;
  /** Whether the model has a token_type_ids input (DistilBERT-style exports have none). */
  tokenTypes?: boolean;
  /** Put a pooler_output [batch, hidden] before last_hidden_state among the outputs. */
  poolerFirst?: boolean;
}

export interface BertWeights {
  hidden: number;
  word: Float32Array;
  type: Float32Array;
  position: Float32Array;
  query: Float32Array;
  key: Float32Array;
  value: Float32Array;
  dense: Float32Array;
  bias: Float32Array;
}

export function bertWeights({ vocabSize, hidden, positions, seed = 1 }: BertShape): BertWeights {
  const next = seededRandom(seed);
  const values = (n: number, scale: number) => Float32Array.from({ length: n }, () => (next() - 0.5) * scale);
  const matrix = 2 / Math.sqrt(hidden);
  return {
    hidden,
    word: values(vocabSize * hidden, 2),
    type: values(2 * hidden, 0.5),
    position: values(positions * hidden, 0.5),
    query: values(hidden * hidden, matrix),
    key: values(hidden * hidden, matrix),
    value: values(hidden * hidden, matrix),
    dense: values(hidden * hidden, matrix),
    bias: values(hidden, 0.2),
  };
}

export function bertModel(shape: BertShape): Uint8Array {
  const w = bertWeights(shape);
  const { vocabSize, hidden, positions, tokenTypes = true, poolerFirst = false } = shape;
  const H = hidden;
  const float = (name: string, dims: number[], data: Float32Array) => initializer(name, DataType.Float, dims, data);
  const int64 = (name: string, dims: number[], values: number[]) =>
    initializer(name, DataType.Int64, dims, BigInt64Array.from(values.map(BigInt)));
  const op = (op: string, inputs: string[], output: string, attributes?: Parameters<typeof opNode>[0]['attributes']) =>
    opNode({ op, inputs, output, attributes });
  const nodes = [
    float('word_embeddings', [vocabSize, H], w.word),
    float('type_embeddings', [2, H], w.type),
    float('position_embeddings', [positions, H], w.position),
    float('wq', [H, H], w.query),
    float('wk', [H, H], w.key),
    float('wv', [H, H], w.value),
    float('wo', [H, H], w.dense),
    float('bo', [H], w.bias),
    float('scale', [], Float32Array.of(1 / Math.sqrt(H))),
    float('one_f', [], Float32Array.of(1)),
    float('masked_bias', [], Float32Array.of(10000)),
    int64('zero', [], [0]),
    int64('one', [], [1]),
    int64('axis_1', [1], [1]),
    op('Gather', ['word_embeddings', 'input_ids'], 'words'),
    op('Shape', ['input_ids'], 'input_shape'),
    op('Gather', ['input_shape', 'one'], 'seq_len'),
    op('Range', ['zero', 'seq_len', 'one'], 'position_ids'),
    op('Gather', ['position_embeddings', 'position_ids'], 'positions'),
    ...(tokenTypes
      ? [op('Gather', ['type_embeddings', 'token_type_ids'], 'types'), op('Add', ['words', 'types'], 'words_types')]
      : [op('Gather', ['type_embeddings', 'zero'], 'type_0'), op('Add', ['words', 'type_0'], 'words_types')]),
    op('Add', ['words_types', 'positions'], 'x'),
    op('MatMul', ['x', 'wq'], 'q'),
    op('MatMul', ['x', 'wk'], 'k'),
    op('MatMul', ['x', 'wv'], 'v'),
    op('Transpose', ['k'], 'k_t', [{ name: 'perm', ints: [0, 2, 1] }]),
    op('MatMul', ['q', 'k_t'], 'scores_raw'),
    op('Mul', ['scores_raw', 'scale'], 'scores_scaled'),
    op('Cast', ['attention_mask'], 'mask_f', [{ name: 'to', i: DataType.Float }]),
    op('Unsqueeze', ['mask_f', 'axis_1'], 'mask_3d'),
    op('Sub', ['mask_3d', 'one_f'], 'mask_off'),
    op('Mul', ['mask_off', 'masked_bias'], 'attention_bias'),
    op('Add', ['scores_scaled', 'attention_bias'], 'scores'),
    op('Softmax', ['scores'], 'attention', [{ name: 'axis', i: -1 }]),
    op('MatMul', ['attention', 'v'], 'context'),
    op('Add', ['x', 'context'], 'residual'),
    op('MatMul', ['residual', 'wo'], 'dense'),
    op('Add', ['dense', 'bo'], 'dense_bias'),
    op('Tanh', ['dense_bias'], 'last_hidden_state'),
    op('Gather', ['last_hidden_state', 'zero'], 'first_token', [{ name: 'axis', i: 1 }]),
    op('Tanh', ['first_token'], 'pooler_output'),
  ];
  const tokens = (name: string): ValueSpec => ({ name, type: DataType.Int64, dims: ['batch', 'sequence'] });
  const inputs = [tokens('input_ids'), tokens('attention_mask'), ...(tokenTypes ? [tokens('token_type_ids')] : [])];
  const hiddenOut: ValueSpec = { name: 'last_hidden_state', dims: ['batch', 'sequence', H] };
  const pooler: ValueSpec = { name: 'pooler_output', dims: ['batch', H] };
  return graphModel(nodes, inputs, poolerFirst ? [pooler, hiddenOut] : [hiddenOut, pooler], 13);
}

/**
 * The sentence vector the model and masked mean pooling should give for one unpadded sequence of ids
 * ([CLS] ... [SEP]), in float64: every token attends to every other, the outputs are averaged and
 * scaled to length 1.
 */
export function referenceEmbedding(w: BertWeights, ids: readonly number[]): number[] {
  const H = w.hidden,
    S = ids.length;
  const row = (m: Float32Array, i: number) => Array.from(m.subarray(i * H, (i + 1) * H));
  const times = (v: number[], m: Float32Array) => Array.from({ length: H }, (_, j) => v.reduce((s, x, i) => s + x * m[i * H + j]!, 0));
  const x = ids.map((id, s) => row(w.word, id).map((a, j) => a + w.type[j]! + w.position[s * H + j]!));
  const q = x.map((v) => times(v, w.query)),
    k = x.map((v) => times(v, w.key)),
    v = x.map((u) => times(u, w.value));
  const pooled = new Array<number>(H).fill(0);
  for (let i = 0; i < S; i++) {
    const scores = k.map((kj) => kj.reduce((s, a, d) => s + a * q[i]![d]!, 0) / Math.sqrt(H));
    const top = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - top));
    const sum = e.reduce((a, b) => a + b, 0);
    const residual = x[i]!.map((a, d) => a + e.reduce((s, p, j) => s + (p / sum) * v[j]![d]!, 0));
    times(residual, w.dense).forEach((a, d) => (pooled[d]! += Math.tanh(a + w.bias[d]!) / S));
  }
  const norm = Math.hypot(...pooled);
  return pooled.map((a) => a / norm);
}
