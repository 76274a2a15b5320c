/** gateway: the REST API (moleculer-web) and the web page for people. Reads uploads, calls the OCR services, shapes the replies. */
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import type { Context, Service, ServiceSchema } from 'moleculer';
import ApiGateway, { type ApiSettingsSchema, type GatewayResponse, type IncomingRequest, type Route } from 'moleculer-web';
import { OcrError } from '../src/errors.ts';
import { toMoleculerError } from '../src/broker/broker-errors.ts';
import { ocrImageJob } from '../src/jobs/image-job.ts';
import { checkApiKey, RateLimitWindow, rateLimitKey, sameOriginIsNotCors, type AccessSettings } from '../src/http/access.ts';
import { admit, type AdmissionLimits } from '../src/http/admission.ts';
import { sendError, sendFile, sendJson } from '../src/http/reply.ts';
import { readUpload, saveUpload, UploadSlots, type UploadInfo, type UploadLimits } from '../src/http/upload.ts';
import { WebPage } from '../src/http/web-page.ts';
import { openApiDocument } from '../src/http/openapi.ts';
import { parseJobOptions, parseLanguage, parseOutputOptions, parseResultQuery, type DpiLimits } from '../src/jobs/job-options.ts';
import { checkLanguage, trackLanguages } from '../src/broker/languages.ts';
import { IMAGE_KINDS, sniffMedia, type MediaKind } from '../src/jobs/media.ts';
import { checkImageHeader } from '../src/ocr/image/raster.ts';
import { parsePageImageOptions } from '../src/jobs/page-images.ts';
import { OUTPUT_FORMATS } from '../src/outputs/index.ts';
import { IsolatedOutputWriter } from '../src/outputs/isolated-writer.ts';
import type { IsolationLimits } from '../src/isolation/isolated-process.ts';
import type { PageCallPolicy } from '../src/broker/ocr-call.ts';
import { clusterEmbedder } from '../src/broker/embed-call.ts';
import { parseSearchQuery } from '../src/http/search-query.ts';
import type { IndexStore } from '../src/search/index-store.ts';
import { search } from '../src/search/search.ts';
import { pageScheduler } from '../src/broker/page-scheduler.ts';
import { workersStatus } from '../src/broker/cluster-status.ts';
import { joinPrometheusTexts } from '../src/broker/metrics.ts';
import { stopSignal } from '../src/broker/stopping.ts';
import type { NodeConfig } from '../src/config/config.ts';
import type {
  ApiCaller,
  GatewayHealth,
  JobIdParams,
  JobPageImageParams,
  JobProgress,
  OutputFormat,
  OutputOptions,
  OutputParams,
  SearchReply,
  SubmitParams,
  WorkersStatus,
} from '../src/contracts.ts';

type ProgressListener = (progress: JobProgress) => void;

/** A result's PDF/A choice (the job's when not given) and whether to wait for the job to end. */
interface OutputChoice {
  pdfa?: boolean;
  wait?: boolean;
}

