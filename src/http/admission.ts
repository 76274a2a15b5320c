/**
 * Refusing work up front, before its upload is read or stored: a synchronous request (`POST /ocr/pdf`,
 * `POST /ocr/image`) while this node's page queue holds more than MAX_QUEUED_PAGES pages, and any new
 * job (`POST /jobs` too) while it holds MAX_QUEUED_JOBS jobs. The answer is 503 BUSY with a
 * Retry-After from the queue's recent pace. `POST /jobs` is the way to queue big work: it is not
 * refused for the pages already waiting, only for the number of jobs.
 */
import type { PageScheduler } from '../broker/page-scheduler.ts';
import { OcrError } from '../errors.ts';

export interface AdmissionLimits {
  maxQueuedPages: number;
  maxQueuedJobs: number;
}

export function admit(scheduler: PageScheduler, limits: AdmissionLimits, kind: 'sync' | 'job'): void {
  const jobs = scheduler.activeJobs;
  if (jobs >= limits.maxQueuedJobs) {
    throw new OcrError(
      'BUSY',
      `${jobs} jobs are waiting or running, the limit of this server (MAX_QUEUED_JOBS): try again later`,
      undefined,
      scheduler.drainSeconds(scheduler.queuedPages),
    );
  }
  const pages = scheduler.queuedPages;
  if (kind === 'sync' && pages >= limits.maxQueuedPages) {
    throw new OcrError(
      'BUSY',
      `${pages} pages are waiting, the limit of this server (MAX_QUEUED_PAGES): try again later, or queue the file with POST /jobs`,
      undefined,
      scheduler.drainSeconds(pages - limits.maxQueuedPages + 1),
    );
  }
}
