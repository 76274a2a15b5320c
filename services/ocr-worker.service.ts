/**
 * ocr-worker: reads one page image per `ocr.recognize` call with the process's OcrEngine; with a
 * sentence-embedding model (EMBED_MODEL), also turns texts into vectors per `ocr.embed` call. Its
 * engines lend recognition batches to idle engines on other workers and, when idle, read those that
 * others lend (`ocr.readBatch`, announced by `ocr.idle`: src/broker/batch-lending.ts).
 */
import { availableParallelism, hostname, totalmem } from 'node:os';
import { Readable, type Stream } from 'node:stream';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { embedderMixin, type EmbedderVars } from '../mixins/embedder.mixin.ts';
import { ocrEngineMixin, type OcrEngineVars } from '../mixins/ocr-engine.mixin.ts';
import { IdleEnginesElsewhere } from '../src/broker/batch-lending.ts';
import { classifyError, toMoleculerError, withBrokerErrors } from '../src/broker/broker-errors.ts';
import { MAX_EMBED_TEXTS } from '../src/broker/embed-call.ts';
import { OCR_METRICS, observeStages } from '../src/broker/metrics.ts';
import { jobTagOf } from '../src/broker/logging.ts';
import { natsConnection } from '../src/broker/nats-connection.ts';
import { readAll } from '../src/broker/streams.ts';
import type { NodeConfig } from '../src/config/config.ts';
import type {
  CallerMeta,
  EmbedParams,
  EmbedReply,
  IdleEnginesEvent,
  JobStoppedEvent,
  PageOcr,
  PageResult,
  ReadBatchParams,
  RecognizeParams,
  StepMaxima,
  WorkerHealth,
} from '../src/contracts.ts';
import { OcrError } from '../src/errors.ts';
import { IsolatedDecoder } from '../src/isolation/image-decoder.ts';
import type { IsolationLimits } from '../src/isolation/isolated-process.ts';
import { ocrPageResult } from '../src/jobs/page-result.ts';
import type { PageReader } from '../src/ocr/engine.ts';
import { readLanguages } from '../src/ocr/config.ts';

export interface OcrWorkerSettings extends ServiceSettingSchema {
  /** Pages read at once, each by an engine of its own: the bulkhead's concurrency. */
  slots: number;
  /** Pages waiting beyond those. */
  queueSize: number;
  maxUploadBytes: number;
  maxPixels: number;
  /** Limits of the child process that decodes uploaded images. */
  decodeLimits: IsolationLimits;
}

interface WorkerStats {
  total_requests: number;
  pages_done: number;
  batches_read_for_others: number;
  errors: number;
}

const BULKHEAD_LABELS = { action: 'ocr.recognize', service: 'ocr' };

/** Stopped jobs remembered (job.stopped), the newest kept: far more than can have pages waiting here. */
const STOPPED_JOBS_KEPT = 1000;

/**
 * How long engines stay idle before the worker says so (`ocr.idle`): a page waiting in its queue starts
 * within this, so between two pages of a job the worker does not look idle to the others.
 */
const IDLE_ANNOUNCE_DELAY_MS = 50;

interface CpuSample {
  at: number;
  usage: NodeJS.CpuUsage;
}

/** A page this worker holds: when its call arrived, when its sender stops waiting, its bytes. */
interface HeldPage {
  arrivedAt: number;
  deadlineAt: number;
  stream: Stream | null;
}

interface WorkerVars extends OcrEngineVars, Partial<EmbedderVars> {
  stats: WorkerStats;
  cpu: CpuSample;
  /** Decodes uploaded images in a child process: see src/isolation/image-decoder.ts. */
  decoder: IsolatedDecoder;
  held: Set<HeldPage>;
  stopWatching: () => void;
  /** Idle engines on other workers, lent recognition batches by the engines here. */
  elsewhere: IdleEnginesElsewhere;
  /** Pages in `ocr.recognize` here (past the bulkhead), and the idle engines last announced. */
  pagesHere: number;
  announcedIdle: number;
  announceTimer: NodeJS.Timeout | undefined;
  /** Jobs cancelled or out of time, oldest first: their pages waiting here are not read. */
  stoppedJobs: Set<string>;
}

