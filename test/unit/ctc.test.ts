import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { ctcAlphabet, ctcGreedyDecode, stepMaxima } from '../../src/ocr/stages/rec/ctc.ts';

// Classes: 0 blank, 1 'a', 2 'b', 3 ' ' (space last, as Paddle's use_space_char).
const alphabet = ctcAlphabet('a\nb\n');

function steps(best: number[], p = 0.9): Float32Array {
  const out = new Float32Array(best.length * alphabet.length).fill((1 - p) / (alphabet.length - 1));
  best.forEach((k, t) => (out[t * alphabet.length + k] = p));
  return out;
}

test('alphabet is blank, the dictionary in order, then the space', () => {
  expect(alphabet).toEqual(['', 'a', 'b', ' ']);
});

test('step maxima are the likeliest class of each step and its probability', () => {
  const m = stepMaxima(new Float32Array([0.1, 0.7, 0.1, 0.1, 0.05, 0.05, 0.1, 0.8]), 4);
  expect([...m.best]).toEqual([1, 3]);
  expect([...m.prob].map((p) => Math.round(p * 100))).toEqual([70, 80]);
});

test('repeats merge, blanks separate repeats and are dropped', () => {
  const probs = steps([0, 1, 1, 0, 1, 2, 2, 2, 0, 3, 2, 0]);
  const r = ctcGreedyDecode(stepMaxima(probs, alphabet.length), 0, 12, alphabet);
  assert.equal(r.text, 'aab b');
  expect(r.chars.map((c) => [c.char, c.start, c.end])).toEqual([
    ['a', 1, 2],
    ['a', 4, 4],
    ['b', 5, 7],
    [' ', 9, 9],
    ['b', 10, 10],
  ]);
  assert.ok(Math.abs(r.confidence - 0.9) < 1e-6);
});

test('decoding starts at the offset and reads only the given steps', () => {
  const probs = new Float32Array([...steps([2, 2]), ...steps([1, 0, 1, 2])]);
  const r = ctcGreedyDecode(stepMaxima(probs, alphabet.length), 2, 3, alphabet);
  assert.equal(r.text, 'aa');
});

test('all blanks decode to empty text with confidence 0', () => {
  const r = ctcGreedyDecode(stepMaxima(steps([0, 0, 0]), alphabet.length), 0, 3, alphabet);
  assert.equal(r.text, '');
  assert.equal(r.confidence, 0);
});
