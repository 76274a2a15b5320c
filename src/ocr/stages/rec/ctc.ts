/** Greedy CTC decoding, after PaddleOCR's CTCLabelDecode, keeping where on the timeline each character sits. */
import type { StepMaxima } from '../../../contracts.ts';

export interface DecodedChar {
  char: string;
  /** First and last timestep where this character was the most likely class. */
  start: number;
  end: number;
  prob: number;
}

export interface CtcResult {
  text: string;
  /** Mean probability of the emitted characters; 0 when none were. */
  confidence: number;
  chars: DecodedChar[];
}

/**
 * The recogniser's classes: blank first, then the dictionary in file order, then the space
 * (PaddleOCR's use_space_char).
 */
export function ctcAlphabet(dictionary: string): string[] {
  const chars = dictionary.split(/\r?\n/);
  if (chars.at(-1) === '') chars.pop();
  return ['', ...chars, ' '];
}

/** Step maxima of `classes`-wide probability rows (for a model that outputs every class's probability). */
export function stepMaxima(probs: Float32Array, classes: number): StepMaxima {
  const steps = probs.length / classes;
  const best = new Int32Array(steps),
    prob = new Float32Array(steps);
  for (let t = 0; t < steps; t++) {
    const base = t * classes;
    let k = 0,
      p = probs[base]!;
    for (let c = 1; c < classes; c++) {
      if (probs[base + c]! > p) {
        p = probs[base + c]!;
        k = c;
      }
    }
    best[t] = k;
    prob[t] = p;
  }
  return { best, prob };
}

/** Decodes `steps` timesteps starting at step `offset`: take the best class per step, merge repeats, drop blanks. */
export function ctcGreedyDecode(maxima: StepMaxima, offset: number, steps: number, alphabet: readonly string[]): CtcResult {
  const chars: DecodedChar[] = [];
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const best = maxima.best[offset + t]!,
      bestP = maxima.prob[offset + t]!;
    if (best !== 0 && best === prev) {
      const last = chars[chars.length - 1]!;
      last.end = t;
      // Paddle scores a character by its first step; keep the best step, which is what a repeat adds.
      last.prob = Math.max(last.prob, bestP);
    } else if (best !== 0) {
      chars.push({ char: alphabet[best] ?? '', start: t, end: t, prob: bestP });
    }
    prev = best;
  }
  const confidence = chars.length === 0 ? 0 : chars.reduce((s, c) => s + c.prob, 0) / chars.length;
  return { text: chars.map((c) => c.char).join(''), confidence, chars };
}
