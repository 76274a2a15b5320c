/**
 * How long writing a job's outputs takes, and how large they are, on a whole PDF: the writers of
 * src/outputs/ timed in this process on the input's bytes and a job result.
 * Usage: node bench/output-write.ts INPUT.pdf RESULT.json [--runs 3]
 * RESULT.json is a job's result (bench/pdf-job.ts writes one to bench/out/pdf-job/). When it has
 * fewer pages than the input (a job over the first pages only), its pages are repeated in turn for
 * the rest, so that every page of the input gets a layer of a real page's words. Last, the PDF as the
 * services write it: in the writer's child process (the first run also starts the child).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PDFDocument } from 'pdf-lib';
import type { JobResult } from '../src/contracts.ts';
import { buildJobResult } from '../src/jobs/results.ts';
import { loadConfig } from '../src/config/config.ts';
import { isOutputFormat, OUTPUT_FORMATS, writeOutput } from '../src/outputs/index.ts';
import { IsolatedOutputWriter } from '../src/outputs/isolated-writer.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string' } } });
const [inputPath, resultPath] = positionals;
if (!inputPath || !resultPath) throw new Error('usage: node bench/output-write.ts INPUT.pdf RESULT.json [--runs 3]');
const runs = Number(values.runs ?? 3);
const input = readFileSync(inputPath);
const read = JSON.parse(readFileSync(resultPath, 'utf8')) as JobResult;
const pages = (await PDFDocument.load(input, { updateMetadata: false })).getPageCount();
const results = Array.from({ length: pages }, (_, i) => ({ ...read.results[i % read.results.length]!, page_number: i + 1 }));
const m = read.metrics;
const result = buildJobResult(
  {
    job_id: m.job_id,
    filename: m.filename,
    file_size_bytes: input.length,
    total_pages: pages,
    start: new Date(m.start_time),
    end: new Date(m.end_time),
  },
  results,
  [],
);
const words = results.reduce((s, p) => s + p.lines.reduce((t, l) => t + l.words.length, 0), 0);
console.log(
  `${inputPath}: ${pages} pages, ${(input.length / 1048576).toFixed(1)} MB; ${words} words (${read.results.length} pages of ${resultPath} repeated in turn)`,
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const format of Object.keys(OUTPUT_FORMATS).filter(isOutputFormat)) {
  const times: number[] = [];
  let size = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const output = await writeOutput(format, { result, input });
    times.push(performance.now() - t0);
    size = typeof output === 'string' ? Buffer.byteLength(output) : output.length;
  }
  const extra = format === 'pdf' ? ` = input + ${((size - input.length) / 1024 / pages).toFixed(1)} KB a page` : '';
  console.log(
    `${format.padEnd(5)} ${(median(times) / 1000).toFixed(2)} s (median of ${runs}; ${times.map((t) => (t / 1000).toFixed(2)).join(', ')}), ${size} bytes${extra}`,
  );
}

const writer = new IsolatedOutputWriter(loadConfig(process.env).isolation.pdf);
const times: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  await writer.write('pdf', { result, input: { path: inputPath } });
  times.push(performance.now() - t0);
}
await writer.close();
console.log(
  `pdf in the writer's child process ${(median(times) / 1000).toFixed(2)} s (median of ${runs}; ${times.map((t) => (t / 1000).toFixed(2)).join(', ')}; the first starts the child)`,
);
