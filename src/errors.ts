/**
 * The one error taxonomy. Every failure a client can see has a stable code, an HTTP status and
 * whether trying again (elsewhere) can help. Plain TypeScript: the pipeline throws these, and the
 * Moleculer boundary (src/broker/broker-errors.ts) carries them between nodes and maps them to HTTP.
 */

export const ERROR_CODES = {
  MISSING_FILE: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  // A browser origin not in CORS_ORIGINS.
  ORIGIN_NOT_ALLOWED: { status: 403, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  // A request line or parameter that cannot be decoded (bad percent-encoding).
  BAD_REQUEST: { status: 400, retryable: false },
  RATE_LIMITED: { status: 429, retryable: false },
  EMPTY_UPLOAD: { status: 400, retryable: false },
  // More text fields than a form may have (20), or more than the one file.
  TOO_MANY_FIELDS: { status: 400, retryable: false },
  TOO_MANY_FILES: { status: 400, retryable: false },
  // No byte of the upload for UPLOAD_IDLE_TIMEOUT seconds.
  UPLOAD_TIMEOUT: { status: 408, retryable: false },
  INVALID_PARAMS: { status: 422, retryable: false },
  // A `language` no OCR worker of the cluster reads (the message lists those they do).
  UNSUPPORTED_LANGUAGE: { status: 422, retryable: false },
  // GET /search without a query (no `q`, or only blanks), or with a `k` that is not a whole number from 1 to 1000.
  MISSING_QUERY: { status: 400, retryable: false },
  INVALID_QUERY: { status: 400, retryable: false },
  // GET /search on a gateway started without SEARCH_INDEX.
  SEARCH_NOT_CONFIGURED: { status: 404, retryable: false },
  UPLOAD_TOO_LARGE: { status: 413, retryable: false },
  IMAGE_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA: { status: 415, retryable: false },
  IMAGE_UNREADABLE: { status: 422, retryable: false },
  NOT_A_PDF: { status: 415, retryable: false },
  PDF_ENCRYPTED: { status: 422, retryable: false },
  PDF_UNREADABLE: { status: 422, retryable: false },
  // PDF/A was asked for and the input has what PDF/A forbids (the message lists it).
  PDFA_UNSUPPORTED: { status: 422, retryable: false },
  PAGE_UNREADABLE: { status: 422, retryable: false },
  TOO_MANY_PAGES: { status: 413, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  JOB_NOT_FINISHED: { status: 409, retryable: false },
  PAGE_TIMEOUT: { status: 504, retryable: true },
  JOB_TIMEOUT: { status: 504, retryable: false },
  JOB_INTERRUPTED: { status: 503, retryable: false },
  NO_WORKERS: { status: 503, retryable: true },
  // This node's queue holds more pages than MAX_QUEUED_PAGES (or jobs than MAX_QUEUED_JOBS): refused up front, with Retry-After.
  BUSY: { status: 503, retryable: false },
  // A worker's own queue is full: not retried, as pages are only sent where a worker has room (src/broker/page-scheduler.ts).
  WORKER_BUSY: { status: 503, retryable: false },
  WORKER_LOST: { status: 503, retryable: true },
  // MAX_CONCURRENT_UPLOADS uploads are being read by this node already (with Retry-After).
  TOO_MANY_UPLOADS: { status: 503, retryable: true },
  // A service other than the OCR workers (the aggregator) is not running in the cluster.
  SERVICE_UNAVAILABLE: { status: 503, retryable: true },
  // SEARCH_INDEX names a file that cannot be opened as a search index (not written yet, or not an index).
  SEARCH_UNAVAILABLE: { status: 503, retryable: false },
  // The worker's engine threw on a page: another node may read it (a broken node's circuit opens).
  ENGINE_FAILED: { status: 500, retryable: true },
  INTERNAL: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export class OcrError extends Error {
  readonly code: ErrorCode;
  readonly page: number | undefined;
  /** When to try again, for refusals that say so (the client's `Retry-After`). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, page?: number, retryAfterSeconds?: number) {
    super(message);
    this.name = 'OcrError';
    this.code = code;
    this.page = page;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
}
