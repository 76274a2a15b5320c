/**
 * rasterizer: holds the documents of running jobs (on the node their upload was written to: a PDF, or
 * an image as a one-page document) and turns one page at a time into text: from the PDF's own text
 * layer when asked and usable, else by rendering (decoding) it and sending the pixels to
 * `ocr.recognize`. Pages go straight from here to a worker. Each page is also kept as a small image
 * for people to look at (src/jobs/page-images.ts), served by `rasterizer.pageImage`. The uploads of
 * the REST API's jobs stay here after their pages are read, until the job is removed, and their
 * searchable PDF is written here (`pdf`), where the input's bytes are.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { withBrokerErrors } from '../src/broker/broker-errors.ts';
import { recognizeWithRetries, type PageCallPolicy } from '../src/broker/ocr-call.ts';
import { OCR_METRICS } from '../src/broker/metrics.ts';
import { jobTagOf } from '../src/broker/logging.ts';
import { readAll, streamOf } from '../src/broker/streams.ts';
import type { NodeConfig } from '../src/config/config.ts';
import type {
  CloseParams,
  CloseReply,
  JobResult,
  OpenedDocument,
  OpenParams,
  PageImageParams,
  CallerMeta,
  PageParams,
  PageResult,
  PdfParams,
} from '../src/contracts.ts';
import { OcrError } from '../src/errors.ts';
import { IsolatedDecoder } from '../src/isolation/image-decoder.ts';
import type { IsolationLimits } from '../src/isolation/isolated-process.ts';
import type { DpiLimits } from '../src/jobs/job-options.ts';
import { IMAGE_KINDS, readHead, sniffMedia } from '../src/jobs/media.ts';
import { PAGE_IMAGE_MAX_SIDE, PageImages } from '../src/jobs/page-images.ts';
import { renderedPageResult, textLayerPageResult } from '../src/jobs/page-result.ts';
import type { LayoutParams } from '../src/ocr/config.ts';
import type { Raster } from '../src/ocr/image/raster.ts';
import { IsolatedOutputWriter } from '../src/outputs/isolated-writer.ts';
import { IsolatedPdf } from '../src/pdf/isolated-pdf.ts';
import { RenderPool } from '../src/pdf/render-pool.ts';
import { isUsableTextLayer } from '../src/pdf/rasterizer.ts';

export interface RasterizerSettings extends ServiceSettingSchema {
  maxPages: number;
  maxPixels: number;
  dpi: DpiLimits;
  /** Limits of each child process that parses and renders PDFs. */
  pdfLimits: IsolationLimits;
  /** Limits of the child process that decodes the images of image jobs. */
  decodeLimits: IsolationLimits;
  /** Where the pages read are kept for people to look at, and for how long after their document closed. */
  pageImages: { dir: string; ttlMs: number };
  /** Child processes rendering at once, shared by every job of the node (PDF_RENDERERS). */
  renderers: number;
  pageCalls: PageCallPolicy;
  /** Reading order of text-layer pages, as the OCR's. */
  layout: LayoutParams;
}

/** A document this node holds: open while its pages are read, then possibly only its upload, kept for `rasterizer.pdf`. */
interface OpenDocument {
  /** Undefined for an image: one page, decoded in `decoder`. */
  pdf: IsolatedPdf | undefined;
  path: string;
  password: string | undefined;
  /** Closed, its upload kept. */
  kept?: boolean;
}

interface RasterizerVars {
  docs: Map<string, OpenDocument>;
  decoder: IsolatedDecoder;
  images: PageImages;
  sweeper: NodeJS.Timeout;
  /** Writes searchable PDFs in a child process, with the limits of the PDF child. */
  writer: IsolatedOutputWriter;
  pool: RenderPool;
}

interface RasterizerMethods {
  keepImage(ctx: Context<PageParams, CallerMeta>, raster: () => Promise<Raster>): Promise<void>;
}

type RasterizerThis = Service<RasterizerSettings> & RasterizerMethods & RasterizerVars;

async function closeDocument(open: OpenDocument, keepUpload = false): Promise<void> {
  open.pdf?.close();
  open.pdf = undefined;
  open.kept = keepUpload;
  if (!keepUpload) await rm(open.path, { force: true });
}

/** The JSON of a job's result comes from the aggregator: the bound only stops a runaway stream. */
const MAX_RESULT_BYTES = 1 << 30;

/** Text-layer pages are not rendered to be read; their image is rendered this small, for people only. */
const TEXT_LAYER_IMAGE_PIXELS = PAGE_IMAGE_MAX_SIDE * PAGE_IMAGE_MAX_SIDE;

