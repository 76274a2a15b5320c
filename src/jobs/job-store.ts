/**
 * Job state owned by the aggregator: what each job is, its page results as they arrive (in any order),
 * its progress, and its final result. Finished jobs are kept for a while, then forgotten.
 */
import { randomUUID } from 'node:crypto';
import { OcrError } from '../errors.ts';
import { jobOutline, jobStatus, pageSummary, type PageSummary } from './results.ts';
import type {
  ApiCaller,
  JobProgress,
  JobResult,
  JobStatus,
  OpenedDocument,
  OutputOptions,
  PageError,
  PageResult,
  SerializedJobResult,
} from '../contracts.ts';

export interface JobSpec extends OutputOptions {
  filename: string;
  file_size_bytes: number;
  total_pages: number;
  /** The fingerprint of the API key that created the job; none when API keys are off. */
  owner?: string;
}

/**
 * A page read, kept as its JSON text until asked for: as objects a page of big_100p takes some 320 KB
 * of the aggregator's heap (words, boxes, points), as text 84 KB, and the garbage collector walks every
 * object each time it marks (measured: the one-process server's heap grew 0.27 MB a page of a job, and
 * each of its 35 full collections in a 100-page job marked it all). Written once, read when a page is
 * asked for; the job's result is written from the texts and the pages' summaries (the words and
 * confidences the metrics count), so its end does not make every page an object again at once.
 */
interface StoredPage {
  page_number: number;
  json: string;
  summary: PageSummary;
}

const pageAsText = (page: PageResult): StoredPage => ({
  page_number: page.page_number,
  json: JSON.stringify(page),
  summary: pageSummary(page),
});

interface Job {
  id: string;
  spec: JobSpec;
  /** The document its rasterizer opened, which keeps the images of the pages read. */
  document?: OpenedDocument;
  status: JobStatus;
  start: Date;
  end?: Date;
  results: StoredPage[];
  errors: (PageError & { worker?: string })[];
  controller: AbortController;
  /** Stopped at JOB_TIMEOUT: its unstarted pages fail JOB_TIMEOUT (not a cancel). */
  timedOut?: boolean;
  error?: { code: string; message: string };
  ended: Promise<void>;
  markEnded: () => void;
}

const FINAL: readonly JobStatus[] = ['success', 'partial_success', 'failed', 'cancelled'];

function visibleTo(job: Job, caller: ApiCaller | null | undefined): boolean {
  return !caller || caller.admin || job.spec.owner === caller.key;
}

