/** Writing JSON replies, errors included, the same way on every route. */
import type { ServerResponse } from 'node:http';
import { errorResponse } from '../broker/broker-errors.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The error as JSON with its status. A refusal that says when to come back gets `Retry-After`: its own,
 * or for 429 the rate limit's reset (X-Rate-Limit-Reset, in seconds: see RateLimitWindow).
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body, retryAfterSeconds } = errorResponse(err);
  const retryAfter = retryAfterSeconds ?? (status === 429 ? res.getHeader('X-Rate-Limit-Reset') : undefined);
  sendJson(res, status, body, retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
}
