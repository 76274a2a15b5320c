/**
 * aggregator: owns job state. A job opens its PDF on the rasterizer of the node that holds the upload,
 * runs its pages through `rasterizer.page` as this node's page queue hands them out (taking turns with
 * the other jobs, within the cluster's capacity: src/broker/page-scheduler.ts), gathers results in any order and
 * broadcasts progress (`job.progress`). Finished jobs are kept for JOB_TTL_SECONDS, and with them,
 * on the rasterizer's node, the uploads of the REST API's jobs, from which `output` has the searchable
 * PDF written there.
 */
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { classifyError, withBrokerErrors } from '../src/broker/broker-errors.ts';
import { streamOf, streamOfPieces } from '../src/broker/streams.ts';
import { checkLanguage, trackLanguages } from '../src/broker/languages.ts';
import { setJobCounts } from '../src/broker/metrics.ts';
import { JobTag } from '../src/broker/logging.ts';
import { pageScheduler } from '../src/broker/page-scheduler.ts';
import { OcrError } from '../src/errors.ts';
import { JobJournal, type JournalRecord } from '../src/jobs/job-journal.ts';
import type { JobsConfig, NodeConfig } from '../src/config/config.ts';
import type {
  CallerMeta,
  CloseParams,
  CloseReply,
  JobIdParams,
  JobPageImageParams,
  JobPageParams,
  JobProgress,
  JobResult,
  JobStoppedEvent,
  OpenedDocument,
  OpenParams,
  OutputParams,
  PageImageParams,
  PageParams,
  PageResult,
  PdfParams,
  ResultParams,
  SubmitParams,
} from '../src/contracts.ts';
import type { DpiLimits } from '../src/jobs/job-options.ts';
import { JobStore } from '../src/jobs/job-store.ts';
import { OUTPUT_FORMATS, writeOutput } from '../src/outputs/index.ts';
import { jsonPieces } from '../src/outputs/json.ts';

export interface AggregatorSettings extends ServiceSettingSchema {
  jobs: JobsConfig;
  dpi: DpiLimits;
}

interface AggregatorMethods {
  runJob(id: string, signal: AbortSignal, opened: OpenedDocument, params: SubmitParams, record: JournalRecord): Promise<void>;
  release(id: string): Promise<void>;
  publish(progress: JobProgress): void;
}

interface AggregatorVars {
  store: JobStore;
  journal: JobJournal;
  sweeper: NodeJS.Timeout;
  /** Ended jobs whose upload is kept on the rasterizer's node, by job id. */
  kept: Map<string, OpenedDocument>;
}

type AggregatorThis = Service<AggregatorSettings> & AggregatorMethods & AggregatorVars;

const FORMAT_PARAM = { type: 'enum', values: Object.keys(OUTPUT_FORMATS) } as const;

