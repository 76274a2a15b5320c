/** Writing replies the same way on every route: JSON (errors included) and files to download. */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorResponse } from '../broker/broker-errors.ts';

/** What a connection answered before its body was read still takes, and drops, before it is closed. */
const LINGER = { ms: 2000, bytes: 1024 * 1024 };

/**
 * Closes the connection of an answer given before the request's body was read to its end (a refused
 * upload), instead of reading the rest of the body to keep the connection alive. Node closes a
 * `Connection: close` answer's socket with destroySoon(), at once; a client still sending the body
 * then fails writing (EPIPE) before it reads the answer. So the close lingers as web servers' does: our
 * side is ended, and what the client still sends is dropped for a moment (LINGER), then the socket goes.
 */
function closeWhenAnswered(res: ServerResponse): void {
  const { socket, req } = res;
  if (!socket) return;
  socket.destroySoon = () => {
    socket.end();
    let dropped = 0;
    const close = () => socket.destroy();
    const timer = setTimeout(close, LINGER.ms).unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', close);
    req.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > LINGER.bytes) close();
    });
    req.resume();
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const unread = res.req && !res.req.complete;
  if (unread) closeWhenAnswered(res);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...(unread ? { Connection: 'close' } : {}), ...headers });
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

/** The name as plain ASCII and, when it is not, as UTF-8 too (RFC 6266). */
function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return ascii === filename
    ? `${type}; filename="${ascii}"`
    : `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * A file, 200: text, bytes or a stream (a stream that breaks midway cuts the reply short). `inline`
 * for what clients read as the API's answer (JSON), `attachment` for a file to save.
 */
export interface SentFile {
  mediaType: string;
  name: string;
  disposition: 'inline' | 'attachment';
}

export async function sendFile(res: ServerResponse, body: string | Uint8Array | Readable, file: SentFile): Promise<void> {
  res.writeHead(200, { 'Content-Type': file.mediaType, 'Content-Disposition': contentDisposition(file.disposition, file.name) });
  if (body instanceof Readable) await pipeline(body, res);
  else res.end(body);
}
