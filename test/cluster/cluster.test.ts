/**
 * The cluster over a real nats-server: a gateway node and worker nodes as separate OS processes
 * find each other, share the pages of a job, and survive a worker killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import type { JobProgress, JobResult, WorkersStatus } from '../../src/contracts.ts';
import { NatsServer } from '../../harness/nats.ts';
import { freePort, startProcess, startServer, stopProcess, waitForHttp } from '../../harness/processes.ts';
import { buildPdf, type TextPage } from '../helpers/pdf.ts';
import { pdfToText, qpdfCheck } from '../helpers/poppler.ts';
import { renderPage } from '../helpers/render.ts';

type Node = ChildProcess & { output: string[] };
let nats: NatsServer;
const workers = new Map<string, Node>();
let gateway: Node;
let base: string;

function startWorker(name: string): Node {
  const node = startProcess('src/bin/main.ts', { TRANSPORTER: nats.url, SERVICES: 'ocr-worker', NODE_ID: name, OCR_CPU_THREADS: '1' });
  workers.set(name, node);
  return node;
}

async function health(): Promise<{ ocr_workers: number }> {
  return (await fetch(`${base}/health`)).json();
}

async function workersStatus(): Promise<WorkersStatus> {
  return (await fetch(`${base}/workers/status`)).json();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${gateway.output.join('').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - t0;
}

beforeAll(async () => {
  nats = await NatsServer.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  gateway = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    SERVICES: 'gateway,rasterizer,aggregator',
    NODE_ID: 'gateway',
    COORDINATOR_PORT: String(port),
    RETRY_DELAY_SECONDS: '0.5',
    WORKER_REQUEST_TIMEOUT: '60',
  });
  for (const name of ['worker-1', 'worker-2', 'worker-3']) startWorker(name);
  await waitForHttp(`${base}/health`, gateway, 120_000);
  await until('three workers', async () => (await health()).ocr_workers === 3);
});

afterAll(async () => {
  await Promise.all([gateway, ...workers.values()].map((n) => stopProcess(n, 'SIGKILL')));
  await nats.kill();
});

const PAGES: TextPage[] = Array.from({ length: 12 }, (_, i) => ({
  lines: [
    `Page ${i + 1} of the cluster test document`,
    `carries the order number ${4100 + i} and`,
    'a few more words to read on every page.',
  ],
}));

async function postJob(pdf: Buffer, fields: Record<string, string> = {}): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(pdf)]), 'cluster.pdf');
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  const res = await fetch(`${base}/jobs`, { method: 'POST', body });
  const answer = await res.json();
  assert.equal(res.status, 202, JSON.stringify(answer));
  return answer.job_id;
}

async function progress(id: string): Promise<JobProgress> {
  return (await fetch(`${base}/jobs/${id}`)).json();
}

test('a 12-page PDF is spread over all three workers and reads as in one process', async () => {
  const pdf = await buildPdf(PAGES);
  const id = await postJob(pdf);
  await until('the job', async () => (await progress(id)).finished);
  const result: JobResult = await (await fetch(`${base}/jobs/${id}/result`)).json();
  assert.equal(result.metrics.status, 'success');
  expect(result.results.map((p) => p.page_number)).toEqual(PAGES.map((_, i) => i + 1));
  const rounds = result.metrics.ocr_rounds_per_worker;
  expect(rounds).toEqual({ 'worker-1': expect.any(Number), 'worker-2': expect.any(Number), 'worker-3': expect.any(Number) });
  console.log(`pages per worker: ${JSON.stringify(rounds)}`);

  // The same PDF in the one-process embedded mode gives the same text.
  const { server: embedded, base: embeddedBase } = await startServer({}, 120_000);
  try {
    const body = new FormData();
    body.append('file', new Blob([new Uint8Array(pdf)]), 'cluster.pdf');
    const alone: JobResult = await (await fetch(`${embeddedBase}/ocr/pdf`, { method: 'POST', body })).json();
    assert.equal(result.combined_text, alone.combined_text);
  } finally {
    await stopProcess(embedded);
  }
});

test('GET /workers/status lists every worker with its live health', async () => {
  const status = await workersStatus();
  assert.equal(status.total_workers, 3);
  assert.equal(status.healthy_workers, 3);
  expect(status.workers.map((w) => w.node_id)).toEqual(['worker-1', 'worker-2', 'worker-3']);
  for (const w of status.workers) {
    assert.equal(w.status, 'healthy');
    for (const key of [
      'cpu_percent',
      'memory_mb',
      'memory_percent',
      'uptime_seconds',
      'total_requests',
      'in_flight',
      'queued',
      'pages_done',
      'batches_read_for_others',
      'errors',
      'slots',
      'threads',
    ] as const) {
      assert.equal(typeof w[key], 'number', key);
    }
    assert.ok(w.memory_mb! > 50 && typeof w.host === 'string');
    assert.match(w.models!.rec, /rec/);
    assert.equal(w.threads, 1);
  }
  assert.equal(
    status.workers.reduce((s, w) => s + w.pages_done!, 0),
    12,
    'the 12 pages of the first test',
  );
});

test('the REPL joins the cluster: workers, ocr <file> (--out FILE in the format of its name), jobs', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'repl-'));
  const file = join(folder, 'note.pdf');
  writeFileSync(file, await buildPdf([{ lines: ['A note read from the REPL'] }]));
  const scan = join(folder, 'scan.pdf');
  writeFileSync(
    scan,
    await buildPdf([{ png: renderPage({ paragraphs: [['A scan made searchable from the REPL']], width: 1000, height: 200 }).image }]),
  );
  const repl = startProcess('src/bin/repl.ts', { TRANSPORTER: nats.url, NODE_ID: 'repl' });
  try {
    // Asked again every 3 s until the REPL node has discovered all three workers.
    let asked = 0;
    await until(
      'the workers table',
      async () => {
        if (/3\/3 workers healthy/.test(repl.output.join(''))) return true;
        if (Date.now() - asked > 3000) {
          repl.stdin!.write('workers\n');
          asked = Date.now();
        }
        return false;
      },
      60_000,
    );
    repl.stdin!.write(`ocr ${file}\n`);
    await until('the text', async () => /success: 1\/1 pages/.test(repl.output.join('')), 60_000);
    repl.stdin!.write(`ocr ${file} --out ${join(folder, 'note.hocr')}\n`);
    await until('the hOCR', async () => /hocr written to /.test(repl.output.join('')), 60_000);
    assert.match(readFileSync(join(folder, 'note.hocr'), 'utf8'), /class="ocrx_word"[^>]*>REPL</);
    repl.stdin!.write(`ocr ${scan} --out ${join(folder, 'scan.ocr.pdf')}\n`);
    await until('the PDF', async () => /pdf written to /.test(repl.output.join('')), 60_000);
    const searchable = readFileSync(join(folder, 'scan.ocr.pdf'));
    assert.equal((await qpdfCheck(searchable)).code, 0);
    assert.match((await pdfToText(searchable))[0]!, /A scan made searchable from the REPL/);
    repl.stdin!.write(`ocr ${file} --out ${join(folder, 'note.docx')}\n`);
    await until(
      'the refusal',
      async () =>
        /failed: .*note\.docx: name the file \.json, \.txt, \.md, \.hocr, \.xml, \.pdf or give --format/.test(repl.output.join('')),
      20_000,
    );
    repl.stdin!.write('jobs\n');
    await until('the jobs list', async () => /success\s+1\/1 pages\s+0 failed\s+scan\.pdf/.test(repl.output.join('')), 20_000);
    const out = repl.output.join('');
    assert.match(out, /worker-1\s+\S+\s+healthy/);
    assert.match(out, /A note read from the REPL/);
    assert.ok(existsSync(file), "the user's file is left in place");
  } finally {
    await stopProcess(repl, 'SIGKILL');
  }
});

test('a page image over 1 MB goes through NATS', async () => {
  const { image } = renderPage({ paragraphs: [['A large page image travels in chunks']], width: 2400, height: 2000 });
  const big = await sharp(image).png({ compressionLevel: 0 }).toBuffer();
  assert.ok(big.length > 1024 * 1024, `${big.length} bytes`);
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(big)]), 'big.png');
  const res = await fetch(`${base}/ocr/image`, { method: 'POST', body });
  assert.equal(res.status, 200);
  const result: JobResult = await res.json();
  assert.match(result.combined_text, /A large page image travels in chunks/);
});

test('a worker killed with SIGKILL mid-job: the job ends success with every page', async () => {
  const many = Array.from({ length: 3 }, () => PAGES).flat();
  const id = await postJob(await buildPdf(many));
  await until('the first pages', async () => (await progress(id)).pages_done >= 3);
  const victim = workers.get('worker-1')!;
  victim.kill('SIGKILL');
  const killedAt = Date.now();
  const goneMs = await until(
    'the worker to leave',
    async () => {
      const status = await workersStatus();
      return status.total_workers === 2 && !status.workers.some((w) => w.node_id === 'worker-1');
    },
    30_000,
  );
  await until('the job', async () => (await progress(id)).finished, 180_000);
  const recoveredMs = Date.now() - killedAt;
  const result: JobResult = await (await fetch(`${base}/jobs/${id}/result`)).json();
  assert.equal(result.metrics.status, 'success', JSON.stringify(result.metrics.errors));
  expect(result.results.map((p) => p.page_number)).toEqual(many.map((_, i) => i + 1));
  console.log(
    `killed worker-1: gone from the cluster after ${goneMs} ms, job finished ${recoveredMs} ms after the kill; pages per worker ${JSON.stringify(result.metrics.ocr_rounds_per_worker)}`,
  );
});

test('a worker started while a job runs gets pages of that job', async () => {
  // Long enough to outlast a worker's start (loading its models) on a fast CPU: 24 pages were read by
  // the two others before a worker started after the first page could join (VNNI EPYC, 45fbe84).
  const many = Array.from({ length: 4 }, () => PAGES).flat();
  const id = await postJob(await buildPdf(many));
  startWorker('worker-4');
  await until('the job', async () => (await progress(id)).finished, 240_000);
  const result: JobResult = await (await fetch(`${base}/jobs/${id}/result`)).json();
  assert.equal(result.metrics.status, 'success');
  assert.ok((result.metrics.ocr_rounds_per_worker['worker-4'] ?? 0) > 0, JSON.stringify(result.metrics.ocr_rounds_per_worker));
  console.log(`worker-4 joined mid-job: pages per worker ${JSON.stringify(result.metrics.ocr_rounds_per_worker)}`);
});

test('SIGTERM on a worker: it finishes the pages it holds, then leaves; the job is complete', async () => {
  const id = await postJob(await buildPdf(PAGES));
  await until('the first pages', async () => (await progress(id)).pages_done >= 2);
  const before = (await workersStatus()).workers.find((w) => w.node_id === 'worker-2')!;
  const leaving = workers.get('worker-2')!;
  const exited = new Promise<number | null>((r) => leaving.once('exit', (code) => r(code)));
  leaving.kill('SIGTERM');
  assert.equal(await exited, 0, 'a clean exit');
  await until('the job', async () => (await progress(id)).finished, 120_000);
  const result: JobResult = await (await fetch(`${base}/jobs/${id}/result`)).json();
  assert.equal(result.metrics.status, 'success', JSON.stringify(result.metrics.errors));
  assert.equal(result.results.length, PAGES.length);
  console.log(
    `SIGTERM on worker-2 with ${before.in_flight} page(s) in flight and ${before.queued} queued; it read ${result.metrics.ocr_rounds_per_worker['worker-2'] ?? 0} pages of the job`,
  );
});

test('the NATS server killed mid-job and back after 5 s: the job finishes within 30 s of it, no page lost, no worker stuck', async () => {
  // Small pages, so that the bound measures the recovery, not the reading on a loaded machine.
  const many: TextPage[] = Array.from({ length: 9 }, (_, i) => ({ size: [360, 140], lines: [`NATS restart page ${i + 1}`] }));
  const id = await postJob(await buildPdf(many), { dpi: '100' });
  await until('the first page', async () => (await progress(id)).pages_done >= 1);
  await nats.kill();
  await new Promise((r) => setTimeout(r, 5000));
  await nats.restart();
  const restartedAt = Date.now();
  // Pages out when NATS went away are sent again at the reconnect, not after WORKER_REQUEST_TIMEOUT (60 s here).
  await until('the job', async () => (await progress(id)).finished, 30_000);
  const finishedMs = Date.now() - restartedAt;
  const result: JobResult = await (await fetch(`${base}/jobs/${id}/result`)).json();
  assert.equal(result.metrics.status, 'success', JSON.stringify(result.metrics.errors));
  expect(result.results.map((p) => p.page_number)).toEqual(many.map((_, i) => i + 1));
  // A worker busy reading may miss the 3 s of the health call on a loaded machine: those that answer hold nothing stuck.
  const answering = (await workersStatus()).workers.filter((w) => w.status !== 'unreachable');
  expect(answering.map((w) => `${w.node_id} ${w.status} ${w.stuck}`)).toEqual(answering.map((w) => `${w.node_id} healthy 0`));
  console.log(
    `NATS down 5 s: job finished ${finishedMs} ms after the restart; pages per worker ${JSON.stringify(result.metrics.ocr_rounds_per_worker)}`,
  );
});

test('a worker whose engine hangs is listed unhealthy once a page passes its time limit', async () => {
  const port = await freePort();
  const env = { TRANSPORTER: nats.url, NAMESPACE: 'hung-engine' };
  const gatewayNode = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'gateway,rasterizer,aggregator',
    COORDINATOR_PORT: String(port),
    WORKER_REQUEST_TIMEOUT: '2',
    MAX_RETRIES: '0',
  });
  const hung = startProcess('test/fixtures/broken-worker.ts', { ...env, NODE_ID: 'hung', OCR_CPU_THREADS: '1', ENGINE_FAULT: 'hang' });
  const hungBase = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${hungBase}/health`, gatewayNode, 120_000);
    const { image } = renderPage({ paragraphs: [['A page the engine never finishes']] });
    const body = new FormData();
    body.append('file', new Blob([new Uint8Array(image)]), 'page.png');
    const res = await fetch(`${hungBase}/ocr/image`, { method: 'POST', body });
    assert.equal(res.status, 504);
    let status: WorkersStatus | undefined;
    await until(
      'the hung worker to be listed unhealthy',
      async () => {
        status = await (await fetch(`${hungBase}/workers/status`)).json();
        return status!.workers[0]?.status === 'unhealthy';
      },
      10_000,
    );
    expect(status!.workers.map((w) => [w.node_id, w.status, w.stuck])).toEqual([['hung', 'unhealthy', 1]]);
    assert.equal(status!.healthy_workers, 0);
  } finally {
    await Promise.all([stopProcess(gatewayNode, 'SIGKILL'), stopProcess(hung, 'SIGKILL')]);
  }
});

test('no worker at all: a clear 503 within the retry budget, no hang', async () => {
  const port = await freePort();
  const lonely = startProcess('src/bin/main.ts', {
    TRANSPORTER: nats.url,
    NAMESPACE: 'no-workers-here',
    SERVICES: 'gateway,rasterizer,aggregator',
    COORDINATOR_PORT: String(port),
    RETRY_DELAY_SECONDS: '0.5',
  });
  try {
    await until('the lonely gateway', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/health`)).status === 503;
      } catch {
        return false;
      }
    });
    const { image } = renderPage({ paragraphs: [['Nobody will read this page']] });
    const body = new FormData();
    body.append('file', new Blob([new Uint8Array(image)]), 'page.png');
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/ocr/image`, { method: 'POST', body });
    const elapsed = Date.now() - t0;
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error.code, 'NO_WORKERS');
    assert.ok(elapsed < 15_000, `${elapsed} ms`);
  } finally {
    await stopProcess(lonely);
  }
});
