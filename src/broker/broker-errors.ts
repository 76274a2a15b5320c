/**
 * The boundary between the error taxonomy and the outside: OcrErrors travel between nodes as
 * MoleculerErrors (type = our code, code = HTTP status), and anything that reaches the gateway is
 * mapped here, once, to a status and a JSON body without internals.
 */
import { Errors } from 'moleculer';
import { ERROR_CODES, OcrError, isErrorCode } from '../errors.ts';
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
export async function withBrokerErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof OcrError ? toMoleculerError(err) : err;
  }
}

/** The action a "service not found / not available" error names; an OCR action when it names none. */
function missingAction(e: MoleculerErrorLike): string {
  const action = e.data?.action;
  return typeof action === 'string' ? action : 'ocr.';
}

/** Our code for each error class of Moleculer and moleculer-web (by class name: they cross nodes as plain objects). */
const MOLECULER_ERRORS: Record<string, (e: MoleculerErrorLike) => OcrError> = {
  ValidationError: (e) => new OcrError('INVALID_PARAMS', e.message ?? 'Invalid parameters'),
  RequestTimeoutError: () => new OcrError('PAGE_TIMEOUT', 'A page took longer than the worker timeout'),
  // An OCR worker missing is the common case; another service missing (the aggregator) is said so.
  ServiceNotFoundError: (e) => (missingAction(e).startsWith('ocr.') ? noWorkers() : serviceUnavailable()),
  ServiceNotAvailableError: (e) => (missingAction(e).startsWith('ocr.') ? noWorkers() : serviceUnavailable()),
  QueueIsFullError: () => new OcrError('WORKER_BUSY', 'Every OCR worker queue is full'),
  RequestRejectedError: () => new OcrError('WORKER_LOST', 'The worker reading the page left the cluster'),
  // moleculer-web's own (src/errors.js), thrown before our handlers run.
  PayloadTooLarge: (e) => new OcrError('UPLOAD_TOO_LARGE', e.message ?? 'Upload too large'),
  RateLimitExceeded: () =>
    new OcrError('RATE_LIMITED', 'Too many requests: RATE_LIMIT_PER_MINUTE reached, try again after Retry-After seconds'),
  ForbiddenError: (e) =>
    String(e.type).startsWith('ORIGIN_')
      ? new OcrError('ORIGIN_NOT_ALLOWED', 'This browser origin may not call the API (CORS_ORIGINS)')
      : new OcrError('FORBIDDEN', 'Forbidden'),
  UnAuthorizedError: () => new OcrError('UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>"'),
  NotFoundError: () => new OcrError('NOT_FOUND', 'No such route'),
  BadRequestError: () => new OcrError('BAD_REQUEST', 'The request line or its parameters could not be decoded'),
  InvalidRequestBodyError: () => new OcrError('BAD_REQUEST', 'The request body could not be parsed'),
  ServiceUnavailableError: () => serviceUnavailable(),
  InvalidResponseTypeError: () => new OcrError('INTERNAL', 'Internal error'),
};

interface MoleculerErrorLike {
  type?: unknown;
  name?: string;
  message?: string;
  data?: { page?: number; action?: unknown };
}

const noWorkers = () => new OcrError('NO_WORKERS', 'No OCR worker is available');
const serviceUnavailable = () => new OcrError('SERVICE_UNAVAILABLE', 'A service this request needs is not running in the cluster');

/** Any error, as the taxonomy sees it: known codes keep theirs, Moleculer's and moleculer-web's map to ours, the rest is INTERNAL. */
export function classifyError(err: unknown): OcrError {
  if (err instanceof OcrError) return err;
  const e = err as MoleculerErrorLike | undefined;
  const known = e?.name && Object.hasOwn(MOLECULER_ERRORS, e.name) ? MOLECULER_ERRORS[e.name] : undefined;
  if (known) return known(e!);
  if (e && isErrorCode(e.type)) return new OcrError(e.type, e.message ?? e.type, e.data?.page);
  return new OcrError('INTERNAL', 'Internal error');
}

/** A failure that says the node is broken, not the page: counted by the circuit breaker. */
export function isNodeFault(err: unknown): boolean {
  return classifyError(err).code === 'ENGINE_FAILED';
}

export function errorResponse(err: unknown): { status: number; body: ErrorBody; retryAfterSeconds?: number } {
  const e = classifyError(err);
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  if (e.page !== undefined) body.error.page = e.page;
  return {
    status: ERROR_CODES[e.code].status,
    body,
    ...(e.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: e.retryAfterSeconds }),
  };
}
