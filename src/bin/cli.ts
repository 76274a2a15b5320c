#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
/**
 * `ocr-cluster batch <input-dir|list-file> --out <dir>`: OCR a corpus. With TRANSPORTER set the
 * command joins the cluster as a node (its own rasterizer and aggregator; the cluster's workers read
 * the pages); without, it runs every service in this process. `ocr-cluster search`: query the index
 * a batch wrote (search-command.ts).
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_EXTENSIONS } from '../batch/corpus.ts';
import { progressReporter, summaryLine } from '../batch/progress.ts';
import { BatchIndex } from '../batch/indexing.ts';
import { Batch } from '../batch/run.ts';
import { clusterEmbedder, waitForEmbedder } from '../broker/embed-call.ts';
import { loadConfig, type NodeConfig } from '../config/config.ts';
import type { JobOptions, TextEmbedder } from '../contracts.ts';
import { OcrError } from '../errors.ts';
import { ocrFileJob } from '../jobs/file-job.ts';
import { parseJobOptions, parseOutputFormats } from '../jobs/job-options.ts';
import { IsolatedOutputWriter } from '../outputs/isolated-writer.ts';
import { IndexStore } from '../search/index-store.ts';
import type { ServiceBroker } from 'moleculer';
import { useOneMallocArena } from './malloc-arena.ts';
import { fileJobLimits, startNode } from './node.ts';
import { searchCommand, SEARCH_USAGE } from './search-command.ts';
import { usageError } from './usage.ts';

const USAGE = `usage: ocr-cluster batch <input-dir|list-file> --out <dir> [options]

  --out <dir>            where results go: <name>.json/.txt/.md (see --formats) and manifest.jsonl (required);
                         <name> is the file's path under the input, extension kept: a.pdf gives a.pdf.json
  --formats <list>       what to write per document, of json,txt,md,pdf,hocr,alto (default json,txt,md):
                         pdf is the searchable PDF (the input's pages with an invisible text layer),
                         alto is written as <name>.xml
  --pdfa                 write the searchable PDF as PDF/A-2b
  --ext <list>           file extensions to take from a folder (default ${DEFAULT_EXTENSIONS.join(',')})
  --glob <pattern>       instead of --ext: paths under the folder matching this glob, e.g. 'scans/**/*.pdf'
  --dpi <n>              PDF rendering resolution (default DEFAULT_DPI, 200)
  --language <code>      passed to the OCR as /ocr/pdf's language field
  --text-layer auto|ocr  auto: use a PDF page's own text when it has usable text (default ocr)
  --concurrency <n>      documents in flight at once (default 4)
  --force                redo documents that are already done
  --fail-fast            stop taking documents after the first that fails
  --chunks               also write passages for embedding: <name>.chunks.jsonl and chunks.jsonl
  --chunk-size <chars>   passage size (default 1000)
  --chunk-overlap <chars> characters of the previous passage repeated (default 200)
  --index <file>         put each document's passages (of --chunk-size) into this search index as it
                         finishes, with vectors when a worker has EMBED_MODEL; query it with ocr-cluster search
  --prune                remove from the index the documents whose input is gone

A rerun skips documents done before with the same content; failed or changed ones are redone.
Exit status: 0 when every document was read, 1 when any failed, 2 for bad arguments.`;

function fail(message: string): never {
  usageError(message, USAGE);
}

function positiveInt(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer of at least ${min}`);
  return n;
}

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      ext: { type: 'string' },
      glob: { type: 'string' },
      dpi: { type: 'string' },
      language: { type: 'string' },
      'text-layer': { type: 'string' },
      concurrency: { type: 'string' },
      force: { type: 'boolean' },
      'fail-fast': { type: 'boolean' },
      chunks: { type: 'boolean' },
      'chunk-size': { type: 'string' },
      'chunk-overlap': { type: 'string' },
      formats: { type: 'string' },
      pdfa: { type: 'boolean' },
      index: { type: 'string' },
      prune: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Options the flags give, parsed as the gateway parses its form fields; a bad one is a usage error. */
function usageChecked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof OcrError) fail(err.message);
    throw err;
  }
}

