/**
 * The batch's search index (`--index`): each document, as it finishes, goes into the index with its
 * pages and passages (chunks.ts) and, when an embedder is given, their vectors, in place of whatever
 * the index held for its path; a document that failed keeps a row saying so and no passages. What the
 * index holds tells a rerun whether a document done before still needs indexing.
 */
import type { DocumentStatus, JobResult, TextEmbedder } from '../contracts.ts';
import type { IndexCounts, IndexedPage, IndexStore } from '../search/index-store.ts';
import { chunkDocument, type ChunkOptions } from './chunks.ts';

/** A document's identity in the index: its name in the batch and its content. */
export interface IndexedFile {
  path: string;
  sha256: string;
  size: number;
}

export class BatchIndex {
  private readonly store: IndexStore;
  private readonly chunks: ChunkOptions;
  private readonly embedder: TextEmbedder | undefined;

  constructor(store: IndexStore, chunks: ChunkOptions, embedder?: TextEmbedder) {
    this.store = store;
    this.chunks = chunks;
    this.embedder = embedder;
  }

  /** Whether the index holds this content of the document, with a vector for every passage when vectors are written. */
  current(file: IndexedFile): boolean {
    const held = this.store.document(file.path);
    return held?.sha256 === file.sha256 && held.status !== 'failed' && (!this.embedder || held.vectors === held.passages);
  }

  /** A document read: its pages (those that failed with their error code), passages and vectors. */
  async put(file: IndexedFile, result: JobResult, status: DocumentStatus): Promise<void> {
    const pages = new Map<number, IndexedPage>();
    for (const e of result.metrics.errors) if (e.page >= 1) pages.set(e.page, { page_number: e.page, width: 0, height: 0, error: e.code });
    for (const p of result.results) pages.set(p.page_number, { page_number: p.page_number, width: p.width, height: p.height });
    const passages = chunkDocument(file.path, result.results, this.chunks);
    const vectors =
      this.embedder && passages.length
        ? { model: this.embedder.id, vectors: await this.embedder.embed(passages.map((p) => p.text)) }
        : undefined;
    this.store.replaceDocument(
      { ...file, pages: result.metrics.total_pages, status },
      [...pages.values()].sort((a, b) => a.page_number - b.page_number),
      passages,
      vectors,
    );
  }

  /** A document that could not be read: whatever an earlier version left is no longer its text. */
  failed(file: IndexedFile): void {
    this.store.replaceDocument({ ...file, pages: 0, status: 'failed' }, [], []);
  }

  /** Removes the documents not in `present` (their input is gone); returns their paths. */
  prune(present: ReadonlySet<string>): string[] {
    return this.store.prune(present);
  }

  /** Merges the full-text index after a run's writes and says what the index holds. */
  finish(): IndexCounts {
    this.store.optimize();
    return this.store.counts();
  }
}
