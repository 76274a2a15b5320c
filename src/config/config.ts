/**
 * A node's whole configuration, read from the environment once when the node starts (entry points
 * call loadConfig(process.env)) and handed down: services get their part in their schema `settings`,
 * the pipeline its OcrConfig. Each section's type lives with the code that takes it; the sections
 * only services read are declared here. Every variable is documented in docs/configuration.md.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrokerConfig, NatsConfig } from '../broker/broker-options.ts';
import { LOG_FORMATS } from '../broker/logging.ts';
import type { PageCallPolicy } from '../broker/ocr-call.ts';
import type { AccessSettings } from '../http/access.ts';
import type { IsolationLimits } from '../isolation/isolated-process.ts';
import type { DpiLimits } from '../jobs/job-options.ts';
import type { OcrConfig } from '../ocr/config.ts';
import type { EmbedderOptions } from '../search/embedder.ts';
import { countInRange, list, oneOf, optionalText, positiveCount, positiveNumber, text, wholeNumber, type Env } from './env.ts';
import { loadOcrConfig } from './ocr.ts';

export const SERVICE_NAMES = ['ocr-worker', 'rasterizer', 'aggregator', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/** The resolutions a PDF job may ask for. */
const DPI_RANGE = { min: 72, max: 600 };

export interface HttpConfig {
  host: string;
  port: number;
  access: AccessSettings;
  /** Longest wait for the next byte of an upload's body, in ms (UPLOAD_IDLE_TIMEOUT). */
  uploadIdleTimeoutMs: number;
  /** Uploads this node reads at once; more are refused with 503 (MAX_CONCURRENT_UPLOADS). */
  maxConcurrentUploads: number;
}

export interface LimitsConfig {
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Most pixels a page image may have (checked from its header before decoding). */
  maxPixels: number;
  /** Most pages a PDF may have (read from the document before any rendering). */
  maxPages: number;
  dpi: DpiLimits;
}

export interface JobsConfig {
  /** Where uploads are written while their job runs, and where running jobs are journaled. */
  tempDir: string;
  /** How long finished jobs are kept, in ms. */
  ttlMs: number;
  /** Longest a job may run, in ms: its unstarted pages then fail JOB_TIMEOUT. */
  timeoutMs: number;
}

/** How much work a node takes before it refuses more (503 BUSY, before the upload is stored). */
export interface AdmissionConfig {
  /** Pages waiting in this node's queue above which `POST /ocr/pdf` and `POST /ocr/image` are refused. */
  maxQueuedPages: number;
  /** Jobs waiting or running on this node above which any new one (`POST /jobs` too) is refused. */
  maxQueuedJobs: number;
}

export interface WorkerConfig {
  /** Pages an OCR worker reads at once, each by an engine of its own (the bulkhead's concurrency). */
  slots: number;
  /** Pages waiting per worker beyond the running ones. */
  queueSize: number;
}

/** A sentence-embedding model (EMBED_*): an ocr-worker with one offers `ocr.embed`, and search embeds queries with it. */
export type EmbedConfig = Required<Pick<EmbedderOptions, 'model' | 'vocab' | 'maxTokens' | 'batchSize' | 'threads'>>;

export interface SearchConfig {
  /** The index the gateway answers GET /search from, opened read-only (SEARCH_INDEX). */
  index?: string;
}

export interface NodeConfig {
  /** The services this node runs (SERVICES). */
  services: ServiceName[];
  broker: BrokerConfig;
  http: HttpConfig;
  limits: LimitsConfig;
  jobs: JobsConfig;
  admission: AdmissionConfig;
  /** How a page is sent to `ocr.recognize`: its time limit and the retries of a transient failure. */
  pageCalls: PageCallPolicy;
  /** Limits of the child processes that parse PDFs and decode uploaded images; how many render PDFs at once. */
  isolation: { pdf: IsolationLimits; pdfRenderers: number; decode: IsolationLimits };
  worker: WorkerConfig;
  ocr: OcrConfig;
  /** Set when EMBED_MODEL is. */
  embed?: EmbedConfig;
  search: SearchConfig;
}

function services(env: Env): ServiceName[] {
  const names = list(env, 'SERVICES');
  if (names.length === 0 || names.includes('all')) return [...SERVICE_NAMES];
  return names.map((name) => {
    const known = SERVICE_NAMES.find((s) => s === name);
    if (!known) throw new Error(`Unknown service "${name}" in SERVICES; known: ${SERVICE_NAMES.join(', ')}`);
    return known;
  });
}

function cannotRead(name: string, path: string, err: unknown): Error {
  return new Error(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
}

function pemFile(env: Env, name: string): string | undefined {
  const path = optionalText(env, name);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw cannotRead(name, path, err);
  }
}

/** A file the node will read later, checked now so a wrong path stops the node with the variable's name. */
function readableFile(env: Env, name: string): string | undefined {
  const path = optionalText(env, name);
  if (path === undefined) return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw cannotRead(name, path, err);
  }
  return path;
}

function embed(env: Env): EmbedConfig | undefined {
  const model = readableFile(env, 'EMBED_MODEL'),
    vocab = readableFile(env, 'EMBED_VOCAB');
  if (model === undefined && vocab === undefined) return undefined;
  if (model === undefined || vocab === undefined) throw new Error('EMBED_MODEL and EMBED_VOCAB go together: the model and its vocab.txt');
  return {
    model,
    vocab,
    // BERT's position embeddings stop at 512; all-MiniLM-L6-v2 was trained on 256.
    maxTokens: countInRange(env, 'EMBED_MAX_TOKENS', 256, 2, 8192),
    batchSize: positiveCount(env, 'EMBED_BATCH_SIZE', 16),
    threads: positiveCount(env, 'EMBED_THREADS', 1),
  };
}

