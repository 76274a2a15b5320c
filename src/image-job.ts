/**
 * One image as a one-page job: sent to an OCR worker as the call's stream (again, with backoff, when
 * the failure is transient), its page shaped into the job contract. For `POST /ocr/image` and the REPL.
 */
import { randomUUID } from 'node:crypto';
import type { CallingOptions } from 'moleculer';
import { isRetryable } from './broker-errors.ts';
import { buildJobResult } from './results.ts';
import { withRetries } from './retry.ts';
import type { Settings } from './settings.ts';
import { streamOf } from './streams.ts';
import type { JobResult, PageResult } from './types.ts';

/** `ctx.call` or `broker.call`. */
export type Call = (action: string, params: object, opts: CallingOptions) => Promise<unknown>;

export async function ocrImageJob(call: Call, image: Uint8Array, filename: string, settings: Settings): Promise<JobResult> {
  const start = new Date();
  const page = await withRetries(
    () => call('ocr.recognize', { page_number: 1 }, { stream: streamOf(image), timeout: settings.pageTimeoutMs }) as Promise<PageResult>,
    settings.retry,
    isRetryable,
  );
  return buildJobResult({ job_id: randomUUID(), filename, file_size_bytes: image.length, total_pages: 1, start, end: new Date() }, [page], []);
}
