/**
 * A job's result as JSON, in pieces: the text of JSON.stringify(result), a page at a time, so the
 * whole of it is never held at once. 100 pages of big_100p come to 8 MB of JSON, and made in one
 * string, then copied into one buffer, they raised the one-process server's peak at the end of
 * the job by some 36 MB. Pages already kept as JSON text (SerializedJobResult) are written as they are.
 */
import type { JobResult, SerializedJobResult } from '../contracts.ts';

export function* jsonPieces(result: JobResult | SerializedJobResult): Generator<string> {
  let opening = '{';
  for (const [key, value] of Object.entries(result)) {
    if (key === 'results') {
      yield `${opening}"results":`;
      let separator = '[';
      for (const page of result.results) {
        yield separator + (typeof page === 'string' ? page : JSON.stringify(page));
        separator = ',';
      }
      yield separator === '[' ? '[]' : ']';
    } else {
      const written = JSON.stringify(value);
      // JSON.stringify leaves out a property whose value it cannot write (undefined).
      if (written === undefined) continue;
      yield `${opening}${JSON.stringify(key)}:${written}`;
    }
    opening = ',';
  }
  yield opening === '{' ? '{}' : '}';
}
