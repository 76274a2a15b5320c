/** Greedy CTC decoding, after PaddleOCR's CTCLabelDecode, keeping where on the timeline each character sits. */

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

/**
 * Decodes `steps` timesteps of `classes` probabilities starting at `offset` in `probs`:
 * take the best class per step, merge repeats, drop blanks.
 */
export function ctcGreedyDecode(probs: Float32Array, offset: number, steps: number, classes: number, alphabet: readonly string[]): CtcResult {
  const chars: DecodedChar[] = [];
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0, bestP = probs[base]!;
    for (let k = 1; k < classes; k++) {
      const p = probs[base + k]!;
      if (p > bestP) { bestP = p; best = k; }
    }
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