export default function rasterizerService(config: NodeConfig): ServiceSchema<RasterizerSettings, RasterizerMethods, RasterizerVars> {
  const settings: RasterizerSettings = {
    maxPages: config.limits.maxPages,
    maxPixels: config.limits.maxPixels,
    dpi: config.limits.dpi,
    pdfLimits: config.isolation.pdf,
    decodeLimits: config.isolation.decode,
    pageImages: { dir: join(config.jobs.tempDir, 'pages'), ttlMs: config.jobs.ttlMs },
    renderers: config.isolation.pdfRenderers,
    pageCalls: config.pageCalls,
    layout: config.ocr.layout,
  };
  return {
    name: 'rasterizer',
    settings,

    methods: {
      /** Keeps the page's image for people; a page is never failed for it (it was read all the same). */
      async keepImage(this: RasterizerThis, ctx: Context<PageParams, CallerMeta>, raster: () => Promise<Raster>): Promise<void> {
        const { doc_id: docId, page } = ctx.params;
        try {
          await this.images.save(docId, page, await raster());
        } catch (err) {
          this.logger.warn(...jobTagOf(ctx.meta), `Page ${page} of document ${docId} was read, but its image could not be kept:`, err);
        }
      },
    },

    created(this: RasterizerThis) {
      this.docs = new Map();
      this.decoder = new IsolatedDecoder(this.settings.decodeLimits);
      this.images = new PageImages(this.settings.pageImages.dir, this.settings.pageImages.ttlMs);
      this.writer = new IsolatedOutputWriter(this.settings.pdfLimits);
      this.pool = new RenderPool(this.settings.renderers, this.settings.pdfLimits);
    },

    started(this: RasterizerThis) {
      // A document closed with its upload kept is closed for its images too.
      const open = () => new Set([...this.docs].filter(([, doc]) => !doc.kept).map(([id]) => id));
      const sweep = () => void this.images.sweep(open()).catch((err) => this.logger.warn('Sweeping page images:', err));
      this.sweeper = setInterval(sweep, Math.min(60_000, this.settings.pageImages.ttlMs)).unref();
    },

    async stopped(this: RasterizerThis) {
      clearInterval(this.sweeper);
      await Promise.all([...this.docs.values()].map((open) => closeDocument(open)));
      this.docs.clear();
      await Promise.all([this.decoder.close(), this.writer.close(), this.pool.close()]);
    },

    events: {
      /** A PDF upload has begun arriving on this node (the gateway's, local only): a render child starts meanwhile. */
      'pdf.arriving'(this: RasterizerThis) {
        this.pool.warm();
      },
    },

    actions: {
      /** Opens an uploaded PDF (checks its page count is within MAX_PAGES) or image (one page). */
      open: {
        params: { path: 'string', password: { type: 'string', optional: true } },
        handler(this: RasterizerThis, ctx: Context<OpenParams>): Promise<OpenedDocument> {
          return withBrokerErrors(async () => {
            const kind = sniffMedia(await readHead(ctx.params.path));
            if (kind && IMAGE_KINDS.includes(kind)) {
              const docId = randomUUID();
              this.docs.set(docId, { pdf: undefined, path: ctx.params.path, password: undefined });
              return { doc_id: docId, pages: 1, node_id: this.broker.nodeID };
            }
            if (kind !== 'pdf') throw new OcrError('NOT_A_PDF', 'The file is neither a PDF nor an image');
            // Parsed and rendered in the node's render children: see src/pdf/render-pool.ts.
            const doc = await IsolatedPdf.open(ctx.params.path, ctx.params.password, this.pool);
            const pages = doc.pageCount;
            if (pages > this.settings.maxPages) {
              doc.close();
              throw new OcrError(
                'TOO_MANY_PAGES',
                `The PDF has ${pages} pages, more than the limit of ${this.settings.maxPages} (MAX_PAGES)`,
              );
            }
            const docId = randomUUID();
            this.docs.set(docId, { pdf: doc, path: ctx.params.path, password: ctx.params.password });
            return { doc_id: docId, pages, node_id: this.broker.nodeID };
          });
        },
      },

      /** One page's result: its text layer (text_layer=auto, when usable) or its OCR. */
      page: {
        params: {
          doc_id: 'string',
          page: { type: 'number', integer: true, positive: true },
          dpi: { type: 'number', min: settings.dpi.min, max: settings.dpi.max },
          text_layer: { type: 'enum', values: ['auto', 'ocr'] },
          language: { type: 'string', optional: true },
        },
        handler(this: RasterizerThis, ctx: Context<PageParams, CallerMeta>): Promise<PageResult> {
          return withBrokerErrors(async () => {
            const open = this.docs.get(ctx.params.doc_id);
            if (!open || open.kept) throw new OcrError('NOT_FOUND', 'The document is no longer open');
            const { page, dpi, language } = ctx.params;
            const { pdf } = open;
            const t0 = performance.now();
            if (pdf && ctx.params.text_layer === 'auto') {
              const layer = await pdf.textLayer(page, dpi);
              if (isUsableTextLayer(layer.lines.map((l) => l.text).join('\n'))) {
                const result = textLayerPageResult(page, layer, this.settings.layout, dpi, performance.now() - t0, this.broker.nodeID);
                this.broker.metrics.observe(OCR_METRICS.stageSeconds, (performance.now() - t0) / 1000, { stage: 'text_layer' });
                await this.keepImage(ctx, async () => (await pdf.render(page, dpi, TEXT_LAYER_IMAGE_PIXELS)).raster);
                return result;
              }
            }
            const rendered = pdf
              ? await pdf.render(page, dpi, this.settings.maxPixels)
              : { raster: await this.decoder.decode(await readFile(open.path), this.settings.maxPixels), dpi: undefined };
            const { data, width, height, channels } = rendered.raster;
            const renderMs = performance.now() - t0;
            this.broker.metrics.observe(OCR_METRICS.stageSeconds, renderMs / 1000, { stage: 'render' });
            // Sent only while the document is open: a job cancelled or out of time closes it at once.
            const stillOpen = () => {
              const doc = this.docs.get(ctx.params.doc_id);
              return doc !== undefined && !doc.kept;
            };
            // A worker lost or timed out mid-page: the pixels are still here, send them again.
            const [read] = await Promise.all([
              recognizeWithRetries(
                ctx,
                this.broker,
                { page_number: page, raster: { width, height, channels }, language },
                data,
                this.settings.pageCalls,
                stillOpen,
              ),
              this.keepImage(ctx, () => Promise.resolve(rendered.raster)),
            ]);
            return renderedPageResult(read, rendered.dpi, renderMs);
          });
        },
      },

      /** A page read, as JPEG or PNG bytes at `width` pixels wide (at most as kept); kept after the document closed, for JOB_TTL_SECONDS. */
      pageImage: {
        params: {
          doc_id: 'string',
          page: { type: 'number', integer: true, positive: true },
          width: { type: 'number', integer: true, min: 16, optional: true },
          format: { type: 'enum', values: ['jpeg', 'png'] },
        },
        handler(this: RasterizerThis, ctx: Context<PageImageParams>): Promise<Buffer> {
          return withBrokerErrors(() => this.images.read(ctx.params.doc_id, ctx.params.page, ctx.params.width, ctx.params.format));
        },
      },

      /**
       * Closes a document and deletes its upload, or keeps the upload for `pdf` until called again
       * without `keep_upload`; its page images stay for JOB_TTL_SECONDS.
       */
      close: {
        params: { doc_id: 'string', keep_upload: { type: 'boolean', optional: true } },
        async handler(this: RasterizerThis, ctx: Context<CloseParams>): Promise<CloseReply> {
          const open = this.docs.get(ctx.params.doc_id);
          // Its images' time started when the document was closed, not when its kept upload goes.
          if (!open?.kept) await this.images.closed(ctx.params.doc_id);
          if (!ctx.params.keep_upload) this.docs.delete(ctx.params.doc_id);
          if (open) await closeDocument(open, ctx.params.keep_upload);
          return { closed: open !== undefined };
        },
      },

      /**
       * The searchable PDF of a document held here, from the job's result (JSON in the call's
       * stream): written on this node because the input is here, and only the result and the output
       * cross the network, never the input.
       */
      pdf: {
        params: { doc_id: 'string', pdfa: 'boolean' },
        handler(this: RasterizerThis, ctx: Context<PdfParams>): Promise<Readable> {
          return withBrokerErrors(async () => {
            if (!(ctx.stream instanceof Readable))
              throw new OcrError('INVALID_PARAMS', "rasterizer.pdf takes the job's result in the call's stream");
            const result = JSON.parse((await readAll(ctx.stream, MAX_RESULT_BYTES)).toString('utf8')) as JobResult;
            const held = this.docs.get(ctx.params.doc_id);
            if (!held)
              throw new OcrError(
                'NOT_FOUND',
                "The job's input is no longer kept on this node (the job was removed, or the node restarted)",
              );
            // An image sent to POST /jobs becomes a one-page PDF.
            const pdf = await this.writer.write('pdf', {
              result,
              input: { path: held.path },
              password: held.password,
              pdfa: ctx.params.pdfa,
            });
            return streamOf(Buffer.from(pdf));
          });
        },
      },
    },
  };
}
