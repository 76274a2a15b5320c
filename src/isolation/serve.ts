/** The child side of IsolatedProcess: answers each request with `handler` until the parent disconnects. */
import { OcrError, type ErrorCode } from '../errors.ts';

export type ChildReply =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { code: string; message: string; page?: number } };

/** Errors that are not OcrErrors are reported as `fallback` (the parser's generic failure). */
export function serve<T extends { id: number }>(
  handler: (request: T) => Promise<unknown>,
  fallback: ErrorCode,
  fallbackMessage: string,
): void {
  const answer = async (request: T) => {
    let reply: ChildReply;
    try {
      reply = { id: request.id, ok: true, value: await handler(request) };
    } catch (err) {
      const e = err instanceof OcrError ? err : new OcrError(fallback, fallbackMessage);
      reply = { id: request.id, ok: false, error: { code: e.code, message: e.message, page: e.page } };
    }
    process.send!(reply);
  };
  process.on('message', (request: T) => void answer(request));
  process.on('disconnect', () => process.exit(0));
}