export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly ttlMs: number;

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  create(spec: JobSpec, id: string = randomUUID(), start = new Date()): { id: string; signal: AbortSignal } {
    let markEnded!: () => void;
    const ended = new Promise<void>((r) => (markEnded = r));
    const job: Job = { id, spec, status: 'queued', start, results: [], errors: [], controller: new AbortController(), ended, markEnded };
    this.jobs.set(job.id, job);
    return { id: job.id, signal: job.controller.signal };
  }

  /** A job a previous process of this node was running when it died: failed, every page with the reason. */
  interrupted(id: string, spec: JobSpec, start: Date): void {
    this.create(spec, id, start);
    const job = this.job(id);
    job.error = { code: 'JOB_INTERRUPTED', message: 'The server restarted while this job ran; its pages were lost: submit the file again' };
    for (let page = 1; page <= spec.total_pages; page++) job.errors.push({ page, ...job.error });
    job.status = 'failed';
    job.end = new Date();
    job.markEnded();
  }

  /**
   * The job, if `caller` may see it: no caller (keys off, or this node itself), an admin key, or the key
   * that created it. Another key's job is NOT_FOUND, as if it did not exist.
   */
  private job(id: string, caller?: ApiCaller | null): Job {
    const job = this.jobs.get(id);
    if (!job || !visibleTo(job, caller)) throw new OcrError('NOT_FOUND', `No job ${id} (finished jobs are kept for a limited time)`);
    return job;
  }

  opened(id: string, document: OpenedDocument): void {
    this.job(id).document = document;
  }

  /** Page `page` of the job once it was read. */
  page(id: string, page: number, caller?: ApiCaller | null): PageResult {
    return JSON.parse(this.storedPage(this.job(id, caller), page).json) as PageResult;
  }

  /** The document that keeps the image of page `page`, once the page was read (its text is not parsed). */
  pageDocument(id: string, page: number, caller?: ApiCaller | null): OpenedDocument | undefined {
    const job = this.job(id, caller);
    this.storedPage(job, page);
    return job.document;
  }

  /** Page `page` of `job` as stored; NOT_FOUND until it was read. */
  private storedPage(job: Job, page: number): StoredPage {
    const stored = job.results.find((r) => r.page_number === page);
    if (!stored) {
      const why = page > job.spec.total_pages ? `the job has ${job.spec.total_pages} pages` : 'it has not been read (yet), or it failed';
      throw new OcrError('NOT_FOUND', `No page ${page} in job ${job.id}: ${why}`);
    }
    return stored;
  }

  started(id: string): void {
    const job = this.job(id);
    if (job.status === 'queued') job.status = 'running';
  }

  addPage(id: string, page: PageResult): void {
    this.job(id).results.push(pageAsText(page));
  }

  addError(id: string, error: PageError & { worker?: string }): void {
    this.job(id).errors.push(error);
  }

  /** Stops a job at its time limit: pages not yet started are never run, and fail JOB_TIMEOUT. */
  expire(id: string, limitSeconds: number): void {
    const job = this.job(id);
    if (FINAL.includes(job.status)) return;
    job.timedOut = true;
    job.error = { code: 'JOB_TIMEOUT', message: `The job took longer than ${limitSeconds} s (JOB_TIMEOUT)` };
    job.controller.abort();
  }

  /** Ends the job: cancelled if it was cancelled, else by how many pages failed. */
  finish(id: string): JobProgress {
    const job = this.job(id);
    if (!FINAL.includes(job.status)) {
      if (job.timedOut && job.error) {
        const seen = new Set([...job.results.map((r) => r.page_number), ...job.errors.map((e) => e.page)]);
        for (let page = 1; page <= job.spec.total_pages; page++) if (!seen.has(page)) job.errors.push({ page, ...job.error });
      }
      const unread = job.spec.total_pages - job.results.length - job.errors.length;
      job.status = job.controller.signal.aborted && !job.timedOut ? 'cancelled' : jobStatus(job.spec.total_pages, job.errors.length);
      if (unread > 0 && job.status !== 'cancelled') job.status = 'failed';
    }
    job.end ??= new Date();
    job.markEnded();
    return this.progress(id);
  }

  /** Stops a job: pages not yet started are never run. */
  cancel(id: string, caller?: ApiCaller | null): JobProgress {
    const job = this.job(id, caller);
    if (!FINAL.includes(job.status)) job.controller.abort();
    return this.progress(id);
  }

  progress(id: string, caller?: ApiCaller | null): JobProgress {
    const job = this.job(id, caller);
    return {
      job_id: job.id,
      status: job.status,
      filename: job.spec.filename,
      output: job.spec.output,
      total_pages: job.spec.total_pages,
      pages_done: job.results.length,
      pages_failed: job.errors.length,
      finished: FINAL.includes(job.status),
      ...(job.error ? { error: job.error } : {}),
    };
  }

  /** The job's options, as submitted. */
  spec(id: string): JobSpec {
    return this.job(id).spec;
  }

  /** Forgets a job that has ended (a running one must be cancelled first): false when it has not ended. */
  remove(id: string): boolean {
    if (!this.job(id).end) return false;
    return this.jobs.delete(id);
  }

  /** Resolves when the job has ended. */
  ended(id: string, caller?: ApiCaller | null): Promise<void> {
    return this.job(id, caller).ended;
  }

  /** The finished job's result, its pages as the JSON text they are kept in; JOB_NOT_FINISHED before it ends. */
  serializedResult(id: string, caller?: ApiCaller | null): SerializedJobResult {
    const job = this.job(id, caller);
    if (!job.end)
      throw new OcrError(
        'JOB_NOT_FINISHED',
        `Job ${id} is ${job.status}: ${job.results.length + job.errors.length} of ${job.spec.total_pages} pages done`,
      );
    const pages = [...job.results].sort((a, b) => a.page_number - b.page_number);
    const { metrics, combined_text, combined_markdown } = jobOutline(
      this.facts(job, job.end),
      pages.map((p) => p.summary),
      job.errors,
    );
    metrics.status = job.status;
    return { metrics, results: pages.map((p) => p.json), combined_text, combined_markdown };
  }

  /** The finished job's result, its pages as objects; JOB_NOT_FINISHED before it ends. */
  result(id: string, caller?: ApiCaller | null): JobResult {
    const { metrics, results, combined_text, combined_markdown } = this.serializedResult(id, caller);
    return { metrics, results: results.map((json) => JSON.parse(json) as PageResult), combined_text, combined_markdown };
  }

  /** Forgets jobs that ended more than the TTL ago; returns their ids. */
  sweep(now = Date.now()): string[] {
    const gone: string[] = [];
    for (const [id, job] of this.jobs) {
      if (job.end && now - job.end.getTime() > this.ttlMs) {
        this.jobs.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  /** How many jobs are held in each status. */
  statusCounts(): Map<JobStatus, number> {
    const counts = new Map<JobStatus, number>();
    for (const { status } of this.jobs.values()) counts.set(status, (counts.get(status) ?? 0) + 1);
    return counts;
  }

  /** The jobs `caller` may see. */
  list(caller?: ApiCaller | null): JobProgress[] {
    return [...this.jobs.values()].filter((job) => visibleTo(job, caller)).map((job) => this.progress(job.id));
  }

  private facts(job: Job, end: Date) {
    return {
      job_id: job.id,
      filename: job.spec.filename,
      file_size_bytes: job.spec.file_size_bytes,
      total_pages: job.spec.total_pages,
      start: job.start,
      end,
    };
  }
}
