/**
 * Character error rate as ../shared/eval/score.py counts it, closely enough to compare: NFKC, curly
 * quotes and dashes folded, whitespace runs as one space; edit distance over the truth's length.
 */
const FOLD: Record<string, string> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2013': '-',
  '\u2014': '-',
  '\u2212': '-',
  '\u2022': '*',
  '\u00a0': ' ',
  '\u2044': '/',
};

export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u2018\u2019\u201c\u201d\u2013\u2014\u2212\u2022\u00a0\u2044]/g, (c) => FOLD[c]!)
    .replace(/\s+/g, ' ')
    .trim();
}

export function editDistance(a: string, b: string): number {
  let prev = new Uint32Array(b.length + 1).map((_, j) => j);
  let row = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, sub);
    }
    [prev, row] = [row, prev];
  }
  return prev[b.length]!;
}

/** Errors and truth characters, so that pages can be pooled: sum the errors, divide by the summed length. */
export function charErrors(hypothesis: string, truth: string): { errors: number; chars: number } {
  const a = normalizeText(hypothesis),
    b = normalizeText(truth);
  return { errors: editDistance(a, b), chars: b.length };
}

export function cer(hypothesis: string, truth: string): number {
  const { errors, chars } = charErrors(hypothesis, truth);
  return errors / Math.max(1, chars);
}
