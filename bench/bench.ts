/**
 * `npm run bench`: the same pages at the same DPI through
 *   1. the model floor: detection, orientation and recognition inference only (session.run time),
 *      summed over the engines the one-process server runs by default and divided by their number;
 *   2. those engines in this process (the whole pipeline around the models, still no service);
 *   3. the embedded server end to end (one process, POST /ocr/pdf);
 *   4. the cluster end to end (nats-server, a gateway node and worker nodes as separate processes);
 *   5. Tesseract (when installed), on the same page images, one single-threaded process per core.
 * Prints one table and writes it as JSON to bench/out/. Medians over --runs.
 *
 *   npm run bench                                   generated pages (vector text, truth known)
 *   npm run bench -- --corpus ../eval-corpus        the first pages of the corpus's big_100p.pdf
 *   options: --pages N (12)  --dpi D (200)  --runs R (1)  --workers W (cores)  --skip floor,engine,embedded,cluster,tesseract  --out DIR (bench/out)
 * The header names the CPU's relevant features (AVX2, AVX-512, VNNI) and how each model computes (int8
 * and its weights' bits, or float32), as the engines reported them: runs on different machines differ.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { loadConfig } from '../src/config/config.ts';
import { EnginePool } from '../src/ocr/engine-pool.ts';
import { OcrEngine } from '../src/ocr/engine.ts';
import { PdfDocument } from '../src/pdf/rasterizer.ts';
import { procMemoryMb } from '../src/isolation/proc-memory.ts';
import { cpuInfo, describeCpu } from '../src/ocr/model/cpu.ts';
import type { EngineInfo, JobResult, PageOcr, PageResult, WorkersStatus } from '../src/contracts.ts';
import { NatsServer } from '../harness/nats.ts';
import { freePort, startProcess, startServer, stopProcess, waitForHttp } from '../harness/processes.ts';
import { charErrors } from './cer.ts';

const { values } = parseArgs({
  options: {
    corpus: { type: 'string' },
    pages: { type: 'string' },
    dpi: { type: 'string' },
    runs: { type: 'string' },
    workers: { type: 'string' },
    skip: { type: 'string' },
    out: { type: 'string' },
  },
});
const PAGES = Number(values.pages ?? 12);
const DPI = Number(values.dpi ?? 200);
const RUNS = Number(values.runs ?? 1);
const CORES = availableParallelism();
const WORKERS = Number(values.workers ?? CORES);
/** The one-process server's configuration in this environment (it has no TRANSPORTER): its engines and their OCR config. */
const SERVER = loadConfig({ ...process.env, TRANSPORTER: undefined });
const SERVER_ENGINES = SERVER.worker.slots;
const SKIP = new Set((values.skip ?? '').split(',').filter(Boolean));

interface Row {
  mode: string;
  pages: number;
  wall_s: number;
  pages_per_min: number;
  s_per_page: number;
  /** Pages per minute over the floor's. */
  of_floor: number;
  /** Peak RSS per process, MB. */
  peak_rss_mb: Record<string, number>;
  cer_percent: number | null;
  note?: string;
}

/** One measurement before the table's derived columns. */
interface Measured {
  wall_s: number;
  peak_rss_mb: Record<string, number>;
  texts: string[];
  note?: string;
}

/** How each model computed, as the first engines measured reported it (the same configuration in every mode). */
let models: EngineInfo['models'] | undefined;

// ---------------------------------------------------------------- input

const WORDS =
  'the of archive ledger harbour invoice meadow lantern granite orchard velvet summit pebble quartz record series volume chapter index shelf catalogue letter minutes report council estate deed'.split(
    ' ',
  );

/** Dense pages of vector text in a standard font: about 3,000 characters each, truth known. */
async function generatedPdf(pages: number): Promise<{ pdf: Uint8Array; truths: string[] }> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const truths: string[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let p = 0; p < pages; p++) {
    const page = doc.addPage([612, 792]);
    const lines: string[] = [];
    for (let l = 0; l < 44; l++) {
      const words: string[] = [];
      while (words.join(' ').length < 70) words.push(WORDS[Math.floor(next() * WORDS.length)]!);
      if (l % 6 === 0) words.push(String(Math.floor(next() * 10000)));
      lines.push(words.join(' '));
    }
    lines.forEach((line, i) => page.drawText(line, { x: 54, y: 740 - i * 15.5, size: 10.5, font }));
    truths.push(lines.join('\n'));
  }
  return { pdf: await doc.save(), truths };
}

