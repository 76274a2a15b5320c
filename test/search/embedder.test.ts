import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from '@jest/globals';
import { Embedder, type EmbedderOptions } from '../../src/search/embedder.ts';
import { WordPieceTokenizer } from '../../src/search/wordpiece.ts';
import { bertModel, bertWeights, referenceEmbedding, type BertShape } from '../../harness/bert-model.ts';
import { onnxModel, opNode } from '../../harness/onnx-model.ts';

const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'the',
  'a',
  'quick',
  'brown',
  'fox',
  'jumps',
  'over',
  'lazy',
  'dog',
  'invoice',
  'was',
  'paid',
  'in',
  'march',
  'report',
  'on',
  'annual',
  'rain',
  '##fall',
  '##s',
  '##ing',
  '.',
  ',',
];
const SHAPE: BertShape = { vocabSize: VOCAB.length, hidden: 16, positions: 32, seed: 7 };
const SENTENCES = [
  'the quick brown fox jumps over the lazy dog.',
  'fox',
  'the invoice was paid in march',
  'annual rainfall report',
  'a dog jumps',
  'reports on the quick fox, the lazy dog, the brown dog and the invoice.',
  'the',
];

const dir = mkdtempSync(join(tmpdir(), 'embedder-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const vocabPath = join(dir, 'vocab.txt');
writeFileSync(vocabPath, `${VOCAB.join('\n')}\n`);
const tokenizer = new WordPieceTokenizer(VOCAB);

function modelFile(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const bertPath = modelFile('bert.onnx', bertModel(SHAPE));
const load = (options: Partial<EmbedderOptions> = {}) =>
  Embedder.load({ model: bertPath, vocab: vocabPath, maxTokens: SHAPE.positions, ...options });
const distance = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i]!)));

test('the input names come from the model, token_type_ids only when it has one; last_hidden_state is read by name', async () => {
  const bert = await load();
  expect(bert.inputNames).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
  assert.equal(bert.outputName, 'last_hidden_state');
  assert.match(bert.id, /^bert\.onnx@[0-9a-f]{12}$/);
  const distil = await load({ model: modelFile('no-types.onnx', bertModel({ ...SHAPE, tokenTypes: false, poolerFirst: true })) });
  expect(distil.inputNames).toEqual(['input_ids', 'attention_mask']);
  assert.equal(distil.outputName, 'last_hidden_state');
  // Without token types the model adds type 0's embedding, as token_type_ids of zeros do: same vectors.
  const [a, b] = [await bert.embed(SENTENCES), await distil.embed(SENTENCES)];
  a.forEach((v, i) => assert.ok(distance(v, b[i]!) < 1e-6));
  await Promise.all([bert.close(), distil.close()]);
});

test("each vector is the mean of the real tokens' outputs scaled to length 1, as a plain computation of the same graph gives", async () => {
  const bert = await load();
  const weights = bertWeights(SHAPE);
  const vectors = await bert.embed(SENTENCES);
  SENTENCES.forEach((text, i) => {
    const vector = vectors[i]!;
    assert.equal(vector.length, SHAPE.hidden);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-6, `length ${Math.hypot(...vector)}`);
    const expected = referenceEmbedding(weights, tokenizer.encode(text, SHAPE.positions));
    assert.ok(distance(vector, expected) < 1e-5, `${text}: ${distance(vector, expected)}`);
  });
  await bert.close();
});

test("padding does not change a sentence's vector, though it would if the mask were ignored", async () => {
  const bert = await load({ batchSize: SENTENCES.length });
  const alone = await bert.embed(['fox']);
  // In one batch with the longest sentence, 'fox' ([CLS] fox [SEP]) is padded with [PAD]s.
  const padded = (await bert.embed(['fox', SENTENCES[5]!]))[0]!;
  assert.ok(distance(padded, alone[0]!) < 1e-6, `${distance(padded, alone[0]!)}`);
  const ids = tokenizer.encode('fox', SHAPE.positions);
  const longest = tokenizer.encode(SENTENCES[5]!, SHAPE.positions).length;
  const unmasked = referenceEmbedding(bertWeights(SHAPE), [...ids, ...new Array(longest - ids.length).fill(0)]);
  assert.ok(distance(padded, unmasked) > 0.01, 'the padding positions would have changed the vector');
  await bert.close();
});

test("batches give what one text at a time gives, in the order asked, and long texts are cut to the model's length", async () => {
  const batched = await load({ batchSize: 3 });
  const single = await load({ batchSize: 1 });
  const texts = [...SENTENCES, 'the quick brown fox '.repeat(40)];
  const [many, ones] = [await batched.embed(texts), await Promise.all(texts.map(async (t) => (await single.embed([t]))[0]!))];
  assert.equal(many.length, texts.length);
  many.forEach((v, i) => assert.ok(distance(v, ones[i]!) < 1e-6, `${texts[i]}: ${distance(v, ones[i]!)}`));
  expect(await batched.embed([])).toEqual([]);
  await Promise.all([batched.close(), single.close()]);
});

test('a model that is not a BERT-style encoder is refused with its input names', async () => {
  const relu = modelFile('relu.onnx', onnxModel([opNode({ op: 'Relu', inputs: ['x'], output: 'y' })], [1, 3], [1, 3]));
  await assert.rejects(load({ model: relu }), /inputs are x; expected int64 input_ids, attention_mask, token_type_ids/);
});
