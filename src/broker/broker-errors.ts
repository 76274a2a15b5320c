/**
 * The boundary between the error taxonomy and the outside: OcrErrors travel between nodes as
 * MoleculerErrors (type = our code, code = HTTP status), and anything that reaches the gateway is
 * mapped here, once, to a status and a JSON body without internals.
 */
import { Errors } from 'moleculer';
import { ERROR_CODES, OcrError, isErrorCode, type ErrorCode } from '../errors.ts';
import type { ErrorBody } from '../contracts.ts';

/** An OcrError as Moleculer carries it between nodes (its retry policy reads `retryable`). */
export function toMoleculerError(err: OcrError): Errors.MoleculerError {
  const Kind = err.retryable ? Errors.MoleculerRetryableError : Errors.MoleculerError;
  return new Kind(err.message, err.status, err.code, err.page === undefined ? undefined : { page: err.page });
}

/** Whether trying again, possibly on another node, can help. */
export function isRetryable(err: unknown): boolean {
  return classifyError(err).retryable;
}

/** Runs `fn`, turning a thrown OcrError into its Moleculer form. */
export async function withBrokerErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof OcrError ? toMoleculerError(err) : err;
  }
}

/** Any error, as the taxonomy sees it: known codes keep theirs, Moleculer's own map to ours. */
export function classifyError(err: unknown): OcrError {
  if (err instanceof OcrError) return err;
  const e = err as { type?: unknown; name?: string; message?: string; data?: { page?: number } } | undefined;
  if (e && isErrorCode(e.type)) return new OcrError(e.type, e.message ?? e.type, e.data?.page);
  const byName: Record<string, [ErrorCode, string]> = {
    ValidationError: ['INVALID_PARAMS', e?.message ?? 'Invalid parameters'],
    RequestTimeoutError: ['PAGE_TIMEOUT', 'A page took longer than the worker timeout'],
    ServiceNotFoundError: ['NO_WORKERS', 'No OCR worker is available'],
    ServiceNotAvailableError: ['NO_WORKERS', 'No OCR worker is available'],
    QueueIsFullError: ['WORKER_BUSY', 'Every OCR worker queue is full'],
    RequestRejectedError: ['WORKER_LOST', 'The worker reading the page left the cluster'],
    PayloadTooLarge: ['UPLOAD_TOO_LARGE', e?.message ?? 'Upload too large'],
    RateLimitExceeded: ['RATE_LIMITED', 'Too many requests: RATE_LIMIT_PER_MINUTE reached, try again within a minute'],
  };
  const known = e?.name ? byName[e.name] : undefined;
  if (known) return new OcrError(known[0], known[1]);
  return new OcrError('INTERNAL', 'Internal error');
}

/** A failure that says the node is broken, not the page: counted by the circuit breaker. */
export function isNodeFault(err: unknown): boolean {
  return classifyError(err).code === 'ENGINE_FAILED';
}

export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  const e = classifyError(err);
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  if (e.page !== undefined) body.error.page = e.page;
  return { status: ERROR_CODES[e.code].status, body };
}