interface GatewayMethods {
  ocrImage(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  submitFile(req: IncomingRequest, accept: 'pdf' | 'document', kind: 'sync' | 'job'): Promise<JobProgress>;
  ocrPdf(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  createJob(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  jobResult(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  sendJobOutput(req: IncomingRequest, res: GatewayResponse, job: JobProgress, format: OutputFormat, options: OutputChoice): Promise<void>;
  jobEvents(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  pageImage(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  metrics(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  searchPassages(req: IncomingRequest, res: GatewayResponse): Promise<void>;
  searchIndex(): Promise<IndexStore>;
}

interface GatewayVars {
  /** Server-sent-event subscribers per job id. */
  listeners: Map<string, Set<ProgressListener>>;
  webPage: WebPage;
  /** Writes an image's outputs (its PDF in a child process). */
  writer: IsolatedOutputWriter;
  /** Uploads being read (MAX_CONCURRENT_UPLOADS). */
  uploadSlots: UploadSlots;
  /** SEARCH_INDEX, read-only, once it could be opened. */
  searchStore?: IndexStore;
  /** GET /openapi.json. */
  openApi: Record<string, unknown>;
}

/** moleculer-web's settings and ours; `access` holds the API keys, kept from other nodes ($secureSettings). */
export type GatewaySettings = ApiSettingsSchema & {
  access: AccessSettings;
  uploads: UploadLimits;
  /** Uploads read at once. */
  maxConcurrentUploads: number;
  /** Checked in an image upload's header before it is queued. */
  maxPixels: number;
  /** Where PDF uploads are written while their job runs. */
  tempDir: string;
  dpi: DpiLimits;
  pageCalls: PageCallPolicy;
  /** Limits of the child process that writes an image's PDF. */
  pdfLimits: IsolationLimits;
  /** The search index GET /search answers from (SEARCH_INDEX). */
  searchIndex?: string;
  admission: AdmissionLimits;
};
type GatewayThis = Service<GatewaySettings> & GatewayMethods & GatewayVars;

/** A result written as `format`, named after the upload: `scan.pdf` gives `scan.hocr`, `scan.pdf` (the searchable PDF) and so on. */
function outputFile(format: OutputFormat, uploadName: string) {
  const stem = uploadName.slice(0, uploadName.length - extname(uploadName).length) || uploadName;
  // JSON is the API's own answer; the other formats are files to save.
  const { mediaType, extension } = OUTPUT_FORMATS[format];
  return { mediaType, name: `${stem}.${extension}`, disposition: format === 'json' ? 'inline' : 'attachment' } as const;
}

/** `document`: a PDF or an image (a job of one page). Returns what the upload is. */
/** A route's path and query parameters: strings, though moleculer-web types them as any. */
function routeParams(req: IncomingRequest): Record<string, string | undefined> {
  return req.$params as Record<string, string | undefined>;
}

function checkKind(upload: UploadInfo, want: 'pdf' | 'image' | 'document'): MediaKind {
  const kind = sniffMedia(upload.head);
  if (want === 'document' && !kind) throw new OcrError('UNSUPPORTED_MEDIA', 'Not a PDF or an image: send a PDF, PNG, JPEG, WebP or TIFF');
  if (want === 'pdf' && kind !== 'pdf') {
    throw new OcrError('UNSUPPORTED_MEDIA', kind ? 'This file is an image: send it to POST /ocr/image' : 'Not a PDF');
  }
  if (want === 'image' && (!kind || !IMAGE_KINDS.includes(kind))) {
    throw new OcrError(
      'UNSUPPORTED_MEDIA',
      kind === 'pdf' ? 'This file is a PDF: send it to POST /ocr/pdf or POST /jobs' : 'Not an image: send PNG, JPEG, WebP or TIFF',
    );
  }
  return kind!;
}

export default function gatewayService(config: NodeConfig): ServiceSchema<GatewaySettings, GatewayMethods, GatewayVars> {
  const { access } = config.http;
  return {
    name: 'gateway',
    mixins: [ApiGateway],

    settings: {
      $secureSettings: ['access'],
      access,
      uploads: { maxBytes: config.limits.maxUploadBytes, idleTimeoutMs: config.http.uploadIdleTimeoutMs },
      maxConcurrentUploads: config.http.maxConcurrentUploads,
      maxPixels: config.limits.maxPixels,
      tempDir: config.jobs.tempDir,
      dpi: config.limits.dpi,
      pageCalls: config.pageCalls,
      pdfLimits: config.isolation.pdf,
      searchIndex: config.search.index,
      admission: config.admission,
      port: config.http.port,
      ip: config.http.host,
      log4XXResponses: false,
      // Requests no route takes (unknown paths, a disallowed CORS origin on them) get the same JSON errors.
      onError(_req, res, err) {
        sendError(res, err);
      },
      // Browsers on other origins, when CORS_ORIGINS names them.
      cors: access.corsOrigins.length
        ? {
            origin: access.corsOrigins.includes('*') ? '*' : access.corsOrigins,
            methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
            allowedHeaders: ['Authorization', 'Content-Type'],
            maxAge: 3600,
          }
        : undefined,
      use: [sameOriginIsNotCors],
      routes: [
        {
          // The page itself is open (it asks for the key); everything it shows comes from the API routes below.
          name: 'web',
          path: '/',
          mappingPolicy: 'restrict',
          bodyParsers: false,
          aliases: {
            'GET /'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              this.webPage.send(req, res, 'index.html');
            },
            'GET /web/:file'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              this.webPage.send(req, res, String(routeParams(req).file));
            },
            // The API's description is open, like the page: it holds no data.
            'GET /openapi.json'(this: GatewayThis, _req: IncomingRequest, res: GatewayResponse) {
              sendJson(res, 200, this.openApi);
            },
          },
          onError(_req, res, err) {
            sendError(res, err);
          },
        },
        {
          // Open to load balancers and probes: no key, no rate limit.
          path: '/health',
          mappingPolicy: 'restrict',
          bodyParsers: false,
          aliases: { 'GET /': 'gateway.health' },
          onError(_req, res, err) {
            sendError(res, err);
          },
        },
        {
          name: 'api',
          path: '/',
          mappingPolicy: 'restrict',
          bodyParsers: false,
          authentication: true,
          rateLimit:
            access.rateLimitPerMinute > 0
              ? {
                  window: 60_000,
                  limit: access.rateLimitPerMinute,
                  headers: true,
                  key: (req: IncomingMessage) => rateLimitKey(req, access),
                  StoreFactory: RateLimitWindow,
                }
              : undefined,
          aliases: {
            'GET /workers/status': 'gateway.workers',
            'GET /metrics'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.metrics(req, res);
            },
            'POST /ocr/image'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.ocrImage(req, res);
            },
            'POST /ocr/pdf'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.ocrPdf(req, res);
            },
            'POST /jobs'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.createJob(req, res);
            },
            'GET /jobs': 'aggregator.list',
            'GET /jobs/:id': 'aggregator.status',
            'GET /jobs/:id/result'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.jobResult(req, res);
            },
            'DELETE /jobs/:id': 'aggregator.cancel',
            'GET /jobs/:id/events'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.jobEvents(req, res);
            },
            'GET /jobs/:id/pages/:page': 'aggregator.page',
            'GET /jobs/:id/pages/:page/image'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.pageImage(req, res);
            },
            'GET /search'(this: GatewayThis, req: IncomingRequest, res: GatewayResponse) {
              return this.searchPassages(req, res);
            },
          },
          onError(_req, res, err) {
            sendError(res, err);
          },
        },
      ],
    },

    created(this: GatewayThis) {
      this.listeners = new Map();
      this.webPage = new WebPage();
      this.writer = new IsolatedOutputWriter(this.settings.pdfLimits);
      this.uploadSlots = new UploadSlots(this.settings.maxConcurrentUploads);
      this.openApi = openApiDocument(Object.values(OUTPUT_FORMATS).map((f) => f.mediaType));
    },

    started(this: GatewayThis) {
      trackLanguages(this.broker);
    },

    async stopped(this: GatewayThis) {
      this.searchStore?.close();
      await this.writer.close();
    },

    events: {
      'job.progress'(this: GatewayThis, ctx: Context<JobProgress>) {
        for (const listener of this.listeners.get(ctx.params.job_id) ?? []) listener(ctx.params);
      },
    },

    actions: {
      /** Every OCR worker node with its live health, asked of each node directly. */
      workers: {
        handler(this: GatewayThis, ctx: Context): Promise<WorkersStatus> {
          return workersStatus(this.broker, ctx);
        },
      },

      health: {
        handler(this: GatewayThis, ctx: Context<unknown, { $statusCode?: number }>): GatewayHealth {
          const workers = this.broker.registry
            .getServiceList({ onlyAvailable: true, skipInternal: true })
            .filter((s) => s.name === 'ocr').length;
          // Not ready (models still loading, or no worker in the cluster): load balancers should wait.
          if (workers === 0) ctx.meta.$statusCode = 503;
          return {
            status: workers > 0 ? 'ok' : 'degraded',
            node_id: this.broker.nodeID,
            uptime_seconds: Math.round(process.uptime()),
            memory_mb: Math.round(process.memoryUsage().rss / 1048576),
            ocr_workers: workers,
          };
        },
      },
    },

    methods: {
      /** moleculer-web's hook for routes with `authentication: true`; what it returns becomes `ctx.meta.user`, which the aggregator's job actions read. */
      authenticate(this: GatewayThis, _ctx: Context, _route: Route, req: IncomingRequest): ApiCaller | null {
        try {
          return checkApiKey(req, this.settings.access) ?? null;
        } catch (err) {
          // A client mistake, not ours: one line, no stack (moleculer-web logs only non-4xx Moleculer errors).
          this.logger.warn(`401 ${req.method} ${req.url} from ${req.socket.remoteAddress}: ${(err as Error).message}`);
          throw err instanceof OcrError ? toMoleculerError(err) : err;
        }
      },

      /**
       * POST /ocr/image: one page image in, the job contract out (or, with `output`, the page in that format; `pdf`: a one-page PDF
       * of the image). Its header is checked here, before it waits for a worker.
       */
      async ocrImage(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        try {
          admit(pageScheduler(this.broker), this.settings.admission, 'sync');
          const upload = await this.uploadSlots.read(() => readUpload(req, this.settings.uploads, stopSignal(this.broker)));
          checkKind(upload, 'image');
          await checkImageHeader(upload.data, this.settings.maxPixels);
          const { output, pdfa }: OutputOptions = parseOutputOptions(upload.fields);
          const language = parseLanguage(upload.fields.language);
          checkLanguage(this.broker, language);
          const result = await ocrImageJob(req.$ctx, this.broker, upload.data, upload.filename, this.settings.pageCalls, language);
          await sendFile(
            res,
            await this.writer.write(output, { result, input: { bytes: upload.data }, pdfa }),
            outputFile(output, upload.filename),
          );
        } catch (err) {
          sendError(res, err);
        }
      },

      /** Streams an upload to TEMP_DIR and starts its job (unless the node is too busy for it); the upload is removed if it cannot start. */
      async submitFile(this: GatewayThis, req: IncomingRequest, accept: 'pdf' | 'document', kind: 'sync' | 'job'): Promise<JobProgress> {
        admit(pageScheduler(this.broker), this.settings.admission, kind);
        // This node's rasterizer, which opens what is uploaded here, starts a render child while the rest of a PDF arrives.
        const started = (head: Buffer) => void (sniffMedia(head) === 'pdf' && this.broker.broadcastLocal('pdf.arriving'));
        const upload = await this.uploadSlots.read(() =>
          saveUpload(req, this.settings.uploads, this.settings.tempDir, stopSignal(this.broker), started),
        );
        try {
          // An image's header is checked here, as for POST /ocr/image, before its job is queued.
          if (checkKind(upload, accept) !== 'pdf') await checkImageHeader(upload.path, this.settings.maxPixels);
          const params: SubmitParams = {
            path: upload.path,
            node_id: this.broker.nodeID,
            filename: upload.filename,
            file_size_bytes: upload.size,
            ...parseJobOptions(upload.fields, this.settings.dpi),
            // A searchable PDF can be asked for as long as the job is kept (GET /jobs/:id/result?format=pdf).
            keep_upload: true,
          };
          const job = await req.$ctx.call<JobProgress, SubmitParams>('aggregator.submit', params);
          return job;
        } catch (err) {
          await rm(upload.path, { force: true });
          throw err;
        }
      },

      /** POST /ocr/pdf: waits for the whole document; answers in the job's `output` format. */
      async ocrPdf(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        try {
          const job = await this.submitFile(req, 'pdf', 'sync');
          await this.sendJobOutput(req, res, job, job.output, { wait: true });
        } catch (err) {
          sendError(res, err);
        }
      },

      /** GET /jobs/:id/result: in `?format=` (the job's `output` when not given), with `?pdfa=` for a PDF. */
      async jobResult(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        try {
          const params = routeParams(req);
          const query = parseResultQuery(params);
          const job = await req.$ctx.call<JobProgress, JobIdParams>('aggregator.status', { id: params.id ?? '' });
          await this.sendJobOutput(req, res, job, query.format ?? job.output, { pdfa: query.pdfa });
        } catch (err) {
          sendError(res, err);
        }
      },

      /** A job's result as `format`, written by the aggregator (the searchable PDF on the node that holds the upload). */
      async sendJobOutput(
        this: GatewayThis,
        req: IncomingRequest,
        res: GatewayResponse,
        job: JobProgress,
        format: OutputFormat,
        options: OutputChoice,
      ) {
        const params: OutputParams = { id: job.job_id, format, wait: options.wait, pdfa: options.pdfa };
        const output = await req.$ctx.call<Readable, OutputParams>('aggregator.output', params, { timeout: 0 });
        await sendFile(res, output, outputFile(format, job.filename));
      },

      /** POST /jobs: a PDF, or an image as a one-page job; 202 with the job id at once. */
      async createJob(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        try {
          const job = await this.submitFile(req, 'document', 'job');
          res.setHeader('Location', `/jobs/${job.job_id}`);
          sendJson(res, 202, job);
        } catch (err) {
          sendError(res, err);
        }
      },

      /** GET /jobs/:id/pages/:page/image?width=&format=jpeg|png: a page read, as it was read. */
      async pageImage(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        try {
          const params = routeParams(req);
          const page = Number(params.page);
          if (!Number.isInteger(page) || page < 1) throw new OcrError('INVALID_PARAMS', 'The page number must be a whole number from 1');
          const options = parsePageImageOptions(params);
          const image = await req.$ctx.call<Buffer, JobPageImageParams>('aggregator.pageImage', {
            id: String(params.id),
            page,
            ...options,
          });
          const body = Buffer.from(image);
          res.writeHead(200, {
            'Content-Type': `image/${options.format}`,
            'Content-Length': body.length,
            'Cache-Control': 'private, max-age=3600',
          });
          res.end(body);
        } catch (err) {
          sendError(res, err);
        }
      },

      /** GET /metrics: every node's metrics (asked of each node), as one Prometheus text. */
      async metrics(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        const nodes = this.broker.registry.getNodeList({ onlyAvailable: true, withServices: false });
        const texts = await Promise.all(
          nodes.map(({ id }) =>
            // A node that does not answer in time is left out of this scrape, not the whole answer.
            req.$ctx.call<string, Record<string, never>>('$node.prometheus', {}, { nodeID: id, timeout: 3000, retries: 0 }).catch(() => ''),
          ),
        );
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(joinPrometheusTexts(texts));
      },

      /**
       * GET /search?q=&k=: the passages of SEARCH_INDEX best first; hybrid when the index has vectors and a worker
       * embeds the query with their model (src/broker/embed-call.ts), BM25 otherwise (the reply says why).
       */
      async searchPassages(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        try {
          const { q, k } = parseSearchQuery(routeParams(req));
          const store = await this.searchIndex();
          const embedder = clusterEmbedder(this.broker, this.settings.pageCalls, store.vectorSpace()?.model);
          const reply: SearchReply = { query: q, k, ...(await search(store, q, { k, embedder })) };
          sendJson(res, 200, reply);
        } catch (err) {
          sendError(res, err);
        }
      },

      /**
       * SEARCH_INDEX, opened read-only on first use: an index written after the gateway started is found then. Loaded
       * only then, so a gateway without an index never loads node:sqlite (and Node's warning that it is experimental).
       */
      async searchIndex(this: GatewayThis): Promise<IndexStore> {
        const path = this.settings.searchIndex;
        if (path === undefined)
          throw new OcrError('SEARCH_NOT_CONFIGURED', 'This server has no search index: start it with SEARCH_INDEX=<file>');
        try {
          const { IndexStore } = await import('../src/search/index-store.ts');
          return (this.searchStore ??= IndexStore.open(path, { readOnly: true }));
        } catch (err) {
          throw new OcrError('SEARCH_UNAVAILABLE', `The search index cannot be opened: ${(err as Error).message}`);
        }
      },

      /** GET /jobs/:id/events: progress as server-sent events, in order, ending with the final status. */
      async jobEvents(this: GatewayThis, req: IncomingRequest, res: GatewayResponse): Promise<void> {
        const id = routeParams(req).id ?? '';
        const queue: JobProgress[] = [];
        let deliver: ProgressListener = (p) => queue.push(p);
        const listener: ProgressListener = (p) => deliver(p);
        const subscribers = this.listeners.get(id) ?? new Set();
        this.listeners.set(id, subscribers);
        subscribers.add(listener);
        const unsubscribe = () => {
          subscribers.delete(listener);
          if (subscribers.size === 0) this.listeners.delete(id);
        };
        try {
          const current = await req.$ctx.call<JobProgress, JobIdParams>('aggregator.status', { id });
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
          let last = -1;
          deliver = (p) => {
            const done = p.pages_done + p.pages_failed;
            if (done < last && !p.finished) return; // an event older than what was already sent
            last = done;
            res.write(`event: progress\ndata: ${JSON.stringify(p)}\n\n`);
            if (p.finished) {
              unsubscribe();
              res.end();
            }
          };
          deliver(current);
          for (const p of queue.splice(0)) if (!res.writableEnded) deliver(p);
          req.on('close', unsubscribe);
        } catch (err) {
          unsubscribe();
          sendError(res, err);
        }
      },
    },
  };
}