type WorkerThis = Service<OcrWorkerSettings> & WorkerVars;

async function readPage(
  engine: PageReader,
  decoder: IsolatedDecoder,
  params: RecognizeParams,
  stream: Stream | null,
  settings: OcrWorkerSettings,
): Promise<PageOcr> {
  if (!(stream instanceof Readable)) throw new OcrError('INVALID_PARAMS', "Send the page bytes as the call's stream");
  const { raster } = params;
  const { maxPixels } = settings;
  const { language } = params;
  if (!raster)
    return engine.recognizeImage(
      await readAll(stream, settings.maxUploadBytes),
      maxPixels,
      (data, max) => decoder.decode(data, max),
      language,
    );
  const { width, height, channels } = raster;
  if (width * height > maxPixels) throw new OcrError('IMAGE_TOO_LARGE', `The page has ${width}x${height} pixels, more than MAX_PIXELS`);
  const data = await readAll(stream, width * height * channels);
  if (data.length !== width * height * channels)
    throw new OcrError('INVALID_PARAMS', `The stream has ${data.length} bytes, not ${width}x${height}x${channels}`);
  return engine.recognizeRaster({ data, width, height, channels }, language);
}

/**
 * Announces this worker's idle engines (slots without a page) when that number changed: at once when
 * it fell, after IDLE_ANNOUNCE_DELAY_MS when it rose and stayed.
 */
function noteLoad(worker: WorkerThis): void {
  const idle = Math.max(0, worker.settings.slots - worker.pagesHere);
  clearTimeout(worker.announceTimer);
  if (idle === worker.announcedIdle) return;
  const announce = () => {
    worker.announcedIdle = idle;
    announceIdle(worker);
  };
  if (idle < worker.announcedIdle) announce();
  else worker.announceTimer = setTimeout(announce, IDLE_ANNOUNCE_DELAY_MS);
}

function announceIdle(worker: WorkerThis): void {
  const event: IdleEnginesEvent = { engines: worker.announcedIdle, recognisers: [...worker.engine.recognisers] };
  void worker.broker.broadcast('ocr.idle', event);
}

/** Milliseconds since the call reached this node (Moleculer starts the clock of a call with a time limit on arrival). */
function waitedMs(ctx: Context): number {
  if (!ctx.startHrTime) return 0;
  const [s, ns] = process.hrtime(ctx.startHrTime);
  return s * 1000 + ns / 1e6;
}

