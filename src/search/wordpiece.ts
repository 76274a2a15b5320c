/**
 * BERT's WordPiece tokenizer, as BERT's own `BasicTokenizer` + `WordpieceTokenizer` define it:
 * clean the text, put spaces around CJK ideographs, lower-case and strip accents (uncased vocabularies),
 * split off punctuation, then cut each word greedily into the longest pieces the vocabulary has
 * (`##` marks a piece inside a word). A word with no such cut, or longer than 100 characters, is [UNK].
 */

/** The model inputs of a batch: row-major [batch, length], padded with [PAD] (id 0 in BERT vocabularies) and mask 0. */
export interface BatchEncoding {
  input_ids: BigInt64Array;
  attention_mask: BigInt64Array;
  token_type_ids: BigInt64Array;
  dims: [batch: number, length: number];
}

export interface WordPieceOptions {
  /**
   * Lower-case and strip accents before cutting words, as uncased models were trained. Default: true
   * when no vocabulary entry has an ASCII capital (bert-base-uncased, all-MiniLM-L6-v2), false otherwise.
   */
  lowercase?: boolean;
}

const MAX_WORD_CHARS = 100;
const SPECIAL = /^\[[^\]]+\]$/;

// BERT's own ranges of "CJK characters" (the CJK Unified Ideographs blocks); Hangul and kana are not in them.
const CJK: readonly [number, number][] = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b820, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];
const isCjk = (cp: number) => CJK.some(([lo, hi]) => cp >= lo && cp <= hi);
const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
// Tab, newline and carriage return count as white space, not as control characters.
const isControl = (ch: string) => !isWhitespace(ch) && /[\p{Cc}\p{Cf}]/u.test(ch);
// BERT counts every non-letter, non-digit ASCII character as punctuation ("$", "^", "`"), besides Unicode's P*.
const isPunctuation = (ch: string) => {
  const cp = ch.codePointAt(0)!;
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) || /\p{P}/u.test(ch);
};

export class WordPieceTokenizer {
  readonly lowercase: boolean;
  private readonly ids: ReadonlyMap<string, number>;
  private readonly unk: number;
  private readonly cls: number;
  private readonly sep: number;
  private readonly pad: number;

  /** `vocab`: the entries of a `vocab.txt`, an entry's id being its line number from 0. */
  constructor(vocab: readonly string[], options: WordPieceOptions = {}) {
    const ids = new Map<string, number>();
    vocab.forEach((token, id) => {
      if (!ids.has(token)) ids.set(token, id);
    });
    const special = (token: string) => {
      const id = ids.get(token);
      if (id === undefined) throw new Error(`The vocabulary has no ${token} entry: not a BERT WordPiece vocab.txt`);
      return id;
    };
    this.ids = ids;
    this.unk = special('[UNK]');
    this.cls = special('[CLS]');
    this.sep = special('[SEP]');
    this.pad = special('[PAD]');
    this.lowercase = options.lowercase ?? !vocab.some((t) => !SPECIAL.test(t) && /[A-Z]/.test(t));
  }

  /** A `vocab.txt`'s text: one entry a line. */
  static fromVocabText(text: string, options?: WordPieceOptions): WordPieceTokenizer {
    const lines = text.split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    return new WordPieceTokenizer(lines, options);
  }

  /** The words BERT's BasicTokenizer makes of a text, before WordPiece. */
  words(text: string): string[] {
    let spaced = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      if (isWhitespace(ch)) spaced += ' ';
      else if (isCjk(cp)) spaced += ` ${ch} `;
      else spaced += ch;
    }
    const out: string[] = [];
    for (let word of spaced.split(' ')) {
      if (!word) continue;
      if (this.lowercase)
        word = word
          .toLowerCase()
          .normalize('NFD')
          .replace(/\p{Mn}/gu, '');
      let current = '';
      for (const ch of word) {
        if (isPunctuation(ch)) {
          if (current) out.push(current);
          out.push(ch);
          current = '';
        } else current += ch;
      }
      if (current) out.push(current);
    }
    return out;
  }

  /** A word's pieces' ids: the longest vocabulary entry from the left, again and again; [UNK] if the word cannot be cut so. */
  private pieces(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > MAX_WORD_CHARS) return [this.unk];
    const out: number[] = [];
    for (let start = 0; start < chars.length;) {
      let end = chars.length;
      let id: number | undefined;
      for (; end > start; end--) {
        const piece = chars.slice(start, end).join('');
        id = this.ids.get(start > 0 ? `##${piece}` : piece);
        if (id !== undefined) break;
      }
      if (id === undefined) return [this.unk];
      out.push(id);
      start = end;
    }
    return out;
  }

  /** A text's token ids without [CLS]/[SEP]. */
  tokenize(text: string): number[] {
    return this.words(text).flatMap((w) => this.pieces(w));
  }

  /** [CLS] text [SEP], the text's tokens cut to fit `maxLength` in all. */
  encode(text: string, maxLength: number): number[] {
    if (!(maxLength >= 2)) throw new RangeError('maxLength must leave room for [CLS] and [SEP]');
    return [this.cls, ...this.tokenize(text).slice(0, maxLength - 2), this.sep];
  }

  /** Encoded texts (from `encode`) as one batch, padded to the longest. */
  batch(encoded: readonly (readonly number[])[]): BatchEncoding {
    const length = Math.max(0, ...encoded.map((ids) => ids.length));
    const size = encoded.length * length;
    const inputIds = new BigInt64Array(size).fill(BigInt(this.pad));
    const mask = new BigInt64Array(size);
    encoded.forEach((ids, row) =>
      ids.forEach((id, col) => {
        inputIds[row * length + col] = BigInt(id);
        mask[row * length + col] = 1n;
      }),
    );
    return { input_ids: inputIds, attention_mask: mask, token_type_ids: new BigInt64Array(size), dims: [encoded.length, length] };
  }
}
