/** `GET /search`'s query string: `q`, the words (required), and `k`, the hits wanted (1 to 1000, default 10). */
import { OcrError } from '../errors.ts';
import { MAX_K } from '../search/search.ts';

export interface SearchQuery {
  q: string;
  k: number;
}

export function parseSearchQuery(params: Record<string, string | undefined>): SearchQuery {
  const q = (params.q ?? '').trim();
  if (!q) throw new OcrError('MISSING_QUERY', 'Give the words to search for: GET /search?q=words');
  const k = params.k === undefined ? 10 : Number(params.k);
  if (!/^\d+$/.test(params.k ?? '10') || k < 1 || k > MAX_K) {
    throw new OcrError('INVALID_QUERY', `k must be a whole number from 1 to ${MAX_K}, got "${params.k}"`);
  }
  return { q, k };
}