export default function aggregatorService(config: NodeConfig): ServiceSchema<AggregatorSettings, AggregatorMethods, AggregatorVars> {
  const settings: AggregatorSettings = { jobs: config.jobs, dpi: config.limits.dpi };
  return {
    name: 'aggregator',
    settings,

    created(this: AggregatorThis) {
      this.store = new JobStore(this.settings.jobs.ttlMs);
      this.kept = new Map();
    },

    async started(this: AggregatorThis) {
      trackLanguages(this.broker);
      const { journal, orphans } = await JobJournal.open(this.settings.jobs.tempDir, this.broker.instanceID);
      this.journal = journal;
      for (const { job_id: id, start_time: start, upload_path: upload, ended, file_job: fileJob, ...spec } of orphans) {
        if (!ended && !fileJob) {
          this.logger.warn(
            new JobTag(id),
            `Job ${id} (${spec.filename}) was running when a previous start of this node died: reported as JOB_INTERRUPTED`,
          );
          this.store.interrupted(id, spec, new Date(start));
        }
        await rm(upload, { force: true });
      }
      setJobCounts(this.broker.metrics, this.store.statusCounts());
      const sweep = async () => {
        for (const id of this.store.sweep()) await this.release(id);
      };
      const every = Math.min(60_000, this.settings.jobs.ttlMs);
      this.sweeper = setInterval(
        () => void sweep().catch((err) => this.logger.warn('Removing the uploads of old jobs:', err)),
        every,
      ).unref();
    },

    async stopped(this: AggregatorThis) {
      clearInterval(this.sweeper);
      // Their jobs go with this process: the uploads are no use to anyone now.
      await Promise.all([...this.kept.keys()].map((id) => this.release(id)));
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
          output: FORMAT_PARAM,
          pdfa: 'boolean',
          keep_upload: 'boolean',
        },
        async handler(this: AggregatorThis, ctx: Context<SubmitParams, CallerMeta>): Promise<JobProgress> {
          const { path, password, node_id: nodeID } = ctx.params;
          await withBrokerErrors(() => checkLanguage(this.broker, ctx.params.language));
          const opened = await ctx.call<OpenedDocument, OpenParams>('rasterizer.open', { path, password }, { nodeID });
          const { filename, file_size_bytes: size, output, pdfa } = ctx.params;
          const spec = { filename, file_size_bytes: size, total_pages: opened.pages, output, pdfa, owner: ctx.meta.user?.key };
          const { id, signal } = this.store.create(spec);
          this.store.opened(id, opened);
          const record: JournalRecord = {
            job_id: id,
            ...spec,
            start_time: new Date().toISOString(),
            upload_path: path,
            file_job: !ctx.params.keep_upload,
          };
          await this.journal.begin(record);
          this.runJob(id, signal, opened, ctx.params, record).catch((err) => this.logger.error(new JobTag(id), `Job ${id} broke:`, err));
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
          return this.store.page(ctx.params.id, ctx.params.page, ctx.meta.user);
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
          const doc = this.store.pageDocument(id, page, ctx.meta.user);
          if (!doc) throw new OcrError('NOT_FOUND', `Job ${id} keeps no page images`);
          return ctx.call<Buffer, PageImageParams>(
            'rasterizer.pageImage',
            { doc_id: doc.doc_id, page, width, format },
            { nodeID: doc.node_id },
          );
        },
      },

      /**
       * The finished job's result as `format`, in a stream; with `wait`, after waiting for the job to end.
       * The searchable PDF is written by the rasterizer of the node that holds the upload, from the
       * result sent there (see docs/architecture.md).
       */
      output: {
        params: {
          id: 'string',
          format: FORMAT_PARAM,
          wait: { type: 'boolean', optional: true },
          pdfa: { type: 'boolean', optional: true },
        },
        handler(this: AggregatorThis, ctx: Context<OutputParams, CallerMeta>): Promise<Readable> {
          return withBrokerErrors(async () => {
            const { id, format } = ctx.params;
            if (ctx.params.wait) await this.store.ended(id, ctx.meta.user);
            if (format !== 'json' && format !== 'pdf')
              return streamOf(Buffer.from(await writeOutput(format, { result: this.store.result(id, ctx.meta.user) })));
            // JSON, and the searchable PDF's input, are written from the pages' kept text, not from objects.
            const json = streamOfPieces(jsonPieces(this.store.serializedResult(id, ctx.meta.user)));
            if (format === 'json') return json;
            const input = this.kept.get(id);
            if (!input) throw new OcrError('NOT_FOUND', `The input of job ${id} is not kept: submit the file again`);
            const params: PdfParams = { doc_id: input.doc_id, pdfa: ctx.params.pdfa ?? this.store.spec(id).pdfa };
            return ctx.call<Readable, PdfParams>('rasterizer.pdf', params, {
              nodeID: input.node_id,
              stream: json,
            });
          });
        },
      },

      /** A running job is cancelled; an ended one is removed, with its kept upload. */
      cancel: {
        params: { id: 'string' },
        async handler(this: AggregatorThis, ctx: Context<JobIdParams, CallerMeta>): Promise<JobProgress> {
          const { id } = ctx.params;
          const progress = this.store.cancel(id, ctx.meta.user);
          if (progress.finished && this.store.remove(id)) await this.release(id);
          else this.publish(progress);
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
      async runJob(
        this: AggregatorThis,
        id: string,
        signal: AbortSignal,
        opened: OpenedDocument,
        params: SubmitParams,
        record: JournalRecord,
      ): Promise<void> {
        const { store } = this;
        const tag = new JobTag(id);
        store.started(id);
        this.logger.info(tag, `Job ${id} started: ${params.filename}, ${opened.pages} pages`);
        const { timeoutMs } = this.settings.jobs;
        const limit = setTimeout(() => store.expire(id, timeoutMs / 1000), timeoutMs);
        this.publish(store.progress(id));
        const pages = Array.from({ length: opened.pages }, (_, i) => i + 1);
        // Closed as soon as the job is cancelled or out of time: its pages rendered and waiting for a
        // slot are then not sent (the rasterizer sends only pages of open documents), and the workers
        // drop those waiting for an engine there (job.stopped).
        let closing: Promise<unknown> | undefined;
        const close = () =>
          (closing ??= this.broker
            .call<CloseReply, CloseParams>(
              'rasterizer.close',
              { doc_id: opened.doc_id, keep_upload: params.keep_upload },
              { nodeID: opened.node_id },
            )
            .catch((err) => this.logger.warn(tag, `Closing the document of job ${id}:`, err)));
        const stopAtAbort = () => {
          void close();
          // Best effort, as progress: a page that still reaches an engine is read and its result dropped.
          void this.broker.broadcast('job.stopped', { job_id: id } satisfies JobStoppedEvent);
        };
        signal.addEventListener('abort', stopAtAbort, { once: true });
        const readPage = (page: number) =>
          this.broker.call<PageResult, PageParams>(
            'rasterizer.page',
            { doc_id: opened.doc_id, page, dpi: params.dpi, text_layer: params.text_layer, language: params.language },
            { nodeID: opened.node_id, timeout: 0, meta: { job_id: id } },
          );
        try {
          await pageScheduler(this.broker).run(
            id,
            pages,
            readPage,
            (run) => {
              if (run.result) store.addPage(id, run.result);
              else if (signal.aborted)
                return; // not read because the job ended (a timed-out job lists it as JOB_TIMEOUT)
              else {
                const err = classifyError(run.error);
                if (err.code === 'INTERNAL') this.logger.error(tag, `Job ${id} page ${run.page}:`, run.error);
                store.addError(id, { page: run.page, code: err.code, message: err.message });
              }
              this.publish(store.progress(id));
            },
            signal,
          );
        } finally {
          clearTimeout(limit);
          signal.removeEventListener('abort', stopAtAbort);
          if (params.keep_upload) {
            this.kept.set(id, opened);
            await this.journal.kept(record);
          } else await this.journal.end(id);
          await close();
          const end = store.finish(id);
          this.logger.info(tag, `Job ${id} ended ${end.status}: ${end.pages_done} pages read, ${end.pages_failed} failed`);
          this.publish(end);
        }
      },

      /** Deletes the kept upload of a job that is being forgotten. */
      async release(this: AggregatorThis, id: string): Promise<void> {
        setJobCounts(this.broker.metrics, this.store.statusCounts());
        const input = this.kept.get(id);
        if (!input) return;
        this.kept.delete(id);
        await this.broker
          .call<CloseReply, CloseParams>('rasterizer.close', { doc_id: input.doc_id }, { nodeID: input.node_id })
          .catch((err) => this.logger.warn(new JobTag(id), `Removing the upload of job ${id}:`, err));
        await this.journal.end(id);
      },

      publish(this: AggregatorThis, progress: JobProgress) {
        setJobCounts(this.broker.metrics, this.store.statusCounts());
        void this.broker.broadcast('job.progress', progress); // progress events are best effort; the job store has the truth
      },
    },
  };
}
