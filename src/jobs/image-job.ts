/**
 * One image as a one-page job: it waits its turn in the node's page queue like a job's page, then goes
 * to an OCR worker as the call's stream (again, with backoff, when the failure is transient), its page
 * shaped into the job contract. For `POST /ocr/image` and the REPL.
 */
import { randomUUID } from 'node:crypto';
import { recognizeWithRetries, type Caller, type PageCallPolicy } from '../broker/ocr-call.ts';
import type { PageScheduler } from '../broker/page-scheduler.ts';
import { buildJobResult } from './results.ts';
import type { JobResult, PageResult } from '../contracts.ts';

export async function ocrImageJob(
  caller: Caller,
  scheduler: PageScheduler,
  image: Uint8Array,
  filename: string,
  policy: PageCallPolicy,
  language: string | undefined,
): Promise<JobResult> {
  const start = new Date();
  const id = randomUUID();
  let read: { result?: PageResult; error?: unknown } = {};
  await scheduler.run(
    id,
    [1],
    () => recognizeWithRetries(caller, { page_number: 1, language }, image, policy),
    (run) => (read = run),
    new AbortController().signal,
  );
  if (!read.result) throw read.error;
  return buildJobResult({ job_id: id, filename, file_size_bytes: image.length, total_pages: 1, start, end: new Date() }, [read.result], []);
}
