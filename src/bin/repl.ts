/**
 * `npm run repl`: joins the cluster as a node (with a rasterizer of its own, which opens the files of
 * `ocr <file>` on this machine while the cluster's aggregator runs their jobs and its workers read the
 * pages; without TRANSPORTER, a node of its own with an OCR worker and an aggregator too) and opens
 * the Moleculer REPL with three commands of ours:
 *   workers [--watch SECONDS]   every worker's live health, refreshed every 2 s while watching
 *   jobs                        jobs kept by the aggregator, with their progress
 *   ocr <file> [--out FILE]     runs a PDF or an image through the cluster, prints text and metrics;
 *                               --out writes the result to FILE in the format of its extension (or
 *                               --format json|txt|md|hocr|alto|pdf; --pdfa for PDF/A-2b)
 */
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Context, ReplOptions } from 'moleculer';
import { workersStatus } from '../broker/cluster-status.ts';
import { loadConfig } from '../config/config.ts';
import type { JobProgress, WorkersStatus } from '../contracts.ts';
import { ocrFileJob } from '../jobs/file-job.ts';
import { outputFormatOfFile, parseJobOptions } from '../jobs/job-options.ts';
import { IsolatedOutputWriter } from '../outputs/isolated-writer.ts';
import { useOneMallocArena } from './malloc-arena.ts';
import { fileJobLimits, startNode } from './node.ts';

useOneMallocArena(process.env);

// In a cluster the REPL is a client: its own aggregator would answer `call aggregator.list` with its empty copy.
const clustered = Boolean(process.env.TRANSPORTER);
const config = loadConfig({
  ...process.env,
  SERVICES: clustered ? 'rasterizer' : 'ocr-worker,rasterizer,aggregator',
  NODE_ID: process.env.NODE_ID || `repl-${hostname()}-${process.pid}`,
});
const STANDALONE = `No TRANSPORTER: this REPL reads files with an OCR worker of its own and sees no other node.
To watch a cluster, start it with TRANSPORTER=nats://<host>:4222 (the one-process server, npm start, has no NATS: start it with TRANSPORTER too).`;
/** Writes `ocr --out` files; a searchable PDF in a child process, as the rasterizer renders. */
const writer = new IsolatedOutputWriter(config.isolation.pdf);

function workersTable(status: WorkersStatus): string {
  const rows = status.workers.map((w) => ({
    node: w.node_id,
    host: w.host ?? '',
    status: w.status,
    circuit: w.circuit,
    'cpu %': w.cpu_percent ?? '',
    'mem MB': w.memory_mb ?? '',
    'mem %': w.memory_percent ?? '',
    'up s': w.uptime_seconds ?? '',
    requests: w.total_requests ?? '',
    'in flight': w.in_flight ?? '',
    queued: w.queued ?? '',
    done: w.pages_done ?? '',
    errors: w.errors ?? '',
    slots: w.slots ?? '',
    threads: w.threads ?? '',
  }));
  const columns = Object.keys(rows[0] ?? { node: '' });
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => String(r[c as keyof typeof r]).length));
  const line = (cells: string[]) => cells.map((v, i) => v.padEnd(width(columns[i]!))).join('  ');
  return [
    `${status.healthy_workers}/${status.total_workers} workers healthy`,
    line(columns),
    ...rows.map((r) => line(columns.map((c) => String(r[c as keyof typeof r])))),
  ].join('\n');
}

/**
 * A command's argument or option by name. moleculer-repl hands an action one object, `{ <operand>,
 * options: { <flag> } }`, where Moleculer's types declare a string[]: read it by name, checked.
 */
function replValue(args: unknown, path: string[]): unknown {
  let value = args;
  for (const key of path) value = typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
  return value;
}

function replArg(args: unknown, ...path: string[]): string | undefined {
  const value = replValue(args, path);
  return typeof value === 'string' ? value : undefined;
}

/** A flag without a value (`--pdfa`). */
const replFlag = (args: unknown, ...path: string[]): boolean => replValue(args, path) === true;