async function batch(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) fail('give one input folder or list file');
  if (!values.out) fail('--out is required');
  // The cluster's workers read the pages; without a cluster this process runs a worker of its own.
  const clustered = Boolean(process.env.TRANSPORTER);
  const config = loadConfig({
    ...process.env,
    SERVICES: clustered ? 'rasterizer,aggregator' : 'ocr-worker,rasterizer,aggregator',
    NODE_ID: process.env.NODE_ID || `batch-${hostname()}-${process.pid}`,
    LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
  });
  const fields = { dpi: values.dpi, text_layer: values['text-layer'], language: values.language };
  const job: JobOptions = usageChecked(() => parseJobOptions(fields, config.limits.dpi));
  const formats = usageChecked(() => parseOutputFormats(values.formats ?? 'json,txt,md', '--formats'));
  const pdfa = values.pdfa ?? false;
  const chunkSize = positiveInt(values['chunk-size'], 'chunk-size', 1000);
  const chunkOverlap = positiveInt(values['chunk-overlap'], 'chunk-overlap', 200, 0);
  if (chunkOverlap >= chunkSize) fail('--chunk-overlap must be smaller than --chunk-size');
  if (values.prune && !values.index) fail('--prune needs --index');
  let store: IndexStore | undefined;
  try {
    if (values.index !== undefined) {
      mkdirSync(dirname(resolve(values.index)), { recursive: true }); // usually inside --out, which the batch makes
      store = IndexStore.open(resolve(values.index));
    }
  } catch (err) {
    fail(`--index: ${(err as Error).message}`);
  }

  const broker = await startNode(config, { skipProcessEventRegistration: true }); // signals are the batch's: finish the documents in flight first
  // The searchable PDF parses the document: in a child process, as rendering does.
  const writer = new IsolatedOutputWriter(config.isolation.pdf);
  const close = () => {
    store?.close();
    return Promise.all([broker.stop(), writer.close()]);
  };
  let index: BatchIndex | undefined;
  try {
    // In a cluster the workers may still be announcing themselves.
    await broker.waitForServices(['ocr'], config.pageCalls.timeoutMs);
    index =
      store && new BatchIndex(store, { size: chunkSize, overlap: chunkOverlap }, await indexEmbedder(broker, config, store, clustered));
  } catch (err) {
    await close();
    throw err;
  }

  const run = new Batch(
    {
      input: resolve(positionals[0]!),
      outDir: resolve(values.out),
      filter: {
        extensions: values.ext ? values.ext.split(',').map((e) => e.trim().replace(/^\./, '').toLowerCase()) : DEFAULT_EXTENSIONS,
        glob: values.glob,
      },
      concurrency: positiveInt(values.concurrency, 'concurrency', 4),
      force: values.force ?? false,
      failFast: values['fail-fast'] ?? false,
      chunks: values.chunks ? { size: chunkSize, overlap: chunkOverlap } : undefined,
      formats,
      prune: values.prune,
    },
    {
      ocr: (path) => ocrFileJob(broker, path, job, fileJobLimits(config)),
      write: (format, path, result) => writer.write(format, { result, input: { path }, pdfa }),
      index,
    },
    progressReporter(process.stderr),
  );
  // Ctrl-C: no new documents, those in flight finish and are recorded; a second one leaves at once.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      // Leave by the signal itself, as with no handler: process.exit() would terminate the engine
      // threads, and one terminated inside onnxruntime's run aborts the process ("terminate called
      // after throwing an instance of 'Napi::Error'").
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.kill(process.pid, signal);
      return;
    }
    interrupted = true;
    process.stderr.write('\nstopping after the documents in flight (again to leave now)\n');
    run.stop();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const summary = await run.run();
  process.stderr.write('\n');
  console.log(summaryLine(summary));
  await close();
  return summary.documents.failed > 0 || interrupted ? 1 : 0;
}

/**
 * Who embeds the passages of an index: the workers that have EMBED_MODEL (this process's own without
 * TRANSPORTER). Vectors are required when this process has EMBED_MODEL or the index already holds
 * vectors (and then of that model: vectors of two models cannot be compared); otherwise the index
 * gets vectors when a worker embeds, and words alone when none does.
 */
async function indexEmbedder(
  broker: ServiceBroker,
  config: NodeConfig,
  store: IndexStore,
  clustered: boolean,
): Promise<TextEmbedder | undefined> {
  const held = store.vectorSpace()?.model;
  const required = config.embed !== undefined || held !== undefined;
  const embedder =
    required && clustered
      ? await waitForEmbedder(broker, config.pageCalls, held, config.pageCalls.timeoutMs)
      : clusterEmbedder(broker, config.pageCalls, held);
  if (held !== undefined && embedder?.id !== held) {
    throw new Error(
      `The index holds vectors of ${held}, ${embedder ? `the workers embed with ${embedder.id}` : 'no worker embeds'}: ` +
        'set EMBED_MODEL and EMBED_VOCAB to that model, or index into a new file',
    );
  }
  if (required && !embedder) throw new Error('EMBED_MODEL is set, but no OCR worker of the cluster has an embedding model');
  process.stderr.write(
    `index: ${embedder ? `passages and their vectors from ${embedder.id}` : 'passages, no vectors (no embedding model)'}\n`,
  );
  return embedder;
}

const USAGE_ALL = `${USAGE}\n\n${SEARCH_USAGE}`;
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { batch, search: searchCommand };

useOneMallocArena(process.env);
const [command, ...rest] = process.argv.slice(2);
if (command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE_ALL);
  process.exit(0);
}
const run = command === undefined ? undefined : COMMANDS[command];
if (!run) usageError(command ? `unknown command "${command}"` : 'give a command', USAGE_ALL);
try {
  process.exitCode = await run(rest);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
