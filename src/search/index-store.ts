/**
 * The search index: one SQLite file (node:sqlite) with the documents read, their pages, their passages
 * (text, page numbers, paragraph boxes), a full-text index over the passages (FTS5, BM25 ranking) and,
 * once an embedding model has been used, the passages' vectors (sqlite-vec's vec0).
 *
 * Writes go through one connection, a document at a time, in one transaction: a document read again
 * replaces all its rows or none, so a writer killed at any point leaves each document as it was before
 * or after. WAL lets readers (search) go on while the writer writes.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import * as sqliteVec from 'sqlite-vec';
import type { DocumentStatus, TextChunk } from '../contracts.ts';

export interface IndexedDocument {
  /** The input file, relative to the batch's input folder: a document's identity in the index. */
  path: string;
  sha256: string;
  size: number;
  pages: number;
  status: DocumentStatus;
}

export interface IndexedPage {
  page_number: number;
  /** Pixels of the page image the passages' boxes refer to. */
  width: number;
  height: number;
  /** The error code of a page that could not be read (it has no passages). */
  error?: string;
}

/** The vectors of a document's passages, one per passage in order, from the model `model` names. */
export interface PassageVectors {
  model: string;
  vectors: readonly Float32Array[];
}

/** The model whose vectors an index holds: vectors of another model are not comparable. */
export interface VectorSpace {
  model: string;
  dimensions: number;
}

/** A passage as the index holds it: a TextChunk under the index's own id, with the pixel size of its pages (the frame of its boxes). */
export interface Passage extends Omit<TextChunk, 'chunk_id'> {
  id: number;
  page_sizes: { page: number; width: number; height: number }[];
}

/** What the index holds of a document: enough to tell whether it is current. */
export interface IndexedState extends IndexedDocument {
  indexed_at: string;
  passages: number;
  /** Its passages that have a vector. */
  vectors: number;
}

export interface IndexCounts {
  documents: number;
  pages: number;
  passages: number;
  vectors: number;
}

const SCHEMA_VERSION = 1;

