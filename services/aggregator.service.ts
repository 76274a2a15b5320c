/**
 * aggregator: owns job state. A job opens its PDF on the rasterizer of the node that holds the upload,
 * runs its pages through `rasterizer.page` with a bounded window, gathers results in any order and
 * broadcasts progress (`job.progress`). Finished jobs are kept for JOB_TTL_SECONDS.
 */
import { rm } from 'node:fs/promises';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { classifyError } from '../src/broker/broker-errors.ts';
import { OcrError } from '../src/errors.ts';
import { JobJournal } from '../src/jobs/job-journal.ts';
import type { JobsConfig, NodeConfig } from '../src/config/config.ts';
import type {
  CallerMeta, CloseParams, CloseReply, JobIdParams, JobPageImageParams, JobPageParams, JobProgress, JobResult, OpenedDocument, OpenParams, PageImageParams, PageParams, PageResult, ResultParams,
  SubmitParams,
} from '../src/contracts.ts';
import type { DpiLimits } from '../src/jobs/job-options.ts';
import { JobStore } from '../src/jobs/job-store.ts';
import { runPages } from '../src/jobs/run-pages.ts';

export interface AggregatorSettings extends ServiceSettingSchema {
  jobs: JobsConfig;
  dpi: DpiLimits;
}

interface AggregatorMethods {
  runJob(id: string, signal: AbortSignal, opened: OpenedDocument, params: SubmitParams): Promise<void>;
  publish(progress: JobProgress): void;
}

interface AggregatorVars {
  store: JobStore;
  journal: JobJournal;
  sweeper: NodeJS.Timeout;
}

type AggregatorThis = Service<AggregatorSettings> & AggregatorMethods & AggregatorVars;