const commands: NonNullable<ReplOptions['customCommands']> = [
  {
    command: 'workers',
    description: "Every OCR worker's live health (--watch SECONDS refreshes it every 2 s)",
    options: [{ option: '-w, --watch <seconds>', description: 'keep refreshing for this long' }],
    async action(broker, args) {
      const watch = replArg(args, 'options', 'watch');
      const seconds = Number(watch ?? 0);
      if (!Number.isFinite(seconds) || seconds < 0) return console.log(`--watch takes a number of seconds, not "${watch}"`);
      const until = Date.now() + seconds * 1000;
      const stop = new AbortController();
      stopWatching = () => stop.abort();
      for (; !stop.signal.aborted;) {
        const status = await workersStatus(broker);
        if (watch) process.stdout.write('\x1b[2J\x1b[H');
        console.log(workersTable(status));
        if (status.total_workers === 0) console.log(clustered ? 'No OCR worker has joined this cluster.' : STANDALONE);
        if (Date.now() >= until) break;
        await new Promise((r) => {
          const timer = setTimeout(r, 2000);
          stop.signal.addEventListener('abort', () => (clearTimeout(timer), r(undefined)), { once: true });
        });
      }
      stopWatching = undefined;
    },
  },
  {
    command: 'jobs',
    description: 'Jobs kept by the aggregator, with their progress',
    async action(broker) {
      const aggregators = broker.registry
        .getServiceList({ skipInternal: true })
        .flatMap((s) => (s.name === 'aggregator' && s.nodeID ? [s.nodeID] : []));
      const lists = await Promise.all(
        aggregators.map((nodeID) => broker.call<JobProgress[], object>('aggregator.list', {}, { nodeID }).catch(() => [])),
      );
      const jobs = lists.flat();
      if (jobs.length === 0) return console.log('no jobs');
      for (const j of jobs)
        console.log(
          `${j.job_id}  ${j.status.padEnd(15)} ${String(j.pages_done + j.pages_failed).padStart(5)}/${j.total_pages} pages  ${j.pages_failed} failed  ${j.filename}`,
        );
    },
  },
  {
    command: 'ocr <file>',
    description: 'Run a PDF or an image through the cluster; print its text and metrics (--out FILE: write the result there)',
    options: [
      {
        option: '-o, --out <file>',
        description: 'write the result to this file, in the format of its name (.json, .txt, .md, .hocr, .xml: ALTO, .pdf)',
      },
      { option: '-f, --format <format>', description: 'the format of --out: json, txt, md, hocr, alto, pdf (searchable PDF)' },
      { option: '--pdfa', description: 'a searchable PDF as PDF/A-2b' },
    ],
    async action(broker, args) {
      try {
        const path = resolve(replArg(args, 'file') ?? '');
        const out = replArg(args, 'options', 'out');
        const format = out === undefined ? undefined : outputFormatOfFile(out, replArg(args, 'options', 'format'));
        const result = await ocrFileJob(broker, path, parseJobOptions({}, config.limits.dpi), fileJobLimits(config), (job) => {
          following = job.job_id;
          console.log(`${job.filename}: ${job.total_pages} pages`);
        });
        following = undefined;
        if (out && format) {
          await writeFile(resolve(out), await writer.write(format, { result, input: { path }, pdfa: replFlag(args, 'options', 'pdfa') }));
          console.log(`${format} written to ${resolve(out)}`);
        } else console.log(result.combined_text.replace(/\f/g, '\n\n---- next page ----\n\n'));
        const { metrics: m } = result;
        console.log(
          `\n${m.status}: ${m.pages_processed}/${m.total_pages} pages, ${m.total_words} words, avg confidence ${m.avg_confidence}, ${m.total_duration_ms} ms, pages per worker ${JSON.stringify(m.ocr_rounds_per_worker)}`,
        );
        for (const e of m.errors) console.log(`page ${e.page}: ${e.code} ${e.message}`);
      } catch (err) {
        console.log(`failed: ${(err as Error).message}`);
      }
    },
  },
];

/** Ends `workers --watch` early (Ctrl-C while it runs). */
let stopWatching: (() => void) | undefined;

/** The job `ocr <file>` waits for: its progress is printed as pages are read, every 2 s at most. */
let following: string | undefined;
let lastPrinted = 0;
function showProgress(progress: JobProgress): void {
  if (progress.job_id !== following || progress.finished || Date.now() - lastPrinted < 2000) return;
  lastPrinted = Date.now();
  console.log(
    `${progress.pages_done + progress.pages_failed}/${progress.total_pages} pages read${progress.pages_failed ? ` (${progress.pages_failed} failed)` : ''}`,
  );
}

const broker = await startNode(config, { replOptions: { customCommands: commands, delimiter: 'ocr-cluster $' } });
broker.createService({ name: 'repl', events: { 'job.progress': (ctx: Context<JobProgress>) => showProgress(ctx.params) } });
// Tell the cluster of this node's rasterizer now, not after Moleculer's 1 s debounce: an `ocr` typed
// at once would reach an aggregator that cannot open the file yet.
if (clustered) await broker.registry.discoverer.sendLocalNodeInfo();
else console.log(STANDALONE);
broker.repl()?.on('SIGINT', () => stopWatching?.());
