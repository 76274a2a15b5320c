/**
 * Who may call the API: optional API keys (`Authorization: Bearer <key>`), a request budget per key
 * (or per address without one), and the browser origins allowed by CORS. Plain functions over the
 * request, used by the gateway's route settings.
 */
import type { IncomingMessage } from 'node:http';
import { OcrError } from '../errors.ts';

export interface AccessSettings {
  /** Empty: the API is open. */
  apiKeys: ReadonlySet<string>;
  /** Requests per minute per key or address; 0: no limit. */
  rateLimitPerMinute: number;
  /** Allowed browser origins (`*` for any); empty: no CORS headers. */
  corsOrigins: string[];
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** Throws UNAUTHORIZED unless keys are off or the request carries one of them. */
export function checkApiKey(req: IncomingMessage, access: AccessSettings): void {
  if (access.apiKeys.size === 0) return;
  const token = bearerToken(req);
  if (token === undefined) throw new OcrError('UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>"');
  if (!access.apiKeys.has(token)) throw new OcrError('UNAUTHORIZED', 'Unknown API key');
}

/** The rate limit's bucket: the caller's valid key, else its address (an invalid key gets no bucket of its own). */
export function rateLimitKey(req: IncomingMessage, access: AccessSettings): string {
  const token = bearerToken(req);
  if (token !== undefined && access.apiKeys.has(token)) return `key:${token}`;
  return `addr:${req.socket.remoteAddress ?? 'unknown'}`;
}