/** The first `pages` pages of the corpus's big_100p.pdf and their truth. */
async function corpusPdf(dir: string, pages: number): Promise<{ pdf: Uint8Array; truths: string[] }> {
  const source = await PDFDocument.load(await readFile(join(dir, 'big_100p.pdf')));
  const doc = await PDFDocument.create();
  const n = Math.min(pages, source.getPageCount());
  for (const page of await doc.copyPages(
    source,
    Array.from({ length: n }, (_, i) => i),
  ))
    doc.addPage(page);
  const truths = Array.from({ length: n }, (_, i) => readFileSync(join(dir, 'big_100p', `p${String(i + 1).padStart(3, '0')}.txt`), 'utf8'));
  return { pdf: await doc.save(), truths };
}

// ---------------------------------------------------------------- measuring

const vmHwmMb = (pid: number | undefined) => Math.round(procMemoryMb(pid, 'VmHWM'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * Share of the readers' (engines', workers') time spent reading pages: each page's reading time
 * (total_ms less decode_ms, which holds the rendering done elsewhere) summed, over readers x wall.
 * The rest is time a reader waited for a page: rendering, transport, the end of the job.
 */
function busyNote(pages: Pick<PageResult, 'timings'>[], readers: number, wall_s: number): string {
  return `readers busy ${Math.round((readingSeconds(pages) / (readers * wall_s)) * 100)} %`;
}

/** The pages' reading time (total_ms less decode_ms), summed, in seconds. */
function readingSeconds(pages: Pick<PageResult, 'timings'>[]): number {
  return pages.reduce((sum, p) => sum + p.timings.total_ms - p.timings.decode_ms, 0) / 1000;
}

/** A server's engines as its first worker reports them. */
async function serverModels(base: string): Promise<EngineInfo['models'] | undefined> {
  const status = (await (await fetch(`${base}/workers/status`)).json()) as WorkersStatus;
  return status.workers[0]?.models;
}

/**
 * POST /ocr/pdf with the PDF as multipart/form-data, its bytes handed to the socket as they are, as
 * curl sends a file: fetch copies a body before it sends a byte of it (0.28 s for the 49 MB of
 * big_100p, 0.42 s with FormData, on the VNNI EPYC), which the timing would have counted as the server's.
 * The time ends with the answer's last byte, before the bench parses it (0.1-0.2 s for 100 pages).
 */
async function postPdf(base: string, pdf: Uint8Array): Promise<{ wall_s: number; texts: string[]; pages: PageResult[] }> {
  const boundary = `bench-${randomUUID()}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="dpi"\r\n\r\n${DPI}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + pdf.length + tail.length };
  const t0 = performance.now();
  const { status, body, wall_s } = await new Promise<{ status: number | undefined; body: string; wall_s: number }>((resolve, reject) => {
    const req = request(`${base}/ocr/pdf`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const wall = (performance.now() - t0) / 1000;
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), wall_s: wall });
      });
    });
    req.on('error', reject);
    req.write(head);
    req.write(pdf);
    req.end(tail);
  });
  const result = JSON.parse(body) as JobResult;
  if (result.metrics?.status !== 'success')
    throw new Error(`bench job ended ${result.metrics?.status ?? status}: ${JSON.stringify(result.metrics?.errors ?? result)}`);
  return { wall_s, texts: result.results.map((p) => p.text), pages: result.results };
}

const serverEnv = { MAX_UPLOAD_MB: '2000', MAX_PAGES: '100000', LOG_LEVEL: 'warn' };

/** Renders every page once (not timed): the floor and Tesseract read these exact pixels. */
async function renderPages(pdf: Uint8Array) {
  const doc = await PdfDocument.open(new Uint8Array(pdf));
  const rasters = [];
  for (let n = 1; n <= doc.pageCount; n++) rasters.push((await doc.render(n, DPI, 1e9)).raster);
  await doc.close();
  return rasters;
}

/**
 * The floor: the models' own time per page, in the configuration the one-process server runs by
 * default (one single-threaded engine per core, in parallel), as if nothing else cost anything:
 * the engines' summed inference time divided by their number. The second row is the same engines
 * reading the same pages in this process, no service around them.
 */
async function floorAndEngine(rasters: Awaited<ReturnType<typeof renderPages>>): Promise<[Measured, Measured]> {
  const reader = SERVER_ENGINES > 1 ? await EnginePool.start(SERVER.ocr, SERVER_ENGINES) : await OcrEngine.load(SERVER.ocr);
  try {
    const before = reader.inferenceMs;
    const t0 = performance.now();
    // A pool spreads the pages over its engines; one engine reads them in turn, as the server's one slot
    // does (pages run at once on one engine would overlap their model runs and count the overlap twice).
    const pages: PageOcr[] = [];
    if (reader instanceof EnginePool) pages.push(...(await Promise.all(rasters.map((raster) => reader.recognizeRaster(raster)))));
    else for (const raster of rasters) pages.push(await reader.recognizeRaster(raster));
    const total = performance.now() - t0;
    const inference = (reader.inferenceMs - before) / SERVER_ENGINES;
    const texts = pages.map((p) => p.text);
    models ??= reader.info.models;
    const rss = { bench: vmHwmMb(process.pid) };
    const note = `${SERVER_ENGINES} engine${SERVER_ENGINES > 1 ? 's' : ''} x ${reader.info.threads} thread${reader.info.threads > 1 ? 's' : ''}`;
    // The pipeline's own share of the reading time, apart from the engines' idle time at the end of the job.
    const outside = 1 - (inference * SERVER_ENGINES) / 1000 / readingSeconds(pages);
    return [
      { wall_s: inference / 1000, peak_rss_mb: rss, texts, note },
      {
        wall_s: total / 1000,
        peak_rss_mb: rss,
        texts,
        note: `${note}, ${busyNote(pages, SERVER_ENGINES, total / 1000)}, outside the models ${Math.round(outside * 100)} % of reading`,
      },
    ];
  } finally {
    if (reader instanceof EnginePool) await reader.close();
  }
}

async function embedded(pdf: Uint8Array): Promise<Measured> {
  const { server, base } = await startServer(serverEnv, 120_000);
  try {
    models ??= await serverModels(base);
    const { wall_s, texts, pages } = await postPdf(base, pdf);
    return { wall_s, texts, peak_rss_mb: { server: vmHwmMb(server.pid) }, note: busyNote(pages, SERVER_ENGINES, wall_s) };
  } finally {
    await stopProcess(server, 'SIGKILL');
  }
}

async function cluster(pdf: Uint8Array): Promise<Measured> {
  const nats = await NatsServer.start();
  const env = { ...serverEnv, TRANSPORTER: nats.url, NAMESPACE: `bench-${process.pid}` };
  const port = await freePort();
  const gateway = startProcess('src/bin/main.ts', {
    ...env,
    SERVICES: 'gateway,rasterizer,aggregator',
    NODE_ID: 'gateway',
    COORDINATOR_PORT: String(port),
  });
  const threads = String(Math.max(1, Math.floor(CORES / WORKERS)));
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    startProcess('src/bin/main.ts', {
      ...env,
      SERVICES: 'ocr-worker',
      NODE_ID: `worker-${i + 1}`,
      OCR_CPU_THREADS: threads,
      OCR_CONCURRENCY: '1',
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/health`, gateway, 120_000);
    while ((await (await fetch(`${base}/workers/status`)).json()).healthy_workers < WORKERS) await new Promise((r) => setTimeout(r, 200));
    models ??= await serverModels(base);
    const { wall_s, texts, pages } = await postPdf(base, pdf);
    const rss: Record<string, number> = { gateway: vmHwmMb(gateway.pid) };
    workers.forEach((w, i) => (rss[`worker-${i + 1}`] = vmHwmMb(w.pid)));
    return {
      wall_s,
      texts,
      peak_rss_mb: rss,
      note: `${WORKERS} workers x ${threads} thread${threads === '1' ? '' : 's'}, ${busyNote(pages, WORKERS, wall_s)}`,
    };
  } finally {
    await Promise.all([gateway, ...workers].map((p) => stopProcess(p, 'SIGKILL')));
    await nats.kill();
  }
}

