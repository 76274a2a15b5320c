/**
 * One image as a one-page job: it waits its turn in the node's page queue like a job's page, then goes
 * to an OCR worker as the call's stream (again, with backoff, when the failure is transient), its page
 * shaped into the job contract. For `POST /ocr/image` and the REPL.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceBroker } from 'moleculer';
import { recognizeWithRetries, type Caller, type PageCallPolicy } from '../broker/ocr-call.ts';
import { pageScheduler } from '../broker/page-scheduler.ts';
import { buildJobResult } from './results.ts';
import type { JobResult } from '../contracts.ts';

/** `caller` makes the call (the request's Context, so it joins its trace); `broker` is its node. */
export async function ocrImageJob(
  caller: Caller,
  broker: ServiceBroker,
  image: Uint8Array,
  filename: string,
  policy: PageCallPolicy,
  language: string | undefined,
): Promise<JobResult> {
  const start = new Date();
  const page = await pageScheduler(broker).one(() => recognizeWithRetries(caller, broker, { page_number: 1, language }, image, policy));
  return buildJobResult(
    { job_id: randomUUID(), filename, file_size_bytes: image.length, total_pages: 1, start, end: new Date() },
    [page],
    [],
  );
}