// unicode61 folds case across Unicode and splits at Unicode separators and punctuation, not only ASCII;
// remove_diacritics 2 makes "resume" find "résumé" (OCR drops and invents accents). No stemmer: porter
// is English-only and the archives are not; the vectors are what finds other forms of a word.
const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  pages INTEGER NOT NULL,
  status TEXT NOT NULL,
  indexed_at TEXT NOT NULL
);
CREATE TABLE pages (
  document_id INTEGER NOT NULL REFERENCES documents(id),
  page_number INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  error TEXT,
  PRIMARY KEY (document_id, page_number)
) WITHOUT ROWID;
CREATE TABLE passages (
  id INTEGER PRIMARY KEY,
  document_id INTEGER NOT NULL REFERENCES documents(id),
  chunk_index INTEGER NOT NULL,
  text TEXT NOT NULL,
  pages TEXT NOT NULL,
  boxes TEXT NOT NULL,
  UNIQUE (document_id, chunk_index)
);
CREATE VIRTUAL TABLE passage_text USING fts5(text, content = 'passages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER passage_text_insert AFTER INSERT ON passages BEGIN
  INSERT INTO passage_text (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER passage_text_delete AFTER DELETE ON passages BEGIN
  INSERT INTO passage_text (passage_text, rowid, text) VALUES ('delete', old.id, old.text);
END;
PRAGMA user_version = ${SCHEMA_VERSION};
`;

// A type alias, not an interface: a row of node:sqlite (a string-keyed record) converts to it.
type PassageRow = {
  id: number;
  document: string;
  chunk_index: number;
  text: string;
  pages: string;
  boxes: string;
  page_sizes: string;
};

export class IndexStore {
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync) {
    this.db = db;
  }

  /** Opens (a writer creates) the index at `path`. A reader (`readOnly`) never blocks the writer. */
  static open(path: string, { readOnly = false }: { readOnly?: boolean } = {}): IndexStore {
    const db = new DatabaseSync(path, { readOnly, allowExtension: true });
    try {
      db.loadExtension(sqliteVec.getLoadablePath());
      db.enableLoadExtension(false);
      // Wait for the other connection's lock rather than fail at once.
      db.exec('PRAGMA busy_timeout = 10000');
      // kNN reads every vector on every query: mapped pages and a 64 MB cache took it from 24.5 to 16.8 ms
      // (p50, 10,000 vectors of 384 dimensions, this 2-core EPYC while busy).
      db.exec('PRAGMA mmap_size = 268435456; PRAGMA cache_size = -65536');
      if (!readOnly) {
        db.exec('PRAGMA journal_mode = WAL');
        // In WAL mode NORMAL is safe from corruption; a power cut may lose the last documents, which a rerun redoes.
        db.exec('PRAGMA synchronous = NORMAL');
      }
      const version = () => Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
      if (!readOnly) {
        // Looked at under the write lock, so two writers opening a new file do not both create it.
        db.exec('BEGIN IMMEDIATE');
        if (version() === 0) db.exec(SCHEMA);
        db.exec('COMMIT');
      }
      if (version() !== SCHEMA_VERSION) {
        throw new Error(`${path} is not a search index of this version (schema ${version()}, expected ${SCHEMA_VERSION})`);
      }
      return new IndexStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.db.close();
  }

  private statement(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private transaction<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private meta(key: string): string | undefined {
    return (this.statement('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  /** The model the index's vectors come from, once vectors have been written. */
  vectorSpace(): VectorSpace | undefined {
    const model = this.meta('vector_model');
    return model === undefined ? undefined : { model, dimensions: Number(this.meta('vector_dimensions')) };
  }

  /** The first vectors written fix the model and dimensions; vectors of any other model are refused. */
  private checkVectors({ model, vectors }: PassageVectors, passages: number): void {
    if (vectors.length !== passages) throw new Error(`${vectors.length} vectors for ${passages} passages`);
    const dimensions = vectors[0]?.length ?? 0;
    if (vectors.some((v) => v.length !== dimensions)) throw new Error('The vectors of a document differ in length');
    const space = this.vectorSpace();
    if (!space) {
      if (dimensions === 0) return;
      this.db.exec(`CREATE VIRTUAL TABLE passage_vectors USING vec0(embedding float[${dimensions}] distance_metric=cosine)`);
      this.statement("INSERT INTO meta (key, value) VALUES ('vector_model', ?), ('vector_dimensions', ?)").run(model, String(dimensions));
    } else if (space.model !== model || (dimensions && space.dimensions !== dimensions)) {
      throw new Error(
        `The index holds vectors of ${space.model} (${space.dimensions} dimensions), not of ${model} (${dimensions}): ` +
          'vectors of two models cannot be compared; index into a new file or use that model',
      );
    }
  }

  private deleteRows(documentId: number): void {
    if (this.vectorSpace()) {
      const ids = this.statement('SELECT id FROM passages WHERE document_id = ?').all(documentId) as { id: number }[];
      const remove = this.statement('DELETE FROM passage_vectors WHERE rowid = ?');
      for (const { id } of ids) remove.run(BigInt(id));
    }
    this.statement('DELETE FROM passages WHERE document_id = ?').run(documentId);
    this.statement('DELETE FROM pages WHERE document_id = ?').run(documentId);
  }

  /**
   * Puts a document in the index with its pages and passages (from batch/chunks.ts) and, when an
   * embedding model is configured, their vectors, in place of whatever the index had for its path.
   */
  replaceDocument(doc: IndexedDocument, pages: readonly IndexedPage[], passages: readonly TextChunk[], vectors?: PassageVectors): void {
    const foreign = passages.find((p) => p.document !== doc.path);
    if (foreign) throw new Error(`Passage ${foreign.chunk_id} is not of ${doc.path}`);
    this.transaction(() => {
      if (vectors) this.checkVectors(vectors, passages.length);
      const { id } = this.statement(
        `
        INSERT INTO documents (path, sha256, size, pages, status, indexed_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, pages = excluded.pages,
          status = excluded.status, indexed_at = excluded.indexed_at
        RETURNING id`,
      ).get(doc.path, doc.sha256, doc.size, doc.pages, doc.status, new Date().toISOString()) as { id: number };
      this.deleteRows(id);
      const addPage = this.statement('INSERT INTO pages (document_id, page_number, width, height, error) VALUES (?, ?, ?, ?, ?)');
      for (const p of pages) addPage.run(id, p.page_number, p.width, p.height, p.error ?? null);
      const addPassage = this.statement(
        'INSERT INTO passages (document_id, chunk_index, text, pages, boxes) VALUES (?, ?, ?, ?, ?) RETURNING id',
      );
      const addVector = vectors?.vectors.length
        ? this.statement('INSERT INTO passage_vectors (rowid, embedding) VALUES (?, ?)')
        : undefined;
      passages.forEach((p, i) => {
        const row = addPassage.get(id, p.chunk_index, p.text, JSON.stringify(p.pages), JSON.stringify(p.boxes)) as { id: number };
        addVector?.run(BigInt(row.id), vectors!.vectors[i]!);
      });
    });
  }

  /** What the index holds of a document, to skip one that has not changed since. */
  document(path: string): IndexedState | undefined {
    const vectors = this.vectorSpace()
      ? '(SELECT count(*) FROM passages p WHERE p.document_id = d.id AND p.id IN (SELECT rowid FROM passage_vectors))'
      : '0';
    return this.statement(
      `SELECT path, sha256, size, pages, status, indexed_at, (SELECT count(*) FROM passages p WHERE p.document_id = d.id) AS passages,
        ${vectors} AS vectors FROM documents d WHERE path = ?`,
    ).get(path) as IndexedState | undefined;
  }

  /** Removes the documents whose path is not in `present` (their input is gone); returns their paths. */
  prune(present: ReadonlySet<string>): string[] {
    return this.transaction(() => {
      const gone = (this.statement('SELECT id, path FROM documents ORDER BY path').all() as { id: number; path: string }[]).filter(
        (d) => !present.has(d.path),
      );
      for (const d of gone) {
        this.deleteRows(d.id);
        this.statement('DELETE FROM documents WHERE id = ?').run(d.id);
      }
      return gone.map((d) => d.path);
    });
  }

  counts(): IndexCounts {
    const count = (table: string) => Number((this.statement(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
    return {
      documents: count('documents'),
      pages: count('pages'),
      passages: count('passages'),
      vectors: this.vectorSpace() ? count('passage_vectors') : 0,
    };
  }

  /**
   * Passages matching an FTS5 query, best BM25 first (FTS5's bm25() is lower for better matches).
   * `query` is FTS5 syntax: search.ts builds it from what the user typed.
   */
  matchText(query: string, limit: number): { id: number; bm25: number }[] {
    return this.statement(
      'SELECT rowid AS id, bm25(passage_text) AS bm25 FROM passage_text WHERE passage_text MATCH ? ORDER BY bm25 LIMIT ?',
    ).all(query, limit) as { id: number; bm25: number }[];
  }

  /**
   * The text of the given passages that match `query`, the matched words between `open` and `close`.
   * Asked for the hits shown only: highlighting every BM25 candidate cost 2 ms a query more.
   */
  highlight(query: string, ids: readonly number[], open: string, close: string): Map<number, string> {
    const rows = this.statement(
      `
      SELECT rowid AS id, highlight(passage_text, 0, ?, ?) AS marked FROM passage_text
      WHERE passage_text MATCH ? AND rowid IN (SELECT value FROM json_each(?))`,
    ).all(open, close, query, JSON.stringify(ids)) as { id: number; marked: string }[];
    return new Map(rows.map((r) => [r.id, r.marked]));
  }

  /** The passages nearest to a vector of the index's model, by cosine distance (0 = same direction). */
  nearest(vector: Float32Array, limit: number): { id: number; distance: number }[] {
    if (!this.vectorSpace()) return [];
    return this.statement('SELECT rowid AS id, distance FROM passage_vectors WHERE embedding MATCH ? AND k = ? ORDER BY distance').all(
      vector,
      limit,
    ) as { id: number; distance: number }[];
  }

  passages(ids: readonly number[]): Map<number, Passage> {
    const rows = this.statement(
      `
      SELECT p.id, d.path AS document, p.chunk_index, p.text, p.pages, p.boxes,
        (SELECT json_group_array(json_object('page', g.page_number, 'width', g.width, 'height', g.height)) FROM pages g
          WHERE g.document_id = p.document_id AND g.page_number IN (SELECT value FROM json_each(p.pages))) AS page_sizes
      FROM passages p JOIN documents d ON d.id = p.document_id
      WHERE p.id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(ids)) as PassageRow[];
    return new Map(
      rows.map((r) => [
        r.id,
        {
          ...r,
          pages: JSON.parse(r.pages) as number[],
          boxes: JSON.parse(r.boxes) as Passage['boxes'],
          page_sizes: JSON.parse(r.page_sizes) as Passage['page_sizes'],
        },
      ]),
    );
  }

  /** Merges the full-text index's segments (faster queries after many writes) and updates the planner's statistics. */
  optimize(): void {
    this.db.exec("INSERT INTO passage_text (passage_text) VALUES ('optimize'); PRAGMA optimize;");
  }
}
