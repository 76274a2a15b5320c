/**
 * A file on this node's disk as a job: a PDF through this node's rasterizer and an aggregator (this
 * node's when it runs one, as the batch does; else the cluster's, as for the REPL), the cluster's
 * workers reading its pages; an image as a one-page job. Used by the REPL's `ocr <file>` and by
 * `ocr-cluster batch`; the reply is the `/ocr/pdf` contract.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ServiceBroker } from 'moleculer';
import { OcrError } from '../errors.ts';
import { ocrImageJob } from './image-job.ts';
import { checkLanguage } from '../broker/languages.ts';
import { deadStart } from './job-journal.ts';
import { readHead, sniffMedia } from './media.ts';
import type { PageCallPolicy } from '../broker/ocr-call.ts';
import type { JobOptions, JobProgress, JobResult, ResultParams, SubmitParams } from '../contracts.ts';

export interface FileJobLimits {
  maxUploadBytes: number;
  /** Where a PDF is copied for the rasterizer (under `files/`), which deletes the copy when the job ends. */
  tempDir: string;
  pageCalls: PageCallPolicy;
}

/** Copies left by dead processes (killed between the copy and their job), removed once per process and TEMP_DIR. */
const swept = new Map<string, Promise<void>>();

/**
 * Where this process copies its files: `files/<pid>-<instance>/` in TEMP_DIR, as the job journal names
 * its folders, so that what a killed process left is found and removed by the next.
 */
async function copiesFolder(broker: ServiceBroker, tempDir: string): Promise<string> {
  const root = join(tempDir, 'files');
  const name = `${process.pid}-${broker.instanceID}`;
  let sweep = swept.get(root);
  if (!sweep) {
    sweep = (async () => {
      const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
      for (const e of entries)
        if (e.isDirectory() && e.name !== name && deadStart(e.name)) await rm(join(root, e.name), { recursive: true, force: true });
    })();
    swept.set(root, sweep);
  }
  await sweep;
  await mkdir(join(root, name), { recursive: true });
  return join(root, name);
}

/** The aggregator a file job goes to: the balancer keeps it on this node when this node runs one. */
function aggregatorNode(broker: ServiceBroker): string {
  const endpoint = broker.findNextActionEndpoint('aggregator.submit');
  if (endpoint instanceof Error) throw new OcrError('SERVICE_UNAVAILABLE', 'No aggregator is running in the cluster to run the job');
  return endpoint.id;
}

/** `started`, when given, hears of the job once it is queued (the REPL follows its progress events). */
export async function ocrFileJob(
  broker: ServiceBroker,
  path: string,
  options: JobOptions,
  limits: FileJobLimits,
  started?: (job: JobProgress) => void,
): Promise<JobResult> {
  const { size } = await stat(path);
  if (size === 0) throw new OcrError('EMPTY_UPLOAD', 'The file is empty');
  if (size > limits.maxUploadBytes)
    throw new OcrError('UPLOAD_TOO_LARGE', `The file is larger than MAX_UPLOAD_MB (${limits.maxUploadBytes / 1048576} MB)`);
  const kind = sniffMedia(await readHead(path));
  if (kind === 'pdf') {
    // The rasterizer deletes its copy when the job ends; the user's file stays.
    const copy = join(await copiesFolder(broker, limits.tempDir), `${randomUUID()}.upload`);
    await copyFile(path, copy);
    const aggregator = { nodeID: aggregatorNode(broker) };
    // The caller writes any other output from its own file: the copy need not outlive the job.
    const params: SubmitParams = {
      path: copy,
      node_id: broker.nodeID,
      filename: basename(path),
      file_size_bytes: size,
      ...options,
      output: 'json',
      pdfa: false,
      keep_upload: false,
    };
    // A document that cannot be opened has no job to delete the copy when it ends.
    const job = await broker.call<JobProgress, SubmitParams>('aggregator.submit', params, aggregator).catch(async (err: unknown) => {
      await rm(copy, { force: true });
      throw err;
    });
    started?.(job);
    return broker.call<JobResult, ResultParams>('aggregator.result', { id: job.job_id, wait: true }, { ...aggregator, timeout: 0 });
  }
  if (kind === undefined) throw new OcrError('UNSUPPORTED_MEDIA', 'Not a PDF, PNG, JPEG, WebP or TIFF file');
  checkLanguage(broker, options.language);
  return ocrImageJob(broker, broker, await readFile(path), basename(path), limits.pageCalls, options.language);
}