function tesseractBinary(): string | undefined {
  return ['/usr/bin/tesseract', '/usr/local/bin/tesseract'].find(existsSync);
}

async function tesseract(binary: string, rasters: Awaited<ReturnType<typeof renderPages>>): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-tess-'));
  try {
    // PGM: the raw grey pixels behind a text header, so no encoding cost lands on Tesseract's side.
    const files = await Promise.all(
      rasters.map(async (r, i) => {
        const file = join(dir, `p${i}.pgm`);
        const grey = r.channels === 1 ? r.data : Uint8Array.from({ length: r.width * r.height }, (_, k) => r.data[k * 3]!);
        await writeFile(file, Buffer.concat([Buffer.from(`P5\n${r.width} ${r.height}\n255\n`), grey]));
        return file;
      }),
    );
    const texts: string[] = new Array(files.length);
    let peak = 0,
      next = 0;
    const one = (i: number) =>
      new Promise<void>((done, fail) => {
        const child = spawn(binary, [files[i]!, 'stdout', '-l', 'eng'], { env: { ...process.env, OMP_THREAD_LIMIT: '1' } });
        const out: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        const sampler = setInterval(() => (peak = Math.max(peak, vmHwmMb(child.pid))), 100);
        child.on('exit', (code) => {
          clearInterval(sampler);
          texts[i] = Buffer.concat(out).toString('utf8');
          if (code === 0) done();
          else fail(new Error(`tesseract exited ${code}`));
        });
      });
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CORES }, async () => {
        while (next < files.length) await one(next++);
      }),
    );
    return { wall_s: (performance.now() - t0) / 1000, peak_rss_mb: { 'per process': peak }, texts, note: `${CORES} processes x 1 thread` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- table

function cerPercent(texts: string[], truths: string[]): number {
  let errors = 0,
    chars = 0;
  texts.forEach((t, i) => {
    const e = charErrors(t, truths[i]!);
    errors += e.errors;
    chars += e.chars;
  });
  return Math.round((errors / Math.max(1, chars)) * 10000) / 100;
}

function table(rows: Row[]): string {
  const header = ['mode', 'pages', 'wall s', 'pages/min', 's/page', 'of floor', 'peak RSS MB', 'CER %', ''];
  const cells = rows.map((r) => [
    r.mode,
    String(r.pages),
    r.wall_s.toFixed(1),
    r.pages_per_min.toFixed(1),
    r.s_per_page.toFixed(2),
    `${Math.round(r.of_floor * 100)} %`,
    Object.entries(r.peak_rss_mb)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    r.cer_percent === null ? '' : r.cer_percent.toFixed(2),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const input = values.corpus ? await corpusPdf(resolve(values.corpus), PAGES) : await generatedPdf(PAGES);
const pages = input.truths.length;
const cpu = cpuInfo();
console.error(
  `bench: ${pages} pages at ${DPI} dpi from ${values.corpus ? `${values.corpus}/big_100p.pdf` : 'generated PDFs'}, ${RUNS} run(s), ${CORES} cores, ${describeCpu(cpu)}`,
);
const rasters = await renderPages(input.pdf);

const runs: Record<string, Measured[]> = {};
const record = (mode: string, m: Measured) => {
  (runs[mode] ??= []).push(m);
  console.error(`  ${mode}: ${m.wall_s.toFixed(1)} s`);
};
const tess = tesseractBinary();
for (let r = 0; r < RUNS; r++) {
  if (!SKIP.has('floor')) {
    const [floor, engine] = await floorAndEngine(rasters);
    record('model floor', floor);
    if (!SKIP.has('engine')) record('engine in process', engine);
  }
  if (!SKIP.has('embedded')) record('embedded (POST /ocr/pdf)', await embedded(input.pdf));
  if (!SKIP.has('cluster')) record('cluster (NATS, separate processes)', await cluster(input.pdf));
  if (!SKIP.has('tesseract') && tess) record('tesseract', await tesseract(tess, rasters));
}

const rows: Row[] = Object.entries(runs).map(([mode, ms]) => {
  const wall = median(ms.map((m) => m.wall_s));
  const rss = Object.fromEntries(Object.keys(ms[0]!.peak_rss_mb).map((k) => [k, Math.max(...ms.map((m) => m.peak_rss_mb[k] ?? 0))]));
  return {
    mode,
    pages,
    wall_s: Math.round(wall * 10) / 10,
    pages_per_min: Math.round((pages / wall) * 600) / 10,
    s_per_page: Math.round((wall / pages) * 100) / 100,
    // Each run's ratio to the same run's floor, then the median: the machine's speed drifts between runs.
    of_floor: Math.round(median(ms.map((m, r) => (runs['model floor']?.[r]?.wall_s ?? NaN) / m.wall_s)) * 100) / 100,
    peak_rss_mb: rss,
    cer_percent: cerPercent(ms[0]!.texts, input.truths),
    note: ms[0]!.note,
  };
});
if (!tess && !SKIP.has('tesseract')) console.error('tesseract is not installed (apt-get install tesseract-ocr): its row is left out');

const machine = `${CORES} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const modelsLine = models
  ? Object.entries(models)
      .map(([stage, how]) => `${stage} ${how}`)
      .join('; ')
  : 'no engine ran';
console.log(
  `${pages} pages at ${DPI} dpi, ${values.corpus ? 'big_100p.pdf of the eval corpus' : 'generated vector-text pages'}; median of ${RUNS} run(s); ${machine}`,
);
console.log(`CPU: ${describeCpu(cpu)}`);
console.log(`models: ${modelsLine}; recogniser batches of at most ${SERVER.ocr.rec.batchColumns} columns\n`);
console.log(table(rows));
const out = resolve(values.out ?? 'bench/out');
await mkdir(out, { recursive: true });
const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine,
      cpu,
      models,
      dpi: DPI,
      runs: RUNS,
      input: values.corpus ? 'corpus big_100p.pdf' : 'generated',
      rows,
    },
    null,
    2,
  ),
);
console.log(`\nwritten to ${file}`);
