/** Builds what a client gets for a job from its page results: metrics, combined text and markdown. */
import type { JobMetrics, JobResult, JobStatus, PageError, PageResult, WorkerMetrics } from '../contracts.ts';
import { BULLET, ENUMERATOR } from '../ocr/stages/layout/blocks.ts';

export interface JobFacts {
  job_id: string;
  filename: string;
  file_size_bytes: number;
  total_pages: number;
  start: Date;
  end: Date;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export function countWords(text: string): number {
  const tokens = text.split(/\s+/).filter(Boolean);
  return tokens.length;
}

/** success when every page was read, failed when none was, partial_success in between. */
export function jobStatus(total: number, failed: number): JobStatus {
  if (failed === 0) return 'success';
  return failed >= total ? 'failed' : 'partial_success';
}

/**
 * A page's blocks in reading order as Markdown: headings as `###` headings, list items as `-` items
 * (numbered ones keep their numbers), every other paragraph as one. Running headers, footers and page
 * numbers are left out (they stay in `text`), and so is the text inside figures; a table's paragraphs are written as paragraphs.
 */
export function pageMarkdown(page: Pick<PageResult, 'blocks' | 'paragraphs'>): string {
  const out: string[] = [];
  for (const block of page.blocks) {
    if (block.type === 'header' || block.type === 'footer' || block.type === 'page_number' || block.type === 'figure') continue;
    const texts = block.paragraphs.map((p) => page.paragraphs[p]!.text);
    if (block.type === 'heading') out.push(`### ${texts.join(' ')}`);
    else if (block.type === 'list') out.push(texts.map((t) => (ENUMERATOR.test(t) ? t : `- ${t.replace(BULLET, '')}`)).join('\n'));
    else out.push(...texts);
  }
  return out.filter(Boolean).join('\n\n');
}

/** A heading per page, then its blocks in reading order; failed pages say why. */
function combinedMarkdown(pages: readonly PageSummary[], errors: readonly PageError[], totalPages: number): string {
  const byPage = new Map(pages.map((p) => [p.page_number, p]));
  const failed = new Map(errors.map((e) => [e.page, e]));
  const parts: string[] = [];
  for (let n = 1; n <= totalPages; n++) {
    const page = byPage.get(n);
    const error = failed.get(n);
    const body = page ? page.markdown : error ? `> Page ${n} could not be read (${error.code}): ${error.message}` : '';
    parts.push(body ? `## Page ${n}\n\n${body}` : `## Page ${n}`);
  }
  return parts.join('\n\n') + '\n';
}

function workerMetrics(pages: readonly PageSummary[], errors: readonly (PageError & { worker?: string })[]): Record<string, WorkerMetrics> {
  const out: Record<string, WorkerMetrics> = {};
  const get = (w: string) => (out[w] ??= { pages: 0, total_ms: 0, avg_ms: 0, errors: 0 });
  for (const p of pages) {
    const m = get(p.worker);
    m.pages += 1;
    m.total_ms = round(m.total_ms + p.total_ms, 1);
  }
  for (const e of errors) if (e.worker) get(e.worker).errors += 1;
  for (const m of Object.values(out)) m.avg_ms = m.pages ? round(m.total_ms / m.pages, 1) : 0;
  return out;
}

/**
 * What the job's metrics, combined text and Markdown need of a page. The job store keeps this beside
 * the page's JSON text, so a job's result is written without making every page an object again.
 */
export interface PageSummary {
  page_number: number;
  worker: string;
  source: PageResult['source'];
  text: string;
  markdown: string;
  /** Characters of its lines' texts. */
  line_chars: number;
  /** Each line's confidence, in order: the job's average sums them in the order the pages give. */
  line_confidences: number[];
  total_ms: number;
}

export function pageSummary(page: PageResult): PageSummary {
  return {
    page_number: page.page_number,
    worker: page.worker,
    source: page.source,
    text: page.text,
    markdown: pageMarkdown(page),
    line_chars: page.lines.reduce((s, l) => s + l.text.length, 0),
    line_confidences: page.lines.map((l) => l.confidence),
    total_ms: page.timings.total_ms,
  };
}

/**
 * A job's result without its pages: the metrics, combined text and Markdown made from the summaries of
 * its pages, given in page order.
 */
export function jobOutline(facts: JobFacts, pages: readonly PageSummary[], errors: readonly PageError[]): Omit<JobResult, 'results'> {
  const confidences = pages.flatMap((p) => p.line_confidences);
  const rounds: Record<string, number> = {};
  for (const p of pages) if (p.source === 'ocr') rounds[p.worker] = (rounds[p.worker] ?? 0) + 1;
  const duration = facts.end.getTime() - facts.start.getTime();
  const sortedErrors = [...errors].sort((a, b) => a.page - b.page).map(({ page, code, message }) => ({ page, code, message }));
  const metrics: JobMetrics = {
    job_id: facts.job_id,
    filename: facts.filename,
    total_pages: facts.total_pages,
    pages_processed: pages.length,
    pages_failed: sortedErrors.length,
    total_words: pages.reduce((s, p) => s + countWords(p.text), 0),
    total_chars: pages.reduce((s, p) => s + p.line_chars, 0),
    total_lines: confidences.length,
    avg_confidence: confidences.length ? round(confidences.reduce((s, c) => s + c, 0) / confidences.length, 4) : 0,
    start_time: facts.start.toISOString(),
    end_time: facts.end.toISOString(),
    total_duration_ms: duration,
    avg_page_time_ms: pages.length ? round(pages.reduce((s, p) => s + p.total_ms, 0) / pages.length, 1) : 0,
    file_size_bytes: facts.file_size_bytes,
    file_size_mb: round(facts.file_size_bytes / (1024 * 1024), 3),
    ocr_rounds_per_worker: rounds,
    worker_metrics: workerMetrics(
      pages.filter((p) => p.source === 'ocr'),
      errors,
    ),
    text_layer_pages: pages.filter((p) => p.source === 'text_layer').map((p) => p.page_number),
    status: jobStatus(facts.total_pages, sortedErrors.length),
    errors: sortedErrors,
  };
  return {
    metrics,
    // Page texts in page order, separated by form feeds (the shape of pdftotext and OCRmyPDF sidecars).
    combined_text: pages.map((p) => p.text).join('\f'),
    combined_markdown: combinedMarkdown(pages, sortedErrors, facts.total_pages),
  };
}

export function buildJobResult(facts: JobFacts, unordered: readonly PageResult[], errors: readonly PageError[]): JobResult {
  const pages = [...unordered].sort((a, b) => a.page_number - b.page_number);
  const { metrics, combined_text, combined_markdown } = jobOutline(facts, pages.map(pageSummary), errors);
  return { metrics, results: pages, combined_text, combined_markdown };
}