export default function ocrWorkerService(config: NodeConfig): ServiceSchema<OcrWorkerSettings, Record<string, never>, WorkerVars> {
  const settings: OcrWorkerSettings = {
    slots: config.worker.slots,
    queueSize: config.worker.queueSize,
    maxUploadBytes: config.limits.maxUploadBytes,
    maxPixels: config.limits.maxPixels,
    decodeLimits: config.isolation.decode,
  };
  const bulkhead = { enabled: true, concurrency: settings.slots, maxQueueSize: settings.queueSize };
  const languages = readLanguages(config.ocr);
  return {
    name: 'ocr',
    settings,
    // Read by the balancer on other nodes: a node with more slots takes more pages, and a page in a
    // language goes only to nodes that read it (src/broker/languages.ts); with a model, `embed` (see embedderMixin).
    metadata: { slots: settings.slots, languages },
    mixins: [ocrEngineMixin({ ocr: config.ocr, engines: settings.slots }), ...(config.embed ? [embedderMixin(config.embed)] : [])],

    created(this: WorkerThis) {
      this.stats = { total_requests: 0, pages_done: 0, batches_read_for_others: 0, errors: 0 };
      this.cpu = { at: performance.now(), usage: process.cpuUsage() };
      this.decoder = new IsolatedDecoder(this.settings.decodeLimits);
      this.held = new Set();
      this.stoppedJobs = new Set();
      this.elsewhere = new IdleEnginesElsewhere(this.broker);
      this.pagesHere = 0;
      this.announcedIdle = 0;
      // After a NATS outage, a page that was still being received will not be whole (chunks were lost)
      // and its sender sends it again: its slot is freed now rather than at its time limit.
      const connection = natsConnection(this.broker);
      this.stopWatching = connection.onReconnect(() => {
        for (const page of this.held) {
          const { stream } = page;
          if (page.arrivedAt < connection.reconnectedAt && stream instanceof Readable && !stream.readableEnded) {
            stream.destroy(new OcrError('WORKER_LOST', 'The connection to NATS was lost while the page was sent'));
          }
        }
      });
    },

    started(this: WorkerThis) {
      noteLoad(this);
    },

    stopped(this: WorkerThis) {
      clearTimeout(this.announceTimer);
      this.stopWatching();
      return this.decoder.close();
    },

    events: {
      'ocr.idle'(this: WorkerThis, ctx: Context<IdleEnginesEvent>) {
        if (ctx.nodeID) this.elsewhere.heard(ctx.nodeID, ctx.params);
      },
      // A worker that joins (its services seen) learns who is idle now; one that left is idle no more.
      '$services.changed'(this: WorkerThis, ctx: Context<{ localService: boolean }>) {
        if (!ctx.params.localService && this.announcedIdle > 0) announceIdle(this);
      },
      '$node.disconnected'(this: WorkerThis, ctx: Context<{ node: { id: string } }>) {
        this.elsewhere.forget(ctx.params.node.id);
      },
      'job.stopped'(this: WorkerThis, ctx: Context<JobStoppedEvent>) {
        const { stoppedJobs } = this;
        stoppedJobs.add(ctx.params.job_id);
        for (const oldest of stoppedJobs) {
          if (stoppedJobs.size <= STOPPED_JOBS_KEPT) break;
          stoppedJobs.delete(oldest);
        }
      },
    },

    actions: {
      recognize: {
        bulkhead,
        params: {
          raster: {
            type: 'object',
            optional: true,
            props: {
              width: { type: 'number', integer: true, positive: true },
              height: { type: 'number', integer: true, positive: true },
              channels: { type: 'enum', values: [1, 3] },
            },
          },
          page_number: { type: 'number', integer: true, positive: true, convert: true },
          language: { type: 'string', optional: true },
        },
        async handler(this: WorkerThis, ctx: Context<RecognizeParams, CallerMeta>): Promise<PageResult> {
          const { stats } = this;
          const { metrics } = this.broker;
          const language = ctx.params.language ?? 'default';
          const limit = ctx.options.timeout ?? 0;
          const arrivedAt = performance.now() - waitedMs(ctx);
          // Its sender has stopped waiting for it (the page waited in this worker's queue past its time
          // limit, or across a NATS reconnect, after which the sender sends it again): reading it
          // would only take the engine from pages someone waits for.
          if (limit > 0 && performance.now() - arrivedAt >= limit)
            throw toMoleculerError(new OcrError('PAGE_TIMEOUT', 'The page waited past its time limit: not read', ctx.params.page_number));
          if (arrivedAt < natsConnection(this.broker).reconnectedAt)
            throw toMoleculerError(new OcrError('WORKER_LOST', 'The page arrived before a NATS outage: not read', ctx.params.page_number));
          // Pages wait here for an engine (page-scheduler.ts): one whose job has stopped meanwhile is dropped.
          if (ctx.meta.job_id !== undefined && this.stoppedJobs.has(ctx.meta.job_id))
            throw toMoleculerError(
              new OcrError('NOT_FOUND', "The page's job was cancelled or ran out of time: not read", ctx.params.page_number),
            );
          stats.total_requests += 1;
          const held: HeldPage = { arrivedAt, deadlineAt: limit > 0 ? arrivedAt + limit : Infinity, stream: ctx.stream };
          this.held.add(held);
          this.pagesHere += 1;
          noteLoad(this);
          try {
            const page = await withBrokerErrors(async () => {
              // The balancer sends a page to a worker that reads its language; a lone worker gets every page.
              if (ctx.params.language !== undefined && !languages.includes(ctx.params.language)) {
                throw new OcrError('NO_WORKERS', `No OCR worker that reads language "${ctx.params.language}" is available`);
              }
              try {
                return await readPage(this.engine, this.decoder, ctx.params, ctx.stream, this.settings);
              } catch (err) {
                if (err instanceof OcrError) throw err;
                this.logger.error(...jobTagOf(ctx.meta), `Page ${ctx.params.page_number} failed in the engine`, err);
                throw new OcrError('ENGINE_FAILED', 'The OCR engine failed on this page', ctx.params.page_number);
              }
            });
            stats.pages_done += 1;
            metrics.increment(OCR_METRICS.pages, { outcome: 'read', language });
            observeStages(metrics, page.timings);
            return ocrPageResult(ctx.params.page_number, page, this.broker.nodeID);
          } catch (err) {
            stats.errors += 1;
            metrics.increment(OCR_METRICS.pages, { outcome: classifyError(err).code, language });
            throw err;
          } finally {
            this.held.delete(held);
            this.pagesHere -= 1;
            noteLoad(this);
          }
        },
      },

      // Not in the bulkhead: a batch is read only by engines with no page, and declined otherwise.
      readBatch: {
        params: {
          dims: { type: 'array', items: { type: 'number', integer: true, positive: true }, length: 4 },
          recogniser: 'string',
        },
        async handler(this: WorkerThis, ctx: Context<ReadBatchParams>): Promise<StepMaxima | null> {
          const { stream } = ctx;
          if (!(stream instanceof Readable))
            throw toMoleculerError(new OcrError('INVALID_PARAMS', "Send the batch's values as the call's stream"));
          const bytes = ctx.params.dims.reduce((size, dim) => size * dim, Float32Array.BYTES_PER_ELEMENT);
          if (this.pagesHere >= this.settings.slots || bytes > this.settings.maxUploadBytes) {
            stream.resume();
            return null;
          }
          return withBrokerErrors(async () => {
            const data = await readAll(stream, bytes);
            if (data.length !== bytes) throw new OcrError('INVALID_PARAMS', `The stream has ${data.length} bytes, not ${bytes}`);
            const input = new Float32Array(bytes / Float32Array.BYTES_PER_ELEMENT);
            new Uint8Array(input.buffer).set(data);
            const maxima = await this.engine.readLentBatch(input, ctx.params.dims, ctx.params.recogniser);
            if (maxima) this.stats.batches_read_for_others += 1;
            return maxima ?? null;
          });
        },
      },

      // Only on a worker with a model; balanced and bulkheaded as pages are (src/broker/embed-call.ts calls it).
      ...(config.embed && {
        embed: {
          bulkhead,
          params: { texts: { type: 'array', items: 'string', min: 1, max: MAX_EMBED_TEXTS } },
          async handler(this: WorkerThis, ctx: Context<EmbedParams>): Promise<EmbedReply> {
            const embedder = this.embedder!;
            return withBrokerErrors(async () => {
              try {
                return { model: embedder.id, vectors: await embedder.embed(ctx.params.texts) };
              } catch (err) {
                this.logger.error('The embedding model failed', err);
                throw new OcrError('ENGINE_FAILED', `The embedding model failed: ${(err as Error).message}`);
              }
            });
          },
        },
      }),

      health: {
        handler(this: WorkerThis): WorkerHealth {
          const now = performance.now(),
            usage = process.cpuUsage();
          const cpuMicros = usage.user - this.cpu.usage.user + usage.system - this.cpu.usage.system;
          const cpuPercent = (cpuMicros / 1000 / Math.max(1, now - this.cpu.at) / availableParallelism()) * 100;
          this.cpu = { at: now, usage };
          const gauge = (name: string) => Number(this.broker.metrics.getMetric(name)?.get(BULKHEAD_LABELS)?.value ?? 0);
          const rss = process.memoryUsage().rss;
          return {
            node_id: this.broker.nodeID,
            host: hostname(),
            pid: process.pid,
            uptime_seconds: Math.round(process.uptime()),
            cpu_percent: Math.round(cpuPercent * 10) / 10,
            memory_mb: Math.round(rss / 1048576),
            memory_percent: Math.round((rss / totalmem()) * 1000) / 10,
            ...this.stats,
            stuck: [...this.held].filter((page) => page.deadlineAt < now).length,
            in_flight: gauge('moleculer.request.bulkhead.inflight'),
            queued: gauge('moleculer.request.bulkhead.queue.size'),
            slots: this.settings.slots,
            ...this.engine.info,
          };
        },
      },
    },
  };
}