export default function aggregatorService(config: NodeConfig): ServiceSchema<AggregatorSettings, AggregatorMethods, AggregatorVars> {
  const settings: AggregatorSettings = { jobs: config.jobs, dpi: config.limits.dpi };
  return {
    name: 'aggregator',
    settings,

    created(this: AggregatorThis) {
      this.store = new JobStore(this.settings.jobs.ttlMs);
    },

    async started(this: AggregatorThis) {
      const { journal, orphans } = await JobJournal.open(this.settings.jobs.tempDir, this.broker.instanceID);
      this.journal = journal;
      for (const record of orphans) {
        this.logger.warn(`Job ${record.job_id} (${record.filename}) was running when a previous start of this node died: reported as JOB_INTERRUPTED`);
        const { filename, file_size_bytes, total_pages, owner } = record;
        this.store.interrupted(record.job_id, { filename, file_size_bytes, total_pages, owner }, new Date(record.start_time));
        await rm(record.upload_path, { force: true });
      }
      this.sweeper = setInterval(() => this.store.sweep(), Math.min(60_000, this.settings.jobs.ttlMs)).unref();
    },

    async stopped(this: AggregatorThis) {
      clearInterval(this.sweeper);
      await this.journal.close();
    },

    actions: {
      /** Opens the document and starts the job; answers at once with its progress. */
      submit: {
        params: {
          path: 'string',
          node_id: 'string',
          filename: 'string',
          file_size_bytes: { type: 'number', integer: true, min: 0 },
          dpi: { type: 'number', min: settings.dpi.min, max: settings.dpi.max },
          text_layer: { type: 'enum', values: ['auto', 'ocr'] },
          language: { type: 'string', optional: true },
          password: { type: 'string', optional: true },
        },
        async handler(this: AggregatorThis, ctx: Context<SubmitParams, CallerMeta>): Promise<JobProgress> {
          const { path, password, node_id: nodeID } = ctx.params;
          const opened = await ctx.call<OpenedDocument, OpenParams>('rasterizer.open', { path, password }, { nodeID });
          const spec = { filename: ctx.params.filename, file_size_bytes: ctx.params.file_size_bytes, total_pages: opened.pages, owner: ctx.meta.user?.key };
          const { id, signal } = this.store.create(spec);
          this.store.opened(id, opened);
          await this.journal.begin({ job_id: id, ...spec, start_time: new Date().toISOString(), upload_path: path });
          this.runJob(id, signal, opened, ctx.params).catch((err) => this.logger.error(`Job ${id} broke:`, err));
          return this.store.progress(id);
        },
      },

      status: {
        params: { id: 'string' },
        handler(this: AggregatorThis, ctx: Context<JobIdParams, CallerMeta>): JobProgress {
          return this.store.progress(ctx.params.id, ctx.meta.user);
        },
      },

      /** The finished job's result; with `wait`, waits for the job to end first. */
      result: {
        params: { id: 'string', wait: { type: 'boolean', optional: true } },
        async handler(this: AggregatorThis, ctx: Context<ResultParams, CallerMeta>): Promise<JobResult> {
          if (ctx.params.wait) await this.store.ended(ctx.params.id, ctx.meta.user);
          return this.store.result(ctx.params.id, ctx.meta.user);
        },
      },

      /** A page of the job once read, before the job ends too (`GET /jobs/:id/pages/:n`). */
      page: {
        params: { id: 'string', page: { type: 'number', integer: true, positive: true, convert: true } },
        handler(this: AggregatorThis, ctx: Context<JobPageParams, CallerMeta>): PageResult {
          return this.store.page(ctx.params.id, ctx.params.page, ctx.meta.user).result;
        },
      },

      /** A page read, as an image, from the node that read it (`GET /jobs/:id/pages/:n/image`). */
      pageImage: {
        params: {
          id: 'string',
          page: { type: 'number', integer: true, positive: true },
          width: { type: 'number', integer: true, min: 16, optional: true },
          format: { type: 'enum', values: ['jpeg', 'png'] },
        },
        handler(this: AggregatorThis, ctx: Context<JobPageImageParams, CallerMeta>): Promise<Buffer> {
          const { id, page, width, format } = ctx.params;
          const doc = this.store.page(id, page, ctx.meta.user).document;
          if (!doc) throw new OcrError('NOT_FOUND', `Job ${id} keeps no page images`);
          return ctx.call<Buffer, PageImageParams>('rasterizer.pageImage', { doc_id: doc.doc_id, page, width, format }, { nodeID: doc.node_id });
        },
      },

      cancel: {
        params: { id: 'string' },
        handler(this: AggregatorThis, ctx: Context<JobIdParams, CallerMeta>): JobProgress {
          const progress = this.store.cancel(ctx.params.id, ctx.meta.user);
          this.publish(progress);
          return progress;
        },
      },

      /** The jobs the caller may see: its key's own, or every job for an admin key or without keys. */
      list: {
        handler(this: AggregatorThis, ctx: Context<unknown, CallerMeta>): JobProgress[] {
          return this.store.list(ctx.meta.user);
        },
      },
    },

    methods: {
      async runJob(this: AggregatorThis, id: string, signal: AbortSignal, opened: OpenedDocument, params: SubmitParams): Promise<void> {
        const { store } = this;
        store.started(id);
        const { timeoutMs, window } = this.settings.jobs;
        const limit = setTimeout(() => store.expire(id, timeoutMs / 1000), timeoutMs);
        this.publish(store.progress(id));
        const pages = Array.from({ length: opened.pages }, (_, i) => i + 1);
        const readPage = (page: number) =>
          this.broker.call<PageResult, PageParams>('rasterizer.page', { doc_id: opened.doc_id, page, dpi: params.dpi, text_layer: params.text_layer }, { nodeID: opened.node_id, timeout: 0 });
        try {
          await runPages(pages, window, readPage, (run) => {
            if (run.result) store.addPage(id, run.result);
            else {
              const err = classifyError(run.error);
              if (err.code === 'INTERNAL') this.logger.error(`Job ${id} page ${run.page}:`, run.error);
              store.addError(id, { page: run.page, code: err.code, message: err.message });
            }
            this.publish(store.progress(id));
          }, signal);
        } finally {
          clearTimeout(limit);
          await this.journal.end(id);
          await this.broker.call<CloseReply, CloseParams>('rasterizer.close', { doc_id: opened.doc_id }, { nodeID: opened.node_id }).catch((err) => this.logger.warn(`Closing the document of job ${id}:`, err));
          this.publish(store.finish(id));
        }
      },

      publish(this: AggregatorThis, progress: JobProgress) {
        this.broker.broadcast('job.progress', progress);
      },
    },
  };
}
