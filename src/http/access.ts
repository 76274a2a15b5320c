/**
 * Who may call the API: optional API keys (`Authorization: Bearer <key>`), a request budget per key
 * (or per address without one), and the browser origins allowed by CORS. Plain functions over the
 * request, used by the gateway's route settings.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OcrError } from '../errors.ts';
import type { ApiCaller } from '../contracts.ts';

export interface AccessSettings {
  /** Keys that see their own jobs. Empty (and no admin keys): the API is open. */
  apiKeys: ReadonlySet<string>;
  /** Keys that see every job. */
  adminKeys: ReadonlySet<string>;
  /** Requests per minute per key or address; 0: no limit. */
  rateLimitPerMinute: number;
  /** Allowed browser origins (`*` for any); empty: no CORS headers. */
  corsOrigins: string[];
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** What a job records as its owner: a hash of the key, so the key itself is never stored or sent on. */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/**
 * The caller's key, or undefined when keys are off (every caller then sees every job). Throws
 * UNAUTHORIZED when keys are on and the request carries none of them.
 */
export function checkApiKey(req: IncomingMessage, access: AccessSettings): ApiCaller | undefined {
  if (access.apiKeys.size === 0 && access.adminKeys.size === 0) return undefined;
  const token = bearerToken(req);
  if (token === undefined) throw new OcrError('UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>"');
  const admin = access.adminKeys.has(token);
  if (!admin && !access.apiKeys.has(token)) throw new OcrError('UNAUTHORIZED', 'Unknown API key');
  return { key: keyFingerprint(token), admin };
}

/**
 * Browsers send `Origin` on a page's own POST and DELETE requests too, and moleculer-web holds every
 * request with an Origin to CORS_ORIGINS: the web page at `/` calling its own server would be refused.
 * A request whose Origin names the host it is sent to is not cross-origin: its Origin is dropped
 * before the CORS check (a middleware, run before it).
 */
export function sameOriginIsNotCors(req: IncomingMessage, _res: ServerResponse, next: () => void): void {
  const { origin, host } = req.headers;
  if (origin && host && URL.canParse(origin) && new URL(origin).host === host) delete req.headers.origin;
  next();
}

/** The rate limit's bucket: the caller's valid key, else its address (an invalid key gets no bucket of its own). */
export function rateLimitKey(req: IncomingMessage, access: AccessSettings): string {
  const token = bearerToken(req);
  if (token !== undefined && (access.apiKeys.has(token) || access.adminKeys.has(token))) return `key:${keyFingerprint(token)}`;
  return `addr:${req.socket.remoteAddress ?? 'unknown'}`;
}

/**
 * moleculer-web's rate-limit store (its `StoreFactory`) with the reset in seconds: moleculer-web sends
 * `resetTime` as X-Rate-Limit-Reset, and its own store gives epoch milliseconds there. 429 answers also
 * carry it as Retry-After (src/http/reply.ts).
 */
export class RateLimitWindow {
  private readonly hits = new Map<string, number>();
  private resetAt: number;

  constructor(windowMs: number) {
    this.resetAt = Date.now() + windowMs;
    setInterval(() => {
      this.resetAt = Date.now() + windowMs;
      this.hits.clear();
    }, windowMs).unref();
  }

  /** Whole seconds until the budgets start again, at least 1. */
  get resetTime(): number {
    return Math.max(1, Math.ceil((this.resetAt - Date.now()) / 1000));
  }

  inc(key: string): number {
    const count = (this.hits.get(key) ?? 0) + 1;
    this.hits.set(key, count);
    return count;
  }
}
