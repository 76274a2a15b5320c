/**
 * A query against the index: BM25 over the passages' words (FTS5) and, when the index has vectors and
 * the same model embeds the query, the nearest passages by cosine, fused by reciprocal rank (each list
 * gives 1/(60 + rank), Cormack et al. 2009's k); BM25 alone otherwise. What the user typed is never
 * FTS5 syntax: its words become quoted terms, so no input is a syntax error.
 */
import type { SearchHit, SearchResult, TextEmbedder } from '../contracts.ts';
import type { IndexStore } from './index-store.ts';

export interface SearchOptions {
  /** Hits wanted. */
  k?: number;
  embedder?: TextEmbedder;
  /** What goes around a matched word in `marked`. */
  marks?: { open: string; close: string };
}

export const MAX_K = 1000;
const RRF_K = 60;
/** Candidates taken from each list before fusing: enough that a passage second in one list and 40th in the other is seen in both. */
const CANDIDATES = 100;
/** sqlite-vec answers at most 4096 neighbours. */
const MAX_NEIGHBOURS = 4096;
/** Distinct terms used from one query: a pasted page of text still makes a query that answers quickly. */
const MAX_TERMS = 64;
/** A run of letters, digits and marks: what FTS5's unicode61 tokenizer counts as a word. */
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;
// Private-use code points around FTS5's matches, turned into offsets: a passage's text never holds them.
const OPEN = '\ue000',
  CLOSE = '\ue001';

/** Lower case without accents, as unicode61 with remove_diacritics compares words. */
const fold = (word: string) => word.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');

/**
 * The FTS5 query for what a user typed: each word a quoted term, words inside "double quotes" a
 * phrase, all joined by OR so that BM25 ranks passages with more (and rarer) of them first.
 * Undefined when the text has no word.
 */
export function ftsQuery(text: string): string | undefined {
  const terms = new Map<string, string>();
  // Odd pieces are inside quotes; the words after an unclosed quote are words like any other.
  const pieces = text.split('"');
  pieces.forEach((piece, i) => {
    const words = piece.match(WORD) ?? [];
    const phrase = i % 2 === 1 && i < pieces.length - 1 && words.length > 1;
    for (const term of phrase ? [words.join(' ')] : words) if (!terms.has(fold(term))) terms.set(fold(term), term);
  });
  const unique = [...terms.values()].slice(0, MAX_TERMS);
  return unique.length ? unique.map((t) => `"${t}"`).join(' OR ') : undefined;
}

/** The offsets of FTS5's marks in a highlighted text. */
function markedOffsets(highlighted: string): [number, number][] {
  const out: [number, number][] = [];
  let at = 0,
    start = 0;
  for (const unit of highlighted.split(/([\ue000\ue001])/)) {
    if (unit === OPEN) start = at;
    else if (unit === CLOSE) out.push([start, at]);
    else at += unit.length;
  }
  return out;
}

/** The offsets of the query's words in a passage that only the vectors found. */
function wordOffsets(text: string, query: string): [number, number][] {
  const wanted = new Set((query.match(WORD) ?? []).map(fold));
  return [...text.matchAll(WORD)].filter((m) => wanted.has(fold(m[0]))).map((m) => [m.index, m.index + m[0].length]);
}

function mark(text: string, matches: readonly [number, number][], { open, close }: { open: string; close: string }): string {
  let out = '',
    at = 0;
  for (const [start, end] of matches) {
    out += `${text.slice(at, start)}${open}${text.slice(start, end)}${close}`;
    at = end;
  }
  return out + text.slice(at);
}

interface Candidate {
  id: number;
  score: number;
  ranks: SearchHit['ranks'];
}

/** Why the query cannot use vectors, or undefined when it can. */
function vectorsUnusable(store: IndexStore, embedder: TextEmbedder | undefined): string | undefined {
  const space = store.vectorSpace();
  if (!space) return 'the index has no vectors';
  if (!embedder) return 'no embedding model is configured';
  if (space.model !== embedder.id) return `the index's vectors come from ${space.model}, the configured model is ${embedder.id}`;
  return undefined;
}

export async function search(store: IndexStore, query: string, options: SearchOptions = {}): Promise<SearchResult> {
  const { k = 10, embedder, marks = { open: '<mark>', close: '</mark>' } } = options;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new RangeError(`k must be a whole number from 1 to ${MAX_K}`);
  let reason = vectorsUnusable(store, embedder);
  const match = ftsQuery(query);
  if (!match) return { ranking: reason === undefined ? 'hybrid' : 'bm25', reason, hits: [] };
  let vector: Float32Array | undefined;
  if (reason === undefined) {
    try {
      [vector] = await embedder!.embed([query]);
    } catch (err) {
      // Words alone still answer: a cluster whose embedding workers are busy or gone degrades to BM25 and says so.
      reason = `the query could not be embedded: ${(err as Error).message}`;
    }
  }
  const ranking = vector ? 'hybrid' : 'bm25';

  const depth = vector ? Math.min(Math.max(k, CANDIDATES), MAX_NEIGHBOURS) : k;
  const text = store.matchText(match, depth);
  let candidates: Candidate[];
  if (!vector) {
    candidates = text.map((t, i) => ({ id: t.id, score: -t.bm25, ranks: { bm25: i + 1 } }));
  } else {
    const fused = new Map<number, Candidate>();
    const add = (id: number, rank: number, list: 'bm25' | 'vector') => {
      const c = fused.get(id) ?? { id, score: 0, ranks: {} };
      c.score += 1 / (RRF_K + rank);
      c.ranks[list] = rank;
      fused.set(id, c);
    };
    text.forEach((t, i) => add(t.id, i + 1, 'bm25'));
    store.nearest(vector, depth).forEach((n, i) => add(n.id, i + 1, 'vector'));
    candidates = [...fused.values()].sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
  }

  const passages = store.passages(candidates.map((c) => c.id));
  const highlighted = store.highlight(
    match,
    candidates.filter((c) => c.ranks.bm25 !== undefined).map((c) => c.id),
    OPEN,
    CLOSE,
  );
  return {
    ranking,
    reason,
    hits: candidates.flatMap((c) => {
      const p = passages.get(c.id);
      if (!p) return []; // removed by the writer between the two reads
      const marked = highlighted.get(c.id);
      const matches = marked === undefined ? wordOffsets(p.text, query) : markedOffsets(marked);
      const { id: _id, ...passage } = p;
      return [{ ...passage, marked: mark(p.text, matches, marks), matches, score: c.score, ranks: c.ranks }];
    }),
  };
}
