/**
 * The REPL as a new user meets it: on its own (no TRANSPORTER) it says so and reads files with a
 * worker of its own; in a cluster it sees the cluster's jobs, not an empty aggregator of its own;
 * `ocr` shows progress; a bad `--watch` is refused instead of looping.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from '@jest/globals';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';

type Repl = ChildProcess & { output: string[] };
let dir: string;
let pdf: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repl-'));
  pdf = join(dir, 'twelve.pdf');
  await writeFile(
    pdf,
    await buildPdf(Array.from({ length: 12 }, (_, i) => ({ lines: [`Page ${i + 1} of the REPL test`, 'and a second line'] }))),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (repl: Repl) => repl.output.join('');

async function until(repl: Repl, pattern: RegExp, from = 0): Promise<string> {
  const deadline = Date.now() + 120_000;
  while (!pattern.test(text(repl).slice(from))) {
    if (repl.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in:\n${text(repl)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return text(repl).slice(from);
}

/** Types a command and waits for the prompt after its answer; returns what it printed. */
async function command(repl: Repl, line: string, done: RegExp): Promise<string> {
  const from = text(repl).length;
  repl.stdin!.write(`${line}\n`);
  return until(repl, done, from);
}

test('without TRANSPORTER: a hint, a worker of its own, progress while reading, --watch checked', async () => {
  const repl = startProcess('src/bin/repl.ts', { TRANSPORTER: '', TEMP_DIR: join(dir, 'alone') });
  try {
    await until(repl, /No TRANSPORTER: this REPL reads files with an OCR worker of its own/);
    assert.match(await command(repl, 'workers --watch abc', /--watch takes a number of seconds/), /not "abc"/);
    assert.match(await command(repl, 'workers', /workers healthy/), /1\/1 workers healthy/);
    const read = await command(repl, `ocr ${pdf}`, /success: 12\/12 pages/);
    assert.match(read, /twelve\.pdf: 12 pages/);
    assert.match(read, /\d+\/12 pages read/);
  } finally {
    await stopProcess(repl, 'SIGKILL');
  }
});

test("in a cluster: the cluster's jobs, and its file read by the cluster's aggregator and workers", async () => {
  const nats = await NatsServer.start();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    NODE_ID: 'server',
    COORDINATOR_PORT: String(port),
    OCR_CPU_THREADS: '1',
  });
  let repl: Repl | undefined;
  try {
    await waitForHttp(`${base}/health`, server, 120_000);
    const body = new FormData();
    body.append('file', new Blob([new Uint8Array(await buildPdf([{ lines: ['A job of the server'] }]))]), 'server-job.pdf');
    const job = await (await fetch(`${base}/jobs`, { method: 'POST', body })).json();
    repl = startProcess('src/bin/repl.ts', { TRANSPORTER: nats.url, TEMP_DIR: join(dir, 'clustered') });
    await until(repl, /ocr-cluster \$/);
    assert.doesNotMatch(text(repl), /No TRANSPORTER/);
    // `call aggregator.list` reaches the server's aggregator: the REPL runs none of its own.
    assert.match(await command(repl, 'call aggregator.list', /Response:[\s\S]*\]/), new RegExp(job.job_id as string));
    const read = await command(repl, `ocr ${pdf}`, /success: 12\/12 pages/);
    assert.match(read, /pages per worker \{"server":12\}/);
  } finally {
    if (repl) await stopProcess(repl, 'SIGKILL');
    await stopProcess(server);
    await nats.kill();
  }
});
