/** A job is never silently lost: a gateway that dies mid-job reports it after restarting; a job stops at JOB_TIMEOUT. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobProgress, JobResult } from '../../src/contracts.ts';
import { freePort, startServer, stopProcess } from '../../harness/processes.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startNode } from '../../src/bin/node.ts';
import { buildPdf } from '../helpers/pdf.ts';

let tempDir: string;
let pdf: Buffer;
/** Enough pages that no machine reads them all within the test's JOB_TIMEOUT of 2 s. */
let longPdf: Buffer;

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'job-limits-'));
  pdf = await buildPdf(
    Array.from({ length: 12 }, (_, i) => ({ lines: [`Job limits page ${i + 1}`, 'with a second line of text to read'] })),
  );
  longPdf = await buildPdf(
    Array.from({ length: 60 }, (_, i) => ({ lines: [`Job limits page ${i + 1}`, 'with a second line of text to read'] })),
  );
});
afterAll(() => rm(tempDir, { recursive: true, force: true }));

const server = (env: Record<string, string> = {}) => startServer({ TEMP_DIR: tempDir, ...env });

async function submit(base: string, headers: Record<string, string> = {}, file = pdf): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(file)]), 'limits.pdf');
  const res = await fetch(`${base}/jobs`, { method: 'POST', body, headers });
  assert.equal(res.status, 202);
  return ((await res.json()) as JobProgress).job_id;
}

/** Starts a server up to the first page of a job, kills it, and returns the job id. */
async function killMidJob(env: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<string> {
  const first = await server(env);
  const id = await submit(first.base, headers);
  while (((await (await fetch(`${first.base}/jobs/${id}`, { headers })).json()) as JobProgress).pages_done < 1)
    await new Promise((r) => setTimeout(r, 100));
  await stopProcess(first.server, 'SIGKILL');
  return id;
}

test('a job whose server is killed mid-job is reported failed with JOB_INTERRUPTED after the restart', async () => {
  const id = await killMidJob();
  const second = await server();
  try {
    const progress = (await (await fetch(`${second.base}/jobs/${id}`)).json()) as JobProgress;
    assert.equal(progress.status, 'failed');
    assert.equal(progress.finished, true);
    assert.equal(progress.error?.code, 'JOB_INTERRUPTED');
    const result = (await (await fetch(`${second.base}/jobs/${id}/result`)).json()) as JobResult;
    assert.equal(result.metrics.status, 'failed');
    assert.equal(result.metrics.pages_failed, 12);
    assert.ok(result.metrics.errors.every((e) => e.code === 'JOB_INTERRUPTED'));
    expect((await readdir(tempDir)).filter((f) => f.endsWith('.upload'))).toEqual([]); // the dead job's upload was removed
  } finally {
    await stopProcess(second.server);
  }
  expect(await readdir(join(tempDir, 'jobs'))).toEqual([]); // a clean stop leaves no empty journal folder behind
});

test("a restart that gets the dead node's pid (pid 1 in a container) still reports its jobs JOB_INTERRUPTED and removes their uploads", async () => {
  const keys = { API_KEYS: 'alice-key,bob-key' };
  const alice = { authorization: 'Bearer alice-key' };
  const id = await killMidJob(keys, alice);
  // The dead start's journal, renamed as if that process had had this test process's pid.
  const [dead] = await readdir(join(tempDir, 'jobs'));
  assert.ok(dead);
  await rename(join(tempDir, 'jobs', dead), join(tempDir, 'jobs', dead.replace(/^\d+/, String(process.pid))));
  const port = await freePort();
  const broker = await startNode(
    loadConfig({
      ...keys,
      SERVICES: 'gateway,aggregator',
      TEMP_DIR: tempDir,
      COORDINATOR_PORT: String(port),
      COORDINATOR_HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
    }),
  );
  try {
    const res = await fetch(`http://127.0.0.1:${port}/jobs/${id}`, { headers: alice });
    assert.equal(res.status, 200);
    assert.equal(
      (await fetch(`http://127.0.0.1:${port}/jobs/${id}`, { headers: { authorization: 'Bearer bob-key' } })).status,
      404,
      "the interrupted job is still its key's",
    );
    const progress = (await res.json()) as JobProgress;
    assert.equal(progress.status, 'failed');
    assert.equal(progress.error?.code, 'JOB_INTERRUPTED');
    expect((await readdir(tempDir)).filter((f) => f.endsWith('.upload'))).toEqual([]); // the dead job's upload was removed
  } finally {
    await broker.stop();
  }
});

test("a finished job's upload, kept for its searchable PDF, is removed when the server restarts after a crash", async () => {
  const first = await server();
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(pdf)]), 'kept.pdf');
  body.append('text_layer', 'auto');
  const res = await fetch(`${first.base}/ocr/pdf`, { method: 'POST', body });
  assert.equal(res.status, 200);
  assert.equal((await readdir(tempDir)).filter((f) => f.endsWith('.upload')).length, 1, 'kept while the job is');
  await stopProcess(first.server, 'SIGKILL');
  const second = await server();
  try {
    expect((await readdir(tempDir)).filter((f) => f.endsWith('.upload'))).toEqual([]); // removed after the crash
  } finally {
    await stopProcess(second.server);
  }
});

test('a job stops at JOB_TIMEOUT: pages read so far are kept, the rest fail JOB_TIMEOUT', async () => {
  const { server: child, base } = await server({ JOB_TIMEOUT: '2' });
  try {
    const t0 = performance.now();
    const id = await submit(base, {}, longPdf);
    while (!((await (await fetch(`${base}/jobs/${id}`)).json()) as JobProgress).finished) await new Promise((r) => setTimeout(r, 100));
    const result = (await (await fetch(`${base}/jobs/${id}/result`)).json()) as JobResult;
    const seconds = (performance.now() - t0) / 1000;
    const m = result.metrics;
    console.log(
      `JOB_TIMEOUT=2: ended ${m.status} after ${seconds.toFixed(1)} s with ${m.pages_processed} pages read, ${m.pages_failed} failed`,
    );
    assert.ok(m.pages_processed >= 1 && m.pages_processed < 60, JSON.stringify(m));
    assert.equal(m.status, 'partial_success');
    assert.equal(m.pages_processed + m.pages_failed, 60);
    assert.ok(m.errors.every((e) => e.code === 'JOB_TIMEOUT'));
    assert.equal(((await (await fetch(`${base}/jobs/${id}`)).json()) as JobProgress).error?.code, 'JOB_TIMEOUT');
  } finally {
    await stopProcess(child);
  }
});
