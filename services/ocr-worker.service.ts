/**
 * ocr-worker: reads one page image per `ocr.recognize` call with the process's OcrEngine; with a
 * sentence-embedding model (EMBED_MODEL), also turns texts into vectors per `ocr.embed` call.
 */
import { availableParallelism, hostname, totalmem } from 'node:os';
import { Readable, type Stream } from 'node:stream';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { embedderMixin, type EmbedderVars } from '../mixins/embedder.mixin.ts';
import { ocrEngineMixin, type OcrEngineVars } from '../mixins/ocr-engine.mixin.ts';
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
  JobStoppedEvent,
  PageOcr,
  PageResult,
  RecognizeParams,
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
  errors: number;
}

const BULKHEAD_LABELS = { action: 'ocr.recognize', service: 'ocr' };

/** Stopped jobs remembered (job.stopped), the newest kept: far more than can have pages waiting here. */
const STOPPED_JOBS_KEPT = 1000;

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
      this.stats = { total_requests: 0, pages_done: 0, errors: 0 };
      this.cpu = { at: performance.now(), usage: process.cpuUsage() };
      this.decoder = new IsolatedDecoder(this.settings.decodeLimits);
      this.held = new Set();
      this.stoppedJobs = new Set();
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

    stopped(this: WorkerThis) {
      this.stopWatching();
      return this.decoder.close();
    },

    events: {
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
          }
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
