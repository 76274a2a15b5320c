/** Service-level settings from the environment: one place, documented in README's Configuration. */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { positiveNumber } from './env.ts';
import type { RetryPolicy } from '../broker/retry.ts';

export interface Settings {
  /** HTTP port of the gateway. */
  port: number;
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Most pixels a page image may have (checked from its header before decoding). */
  maxPixels: number;
  /** How long one page may take on a worker, in ms. */
  pageTimeoutMs: number;
  /** Concurrent pages per worker node. */
  ocrConcurrency: number;
  /** Pages waiting per worker node beyond the running ones. */
  ocrQueueSize: number;
  /** Most pages a PDF may have (read from the document before any rendering). */
  maxPages: number;
  /** Default, lowest and highest rendering resolution of PDF pages. */
  dpi: number;
  minDpi: number;
  maxDpi: number;
  /** Where uploads are written while their job runs. */
  tempDir: string;
  /** How long finished jobs are kept, in ms. */
  jobTtlMs: number;
  /** Longest a job may run, in ms: its unstarted pages then fail JOB_TIMEOUT. */
  jobTimeoutMs: number;
  /** Pages of one job in flight at once (rendered or being read). */
  jobWindow: number;
  /** Retries of a page that failed for a transient reason, and the first backoff in ms. */
  retry: RetryPolicy;
  /** Limits of the child process that parses and renders one PDF. */
  pdfLimits: { memoryMb: number; deadlineMs: number };
  /** Limits of the worker's child process that decodes uploaded images. */
  decodeLimits: { memoryMb: number; deadlineMs: number };
}

/**
 * Pages one process reads at once, each by an engine of its own. A cluster node reads one (capacity
 * grows by starting more processes, each ~550 MB); the one-process server has no other workers, so it
 * runs one single-threaded engine per core, up to 4 (~200 MB each): measured on 2 cores, 2 x 1 thread
 * read 12 pages in 18.6 s where 1 x 2 threads took 27.0 s.
 */
function defaultEngines(env: NodeJS.ProcessEnv): number {
  return env.TRANSPORTER ? 1 : Math.min(4, availableParallelism());
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    port: Math.floor(positiveNumber(env, 'COORDINATOR_PORT', 8000)),
    maxUploadBytes: Math.floor(positiveNumber(env, 'MAX_UPLOAD_MB', 100) * 1024 * 1024),
    maxPixels: Math.floor(positiveNumber(env, 'MAX_PIXELS', 100_000_000)),
    pageTimeoutMs: Math.floor(positiveNumber(env, 'WORKER_REQUEST_TIMEOUT', 120) * 1000),
    ocrConcurrency: Math.floor(positiveNumber(env, 'OCR_CONCURRENCY', defaultEngines(env))),
    ocrQueueSize: Math.floor(positiveNumber(env, 'OCR_QUEUE_SIZE', 100)),
    maxPages: Math.floor(positiveNumber(env, 'MAX_PAGES', 2000)),
    dpi: Math.floor(positiveNumber(env, 'DEFAULT_DPI', 200)),
    minDpi: 72,
    maxDpi: 600,
    tempDir: env.TEMP_DIR || join(tmpdir(), 'ocr-cluster'),
    jobTtlMs: Math.floor(positiveNumber(env, 'JOB_TTL_SECONDS', 3600) * 1000),
    jobTimeoutMs: Math.min(2 ** 31 - 1, Math.floor(positiveNumber(env, 'JOB_TIMEOUT', 21600) * 1000)), // setTimeout's limit
    jobWindow: Math.floor(positiveNumber(env, 'JOB_WINDOW', 4)),
    pdfLimits: { memoryMb: positiveNumber(env, 'PDF_MEMORY_MB', 2048), deadlineMs: positiveNumber(env, 'PDF_RENDER_TIMEOUT', 60) * 1000 },
    // A decoded page is at most MAX_PIXELS x 3 bytes; the cap leaves room for the decoder's own buffers.
    decodeLimits: { memoryMb: positiveNumber(env, 'DECODE_MEMORY_MB', 2048), deadlineMs: positiveNumber(env, 'DECODE_TIMEOUT', 60) * 1000 },
    retry: { retries: env.MAX_RETRIES === '0' ? 0 : Math.floor(positiveNumber(env, 'MAX_RETRIES', 3)), delayMs: positiveNumber(env, 'RETRY_DELAY_SECONDS', 1) * 1000 },
  };
}
