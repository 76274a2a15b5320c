/**
 * Sends one PDF through a fresh one-process server as a job and reports pages per minute, the
 * server's memory over the run (sampled from /proc) and the CPU seconds it spent on the job (which a
 * shared machine's load changes far less than the wall time), optionally scoring the text against the corpus.
 * Usage: node bench/pdf-job.ts FILE.pdf [--repeat N] [--pages N] [--dpi 200] [--output pdf] [--manifest corpus/manifest.tsv]
 * --repeat builds a longer PDF from N copies of the file's pages (to show memory does not grow with pages);
 * --pages takes the first N pages only; --output then asks for the finished job's result in that
 * format (GET /jobs/:id/result?format=), twice, and reports the time each took against the job's, and its size.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PDFDocument } from 'pdf-lib';
import { procMemoryMb } from '../src/isolation/proc-memory.ts';
import { startServer, stopProcess } from '../harness/processes.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    repeat: { type: 'string' },
    pages: { type: 'string' },
    dpi: { type: 'string' },
    output: { type: 'string' },
    manifest: { type: 'string' },
  },
});
const file = resolve(positionals[0] ?? '');
const repeat = Number(values.repeat ?? 1);
const out = resolve('bench/out/pdf-job');
mkdirSync(out, { recursive: true });

let pdf = readFileSync(file);
let name = basename(file, '.pdf');
if (repeat > 1 || values.pages) {
  const src = await PDFDocument.load(pdf);
  const doc = await PDFDocument.create();
  const indices = src.getPageIndices().slice(0, Number(values.pages ?? Infinity));
  for (let r = 0; r < repeat; r++) for (const page of await doc.copyPages(src, indices)) doc.addPage(page);
  pdf = Buffer.from(await doc.save());
  name = `${name}${values.pages ? `_p${indices.length}` : ''}${repeat > 1 ? `_x${repeat}` : ''}`;
}

const { server, base } = await startServer({ MAX_UPLOAD_MB: '2000', MAX_PAGES: '100000' }, 120_000);
const rss = () => procMemoryMb(server.pid);
/** The server's user + system CPU seconds so far (/proc/PID/stat, in clock ticks of 1/100 s). */
const cpuSeconds = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const idle = rss();
let peak = idle;
const sampler = setInterval(() => (peak = Math.max(peak, rss())), 250);

const body = new FormData();
body.append('file', new Blob([new Uint8Array(pdf)]), `${name}.pdf`);
body.append('dpi', values.dpi ?? '200');
const t0 = performance.now();
const cpu0 = cpuSeconds();
const job = await (await fetch(`${base}/jobs`, { method: 'POST', body })).json();
const samples: string[] = [];
let sampledAt = -1;
for (;;) {
  await new Promise((r) => setTimeout(r, 1000));
  const p = await (await fetch(`${base}/jobs/${job.job_id}`)).json();
  const mark = Math.floor(p.pages_done / 50) * 50;
  if (mark > sampledAt || p.finished) {
    samples.push(`${p.pages_done} pages: ${rss().toFixed(0)} MB`);
    sampledAt = mark;
  }
  if (p.finished) break;
}
const wall = (performance.now() - t0) / 1000;
const cpu = cpuSeconds() - cpu0;
clearInterval(sampler);
const result = await (await fetch(`${base}/jobs/${job.job_id}/result`)).json();
const written: string[] = [];
// Asked twice: the first request also starts the child process that writes PDFs.
for (let request = 1; values.output && request <= 2; request++) {
  const t1 = performance.now();
  const res = await fetch(`${base}/jobs/${job.job_id}/result?format=${values.output}`);
  const output = Buffer.from(await res.arrayBuffer());
  const seconds = (performance.now() - t1) / 1000;
  if (!res.ok) throw new Error(`${values.output}: ${res.status} ${output.toString('utf8')}`);
  writeFileSync(join(out, `${name}.out.${values.output}`), output);
  const pages = result.metrics.total_pages;
  written.push(
    `${values.output} (request ${request}): written and sent in ${seconds.toFixed(2)} s = ${((seconds / wall) * 100).toFixed(2)} % of the job's ${wall.toFixed(1)} s; ` +
      `${output.length} bytes for an input of ${pdf.length} (+${((output.length - pdf.length) / 1024 / pages).toFixed(1)} KB a page)`,
  );
}
await stopProcess(server);
writeFileSync(join(out, `${name}.txt`), result.combined_text);
writeFileSync(join(out, `${name}.json`), JSON.stringify(result));

const pages = result.metrics.total_pages;
console.log(
  `${name}: ${pages} pages in ${wall.toFixed(1)} s = ${((pages / wall) * 60).toFixed(1)} pages/min (${(wall / pages).toFixed(2)} s/page), ` +
    `server CPU ${cpu.toFixed(1)} s (${(cpu / pages).toFixed(2)} s/page), status ${result.metrics.status}`,
);
console.log(`server RSS: ${idle.toFixed(0)} MB after start, peak ${peak.toFixed(0)} MB; ${samples.join(', ')}`);
for (const line of written) console.log(line);
if (values.manifest && repeat === 1) {
  console.log(
    execFileSync(
      'python3',
      [join(import.meta.dirname, '../../shared/eval/score.py'), resolve(values.manifest), out, '--filter', `^${name}/`, '--quiet'],
      { encoding: 'utf8' },
    ).trim(),
  );
}
