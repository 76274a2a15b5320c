/**
 * `ocr-cluster search "<query>" --index <file>`: the passages of an index written by `ocr-cluster
 * batch --index`, best first. With EMBED_MODEL (the model of the index's vectors) the query is embedded
 * in this process and the ranking is hybrid; otherwise BM25.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import type { SearchReply } from '../contracts.ts';
import { Embedder } from '../search/embedder.ts';
import { IndexStore } from '../search/index-store.ts';
import { MAX_K, search } from '../search/search.ts';
import { usageError } from './usage.ts';

export const SEARCH_USAGE = `usage: ocr-cluster search "<query>" --index <file> [--k <n>] [--json]

  --index <file>   the index ocr-cluster batch --index wrote (required)
  --k <n>          hits to show, 1 to ${MAX_K} (default 10)
  --json           print the hits as GET /search answers them: document, pages, text, marked text,
                   score, ranks, the paragraph boxes and the pixel size of their pages

Words in "double quotes" are a phrase. With EMBED_MODEL and EMBED_VOCAB set to the model the index's
vectors came from, the query is embedded here and passages are ranked by words and meaning (BM25 and
vectors, reciprocal rank fusion); otherwise by words (BM25).
Exit status: 0 when something was found, 1 when nothing was, 2 for bad arguments or an index that cannot be opened.`;

function fail(message: string): never {
  usageError(message, SEARCH_USAGE);
}

/** Hits for a person: where each is, then its text with the query's words marked (bold on a terminal). */
function printHits(reply: SearchReply): void {
  const how = reply.ranking === 'hybrid' ? 'ranked by words and vectors' : `ranked by words (${reply.reason})`;
  console.log(`${reply.hits.length} ${reply.hits.length === 1 ? 'hit' : 'hits'} for "${reply.query}", ${how}\n`);
  reply.hits.forEach((hit, i) => {
    const pages = hit.pages.length === 1 ? `page ${hit.pages[0]}` : `pages ${hit.pages.join(', ')}`;
    console.log(`${i + 1}. ${hit.document}, ${pages}  (score ${hit.score.toPrecision(4)})`);
    console.log(`${hit.marked.replace(/^/gm, '   ')}\n`);
  });
}

export async function searchCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { index: { type: 'string' }, k: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(SEARCH_USAGE);
    return 0;
  }
  const query = positionals.join(' ').trim();
  if (!query) fail('give the words to search for');
  if (!values.index) fail('--index is required');
  const k = values.k === undefined ? 10 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) fail(`--k must be a whole number from 1 to ${MAX_K}`);
  const config = loadConfig(process.env);
  let store: IndexStore;
  try {
    store = IndexStore.open(resolve(values.index), { readOnly: true });
  } catch (err) {
    fail(`--index: ${(err as Error).message}`);
  }
  // Loaded only when the index has vectors to compare the query with.
  const embedder = config.embed && store.vectorSpace() ? await Embedder.load(config.embed) : undefined;
  try {
    const bold = process.stdout.isTTY ? { open: '\x1b[1m', close: '\x1b[22m' } : { open: '**', close: '**' };
    const result = await search(store, query, { k, embedder, marks: values.json ? undefined : bold });
    const reply: SearchReply = { query, k, ...result };
    if (values.json) console.log(JSON.stringify(reply, null, 2));
    else printHits(reply);
    return reply.hits.length ? 0 : 1;
  } finally {
    await embedder?.close();
    store.close();
  }
}
