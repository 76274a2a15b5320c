/**
 * Sentence vectors from a BERT-style encoder in onnxruntime-node: texts are cut into WordPiece tokens,
 * run in batches of similar length (less padding to compute), and each text's token vectors are
 * averaged over its real tokens (the attention mask) and scaled to length 1, as sentence-transformers
 * does for all-MiniLM-L6-v2. Vectors of length 1 make the index's cosine distance a dot product.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import ort, { type InferenceSession, type Tensor } from '../onnxruntime.ts';
import { WordPieceTokenizer, type BatchEncoding } from './wordpiece.ts';

export interface EmbedderOptions {
  /** The encoder: an ONNX file (EMBED_MODEL). */
  model: string;
  /** Its WordPiece vocabulary, `vocab.txt` (EMBED_VOCAB). */
  vocab: string;
  /** Tokens a text is cut to, [CLS] and [SEP] included: the length the model was trained for (256 for all-MiniLM-L6-v2, 512 at most for BERT). */
  maxTokens?: number;
  /** Texts run together. */
  batchSize?: number;
  /** onnxruntime's intra-op threads. */
  threads?: number;
  /** Lower-case and strip accents; by default decided from the vocabulary (wordpiece.ts). */
  lowercase?: boolean;
}

/** The token inputs a BERT-style export may have; any other input cannot be fed. */
const TOKEN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
type TokenInput = (typeof TOKEN_INPUTS)[number];
/** Per-token outputs by the names exporters give them (transformers: last_hidden_state; sentence-transformers: token_embeddings). */
const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];

export class Embedder {
  /** The model's file name and the start of its SHA-256: vectors from two models cannot be compared, and the index keeps this beside them. */
  readonly id: string;
  readonly inputNames: readonly TokenInput[];
  readonly outputName: string;
  private readonly session: InferenceSession;
  private readonly tokenizer: WordPieceTokenizer;
  private readonly maxTokens: number;
  private readonly batchSize: number;

  private constructor(session: InferenceSession, tokenizer: WordPieceTokenizer, id: string, options: EmbedderOptions) {
    this.session = session;
    this.tokenizer = tokenizer;
    this.id = id;
    this.maxTokens = options.maxTokens ?? 256;
    this.batchSize = options.batchSize ?? 16;
    if (!(this.maxTokens >= 2) || !(this.batchSize >= 1)) throw new RangeError('maxTokens must be at least 2 and batchSize at least 1');
    const unknown = session.inputNames.filter((n) => !(TOKEN_INPUTS as readonly string[]).includes(n));
    const notInt64 = session.inputMetadata.filter((m) => m.isTensor && m.type !== 'int64').map((m) => m.name);
    if (unknown.length || notInt64.length || !session.inputNames.includes('input_ids')) {
      throw new Error(
        `${options.model} is not a BERT-style encoder: its inputs are ${session.inputNames.join(', ')}; ` +
          `expected int64 ${TOKEN_INPUTS.join(', ')} (the last optional)`,
      );
    }
    this.inputNames = session.inputNames as TokenInput[];
    this.outputName = TOKEN_OUTPUTS.find((n) => session.outputNames.includes(n)) ?? session.outputNames[0]!;
  }

  static async load(options: EmbedderOptions): Promise<Embedder> {
    const [model, vocab] = await Promise.all([readFile(options.model), readFile(options.vocab, 'utf8')]);
    const tokenizer = WordPieceTokenizer.fromVocabText(vocab, { lowercase: options.lowercase });
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // Every batch has another length; an arena would keep the largest one ever seen.
      enableCpuMemArena: false,
    });
    const id = `${basename(options.model)}@${createHash('sha256').update(model).digest('hex').slice(0, 12)}`;
    return new Embedder(session, tokenizer, id, options);
  }

  /** One vector of length 1 per text, in the order given. */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const encoded = texts.map((t) => this.tokenizer.encode(t, this.maxTokens));
    // Shortest first, so each batch pads little.
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length);
    const out = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const rows = order.slice(start, start + this.batchSize);
      const vectors = await this.run(this.tokenizer.batch(rows.map((i) => encoded[i]!)));
      rows.forEach((i, r) => (out[i] = vectors[r]!));
    }
    return out;
  }

  private async run(batch: BatchEncoding): Promise<Float32Array[]> {
    const feeds: Record<string, Tensor> = {};
    for (const name of this.inputNames) feeds[name] = new ort.Tensor('int64', batch[name], batch.dims);
    const output = (await this.session.run(feeds, [this.outputName]))[this.outputName]!;
    const [rows, length, width] = output.dims;
    if (output.dims.length !== 3 || rows !== batch.dims[0] || length !== batch.dims[1]) {
      throw new Error(
        `The encoder's output ${this.outputName} is [${output.dims.join(', ')}], not one vector per token [batch, sequence, hidden]`,
      );
    }
    return meanPool(output.data as Float32Array, batch.attention_mask, rows, length, width!);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Each row's token vectors where the mask is 1, averaged, then scaled to length 1. */
function meanPool(hidden: Float32Array, mask: BigInt64Array, rows: number, length: number, width: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    const sum = new Float64Array(width);
    let count = 0;
    for (let t = 0; t < length; t++) {
      if (mask[r * length + t] === 0n) continue;
      count++;
      const at = (r * length + t) * width;
      for (let d = 0; d < width; d++) sum[d]! += hidden[at + d]!;
    }
    const norm = Math.hypot(...sum.map((s) => s / count)) || 1;
    out.push(Float32Array.from(sum, (s) => s / count / norm));
  }
  return out;
}
