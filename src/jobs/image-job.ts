/**
 * One image as a one-page job: sent to an OCR worker as the call's stream (again, with backoff, when
 * the failure is transient), its page shaped into the job contract. For `POST /ocr/image` and the REPL.
 */
import { randomUUID } from 'node:crypto';
import { recognizeWithRetries, type Caller, type PageCallPolicy } from '../broker/ocr-call.ts';
import { buildJobResult } from './results.ts';
import type { JobResult } from '../contracts.ts';

export async function ocrImageJob(
  caller: Caller,
  image: Uint8Array,
  filename: string,
  policy: PageCallPolicy,
  language: string | undefined,
): Promise<JobResult> {
  const start = new Date();
  const page = await recognizeWithRetries(caller, { page_number: 1, language }, image, policy);
  return buildJobResult(
    { job_id: randomUUID(), filename, file_size_bytes: image.length, total_pages: 1, start, end: new Date() },
    [page],
    [],
  );
}
