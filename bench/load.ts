/**
 * Many clients on one fresh one-process server (`npm start`): `npm run bench:load -- --clients 16`.
 * Each client sends `--requests` requests one after the other, three in four a 6-page PDF of short
 * text to `POST /ocr/pdf`, one in four a page image to `POST /ocr/image`, all clients at once. Prints
 * the status counts, p50/p95 of the answers, pages delivered and failed, the engines' reads, and the
 * server's RSS (and its render children's) fresh, at its peak, and settled after the load. The
 * server's environment is this process's: `MAX_QUEUED_PAGES=100 npm run bench:load -- --clients 64`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import sharp from 'sharp';
import type { JobResult, WorkersStatus } from '../src/contracts.ts';
import { procMemoryMb } from '../src/isolation/proc-memory.ts';
import { startServer, stopProcess } from '../harness/processes.ts';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '16' }, requests: { type: 'string', default: '2' } } });
const clients = Number(values.clients);
const perClient = Number(values.requests);

async function sixPagePdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 1; i <= 6; i++) {
    const page = doc.addPage([360, 140]);
    page.drawText(`Load page ${i}`, { x: 30, y: 90, size: 14, font });
    page.drawText(`order ${8100 + i}`, { x: 30, y: 60, size: 14, font });
  }
  return doc.save();
}

function pageImage(): Promise<Buffer> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="100"><rect width="600" height="100" fill="white"/>' +
    '<text x="20" y="60" font-family="DejaVu Sans" font-size="28">Load test image for the ledger</text></svg>';
  return sharp(Buffer.from(svg)).png().toBuffer();
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // gone meanwhile
  }
}

/** The PIDs of a process's PDF render children, from /proc. */
function renderChildren(pid: number): number[] {
  const tasks = readText(`/proc/${pid}/status`) ? readdirSync(`/proc/${pid}/task`) : [];
  return tasks
    .flatMap((task) => readText(`/proc/${pid}/task/${task}/children`).split(' ').filter(Boolean).map(Number))
    .filter((child) => readText(`/proc/${child}/cmdline`).includes('render-process'));
}

const tempDir = await mkdtemp(join(tmpdir(), 'bench-load-'));
const { server, base } = await startServer({ TEMP_DIR: tempDir }, 120_000);
const pid = server.pid!;
const rss = () => Math.round(procMemoryMb(pid));
const childrenRss = () => Math.round(renderChildren(pid).reduce((mb, child) => mb + procMemoryMb(child), 0));
const reads = async () =>
  ((await (await fetch(`${base}/workers/status`)).json()) as WorkersStatus).workers.reduce((n, w) => n + (w.total_requests ?? 0), 0);

try {
  const pdf = await sixPagePdf();
  const png = await pageImage();
  await new Promise((r) => setTimeout(r, 2000));
  const fresh = rss();
  let peak = fresh,
    peakChildren = 0,
    mostChildren = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss());
    peakChildren = Math.max(peakChildren, childrenRss());
    mostChildren = Math.max(mostChildren, renderChildren(pid).length);
  }, 200);
  const readsBefore = await reads();
  const statuses = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0,
    failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let k = 0; k < perClient; k++) {
        const image = (client + k) % 4 === 3;
        const body = new FormData();
        body.append('file', new Blob([new Uint8Array(image ? png : pdf)]), image ? 'load.png' : 'load.pdf');
        if (!image) body.append('dpi', '100');
        const started = performance.now();
        const res = await fetch(`${base}${image ? '/ocr/image' : '/ocr/pdf'}`, {
          method: 'POST',
          body,
          signal: AbortSignal.timeout(1_800_000),
        }).catch(() => undefined);
        if (!res) {
          statuses.set('no answer', (statuses.get('no answer') ?? 0) + 1); // the connection was closed or refused
          continue;
        }
        const json = (await res.json()) as JobResult & { error?: { code: string } };
        const key = res.status === 200 ? `200 ${json.metrics.status}` : `${res.status} ${json.error?.code}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        if (res.status === 200) {
          latencies.push(performance.now() - started);
          delivered += json.results.length;
          failed += json.metrics.pages_failed;
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const engineReads = (await reads()) - readsBefore;
  clearInterval(sampler);
  // Settled: the lowest reading over 5 s, once the render children have had their 10 s idle.
  await new Promise((r) => setTimeout(r, 12_000));
  let settled = Infinity;
  for (let i = 0; i < 10; i++) {
    settled = Math.min(settled, rss());
    await new Promise((r) => setTimeout(r, 500));
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length ? (latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! / 1000).toFixed(1) : '-';
  const machine = `${availableParallelism()} cores ${cpus()[0]?.model.trim()}`;
  console.log(
    JSON.stringify({
      machine,
      clients,
      requests: clients * perClient,
      statuses: Object.fromEntries([...statuses].sort()),
      wall_s: Math.round(wall),
      p50_s: pct(50),
      p95_s: pct(95),
      pages_delivered: delivered,
      pages_failed: failed,
      engine_reads: engineReads,
      server_rss_mb: { fresh, peak, settled },
      render_children: { most: mostChildren, peak_rss_mb: peakChildren, after: renderChildren(pid).length },
    }),
  );
} finally {
  await stopProcess(server);
  await rm(tempDir, { recursive: true, force: true });
}