function nats(env: Env): NatsConfig | undefined {
  const url = optionalText(env, 'TRANSPORTER');
  if (url === undefined) return undefined;
  const ca = pemFile(env, 'NATS_TLS_CA'),
    cert = pemFile(env, 'NATS_TLS_CERT'),
    key = pemFile(env, 'NATS_TLS_KEY');
  return {
    url,
    user: optionalText(env, 'NATS_USER'),
    pass: optionalText(env, 'NATS_PASSWORD'),
    token: optionalText(env, 'NATS_TOKEN'),
    tls: ca || cert || key ? { ca, cert, key } : undefined,
  };
}

/**
 * Pages one process reads at once, each by an engine of its own. A cluster node reads one (capacity
 * grows by starting more processes, each ~550 MB); the one-process server has no other workers, so it
 * runs one single-threaded engine per core, up to 4 (~200 MB each): measured on 2 cores, 2 x 1 thread
 * read 12 pages in 18.6 s where 1 x 2 threads took 27.0 s.
 */
function defaultSlots(env: Env): number {
  return optionalText(env, 'TRANSPORTER') ? 1 : Math.min(4, availableParallelism());
}

/** The node's configuration; throws an Error naming the variable when a value is bad. */
export function loadConfig(env: Env): NodeConfig {
  const slots = positiveCount(env, 'OCR_CONCURRENCY', defaultSlots(env));
  return {
    services: services(env),
    broker: {
      namespace: text(env, 'NAMESPACE', 'ocr-cluster'),
      nodeID: text(env, 'NODE_ID', `${hostname()}-${process.pid}`),
      logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
      logFormat: oneOf(env, 'LOG_FORMAT', LOG_FORMATS, 'text'),
      nats: nats(env),
      circuitHalfOpenMs: positiveNumber(env, 'CIRCUIT_HALF_OPEN_SECONDS', 30) * 1000,
    },
    http: {
      host: text(env, 'COORDINATOR_HOST', '0.0.0.0'),
      port: positiveCount(env, 'COORDINATOR_PORT', 8000),
      access: {
        apiKeys: new Set(list(env, 'API_KEYS')),
        adminKeys: new Set(list(env, 'ADMIN_API_KEYS')),
        rateLimitPerMinute: wholeNumber(env, 'RATE_LIMIT_PER_MINUTE', 0),
        corsOrigins: list(env, 'CORS_ORIGINS'),
      },
      uploadIdleTimeoutMs: positiveNumber(env, 'UPLOAD_IDLE_TIMEOUT', 30) * 1000,
      maxConcurrentUploads: positiveCount(env, 'MAX_CONCURRENT_UPLOADS', 32),
    },
    limits: {
      maxUploadBytes: Math.floor(positiveNumber(env, 'MAX_UPLOAD_MB', 100) * 1024 * 1024),
      maxPixels: positiveCount(env, 'MAX_PIXELS', 100_000_000),
      maxPages: positiveCount(env, 'MAX_PAGES', 2000),
      dpi: { default: countInRange(env, 'DEFAULT_DPI', 200, DPI_RANGE.min, DPI_RANGE.max), ...DPI_RANGE },
    },
    jobs: {
      tempDir: text(env, 'TEMP_DIR', join(tmpdir(), 'ocr-cluster')),
      ttlMs: Math.floor(positiveNumber(env, 'JOB_TTL_SECONDS', 3600) * 1000),
      timeoutMs: Math.min(2 ** 31 - 1, Math.floor(positiveNumber(env, 'JOB_TIMEOUT', 21600) * 1000)), // setTimeout's limit
    },
    admission: { maxQueuedPages: positiveCount(env, 'MAX_QUEUED_PAGES', 500), maxQueuedJobs: positiveCount(env, 'MAX_QUEUED_JOBS', 1000) },
    pageCalls: {
      timeoutMs: Math.floor(positiveNumber(env, 'WORKER_REQUEST_TIMEOUT', 120) * 1000),
      retry: { retries: wholeNumber(env, 'MAX_RETRIES', 3), delayMs: positiveNumber(env, 'RETRY_DELAY_SECONDS', 1) * 1000 },
    },
    isolation: {
      pdf: { memoryMb: positiveNumber(env, 'PDF_MEMORY_MB', 2048), deadlineMs: positiveNumber(env, 'PDF_RENDER_TIMEOUT', 60) * 1000 },
      // One per core: rendering is short next to reading a page, and each child can hold ~200 MB.
      pdfRenderers: positiveCount(env, 'PDF_RENDERERS', availableParallelism()),
      // A decoded page is at most MAX_PIXELS x 3 bytes; the cap leaves room for the decoder's own buffers.
      decode: { memoryMb: positiveNumber(env, 'DECODE_MEMORY_MB', 2048), deadlineMs: positiveNumber(env, 'DECODE_TIMEOUT', 60) * 1000 },
    },
    worker: { slots, queueSize: positiveCount(env, 'OCR_QUEUE_SIZE', 100) },
    ocr: loadOcrConfig(env, slots),
    embed: embed(env),
    search: { index: optionalText(env, 'SEARCH_INDEX') },
  };
}
