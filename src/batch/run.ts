/**
 * `ocr-cluster batch`: every document of a folder or list through the OCR, a bounded number in
 * flight, each result written atomically in every format asked for with a manifest line, and
 * documents already done (same content hash, every output present) skipped, so a run stopped
 * anywhere picks up where it left off. With a search index, each document goes into it as it
 * finishes, before its manifest line. The OCR, the output writer and the index are passed in (a broker's
 * `ocrFileJob`, an IsolatedOutputWriter and a BatchIndex in the CLI), so this module runs no services or processes.
 */
import { access, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { classifyError } from '../broker/broker-errors.ts';
import type { DocumentStatus, JobResult, ManifestEntry, OutputFormat } from '../contracts.ts';
import { chunkDocument, type ChunkOptions } from './chunks.ts';
import { listCorpus, sha256File, type CorpusFile, type CorpusFilter } from './corpus.ts';
import type { BatchIndex, IndexedFile } from './indexing.ts';
import {
  appendManifest,
  CHUNKS,
  CHUNKS_SUFFIX,
  loadManifest,
  outputPath,
  removeOutputs,
  removeTemporaries,
  writeAtomic,
} from './outputs.ts';

export interface BatchOptions {
  input: string;
  outDir: string;
  filter: CorpusFilter;
  /** Documents in flight at once. */
  concurrency: number;
  /** Redo documents already done. */
  force: boolean;
  /** Stop taking documents after the first one that fails. */
  failFast: boolean;
  /** Write `<name>.chunks.jsonl` per document and `chunks.jsonl` for the corpus. */
  chunks?: ChunkOptions;
  /** The files written per document (`--formats`): json, txt, md, pdf (searchable), hocr, alto. */
  formats: readonly OutputFormat[];
  /** Remove from the index the documents not in the input any more (`--prune`). */
  prune?: boolean;
}

/** What the batch is handed: the OCR of a document, and the writer of its result in a format (the PDF from the document's file). */
export interface BatchWork {
  ocr: (path: string) => Promise<JobResult>;
  write: (format: OutputFormat, path: string, result: JobResult) => Promise<string | Uint8Array>;
  /** The search index documents go into as they finish (`--index`). */
  index?: BatchIndex;
}

export interface BatchSummary {
  documents: { total: number; done: number; skipped: number; failed: number; not_started: number };
  pages: { done: number; failed: number; skipped: number };
  duration_s: number;
  pages_per_minute: number;
  pages_per_worker: Record<string, number>;
  /** What the search index holds after the run, and the documents pruned from it. */
  index?: { documents: number; passages: number; vectors: number; pruned: number };
}

/** What the progress display hears about. */
export type BatchEvent =
  | { type: 'listed'; total: number }
  | { type: 'pruned'; paths: string[] }
  | { type: 'document'; entry: ManifestEntry; skipped: boolean; summary: BatchSummary };

function exists(path: string): Promise<boolean> {
  return new Promise((r) => access(path, (err) => r(!err)));
}

function documentStatus(result: JobResult): DocumentStatus {
  const s = result.metrics.status;
  return s === 'success' || s === 'partial_success' ? s : 'failed';
}

export class Batch {
  private stopping = false;
  private readonly started = performance.now();
  readonly summary: BatchSummary = {
    documents: { total: 0, done: 0, skipped: 0, failed: 0, not_started: 0 },
    pages: { done: 0, failed: 0, skipped: 0 },
    duration_s: 0,
    pages_per_minute: 0,
    pages_per_worker: {},
  };

  private readonly options: BatchOptions;
  private readonly work: BatchWork;
  private readonly report: (event: BatchEvent) => void;

  constructor(options: BatchOptions, work: BatchWork, report: (event: BatchEvent) => void = () => {}) {
    this.options = options;
    this.work = work;
    this.report = report;
  }

  /** Takes no new documents; those in flight finish. */
  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<BatchSummary> {
    const { outDir, concurrency } = this.options;
    await mkdir(outDir, { recursive: true });
    await removeTemporaries(outDir);
    const manifest = await loadManifest(outDir);
    // Names only (not contents), so the display can show a total and an ETA.
    const files: CorpusFile[] = [];
    for await (const file of listCorpus(this.options.input, this.options.filter, outDir)) files.push(file);
    this.summary.documents.total = files.length;
    this.report({ type: 'listed', total: files.length });
    const { index } = this.work;
    const pruned = index && this.options.prune ? index.prune(new Set(files.map((f) => f.name))) : [];
    if (pruned.length) this.report({ type: 'pruned', paths: pruned });

    const finished = new Set<string>();
    let next = 0;
    const runner = async () => {
      while (!this.stopping && next < files.length) {
        const file = files[next++]!;
        if (await this.document(file, manifest.get(file.name))) finished.add(file.name);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, runner));
    this.summary.documents.not_started = files.length - next;
    if (this.options.chunks) await this.writeCorpusChunks(files.map((f) => f.name).filter((n) => finished.has(n)));
    if (index) this.summary.index = { ...index.finish(), pruned: pruned.length };
    return this.tick();
  }

  private tick(): BatchSummary {
    const s = this.summary;
    s.duration_s = Math.round((performance.now() - this.started) / 100) / 10;
    s.pages_per_minute = s.duration_s > 0 ? Math.round((s.pages.done / s.duration_s) * 600) / 10 : 0;
    return s;
  }

  /** One document; true when it has outputs (done now or before). */
  private async document(file: CorpusFile, previous: ManifestEntry | undefined): Promise<boolean> {
    const { outDir, force } = this.options;
    const t0 = performance.now();
    const base: IndexedFile = { path: file.name, size: 0, sha256: '' };
    const { index } = this.work;
    try {
      base.size = (await stat(file.path)).size;
      base.sha256 = await sha256File(file.path);
    } catch (err) {
      index?.failed(base);
      return this.finish(
        {
          ...base,
          pages: 0,
          pages_failed: 0,
          status: 'failed',
          duration_ms: 0,
          finished_at: new Date().toISOString(),
          error: { code: 'FILE_UNREADABLE', message: (err as Error).message },
        },
        false,
      );
    }
    if (!force && previous?.status === 'success' && previous.sha256 === base.sha256 && (await this.completed(file, base))) {
      this.summary.pages.skipped += previous.pages;
      return this.finish(previous, true);
    }
    let entry: ManifestEntry;
    try {
      const result = await this.work.ocr(file.path);
      const status = documentStatus(result);
      const m = result.metrics;
      entry = {
        ...base,
        pages: m.total_pages,
        pages_failed: m.pages_failed,
        status,
        duration_ms: Math.round(performance.now() - t0),
        finished_at: new Date().toISOString(),
      };
      if (status === 'failed') {
        const first = m.errors[0];
        entry.error = first ? { code: first.code, message: first.message } : { code: 'INTERNAL', message: 'No page could be read' };
        await removeOutputs(outDir, file.name);
        index?.failed(base);
      } else {
        await this.writeOutputs(file, result, this.options.formats);
        await index?.put(base, result, status);
        entry.output = file.name;
        for (const [worker, pages] of Object.entries(m.ocr_rounds_per_worker))
          this.summary.pages_per_worker[worker] = (this.summary.pages_per_worker[worker] ?? 0) + pages;
      }
      this.summary.pages.done += m.pages_processed;
      this.summary.pages.failed += m.pages_failed;
    } catch (err) {
      const e = classifyError(err);
      entry = {
        ...base,
        pages: 0,
        pages_failed: 0,
        status: 'failed',
        duration_ms: Math.round(performance.now() - t0),
        finished_at: new Date().toISOString(),
        error: { code: e.code, message: e.message },
      };
      await removeOutputs(outDir, file.name);
      index?.failed(base);
    }
    await appendManifest(outDir, entry);
    return this.finish(entry, false);
  }

  private finish(entry: ManifestEntry, skipped: boolean): boolean {
    const docs = this.summary.documents;
    if (skipped) docs.skipped += 1;
    else if (entry.status === 'failed') docs.failed += 1;
    else docs.done += 1;
    if (entry.status === 'failed' && this.options.failFast) this.stop();
    this.report({ type: 'document', entry, skipped, summary: this.tick() });
    return entry.status !== 'failed';
  }

  /**
   * Whether a document done before has every output asked for now, and is in the index. Those missing
   * (a run with fewer `--formats`, without `--chunks` or without `--index`) are written from the
   * `.json` it has, without reading it again.
   */
  private async completed(file: CorpusFile, base: IndexedFile): Promise<boolean> {
    const { outDir, formats, chunks } = this.options;
    const { index } = this.work;
    const missing: OutputFormat[] = [];
    for (const format of formats) if (!(await exists(outputPath(outDir, file.name, format)))) missing.push(format);
    const indexed = !index || index.current(base);
    if (missing.length === 0 && indexed && !(chunks && !(await exists(join(outDir, file.name + CHUNKS_SUFFIX))))) return true;
    const json = outputPath(outDir, file.name, 'json');
    if (!(await exists(json))) return false;
    try {
      const result = JSON.parse(await readFile(json, 'utf8')) as JobResult;
      await this.writeOutputs(file, result, missing);
      if (!indexed) await index.put(base, result, 'success');
      return true;
    } catch {
      return false; // read again, and the error recorded, as any document's
    }
  }

  /** A document's outputs in `formats`; the `.json` last. */
  private async writeOutputs(file: CorpusFile, result: JobResult, formats: readonly OutputFormat[]): Promise<void> {
    const { outDir } = this.options;
    for (const format of formats.filter((f) => f !== 'json')) {
      await writeAtomic(outputPath(outDir, file.name, format), await this.work.write(format, file.path, result));
    }
    await this.writeChunks(file.name, result);
    if (formats.includes('json')) await writeAtomic(outputPath(outDir, file.name, 'json'), JSON.stringify(result));
  }

  private async writeChunks(name: string, result: JobResult): Promise<void> {
    if (!this.options.chunks) return;
    const chunks = chunkDocument(name, result.results, this.options.chunks);
    await writeAtomic(join(this.options.outDir, name + CHUNKS_SUFFIX), chunks.map((c) => `${JSON.stringify(c)}\n`).join(''));
  }

  /** `chunks.jsonl`: the chunks of every document done, in corpus order, one document at a time. */
  private async writeCorpusChunks(names: string[]): Promise<void> {
    const path = join(this.options.outDir, CHUNKS);
    const temp = `${path}.partial-${process.pid}`;
    const out = createWriteStream(temp);
    for (const name of names) {
      const text = await readFile(join(this.options.outDir, name + CHUNKS_SUFFIX), 'utf8').catch(() => '');
      if (!out.write(text)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await rename(temp, path);
  }
}
