/**
 * rasterizer: holds the PDFs of running jobs (on the node their upload was written to) and turns one
 * page at a time into text: from the PDF's own text layer when asked and usable, else by rendering it
 * and sending the decoded page to `ocr.recognize`. Pages go straight from here to a worker.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { withBrokerErrors } from '../src/broker/broker-errors.ts';
import { recognizeWithRetries, type PageCallPolicy } from '../src/broker/ocr-call.ts';
import type { NodeConfig } from '../src/config/config.ts';
import type { CloseParams, CloseReply, OpenedDocument, OpenParams, PageParams, PageResult } from '../src/contracts.ts';
import { OcrError } from '../src/errors.ts';
import type { IsolationLimits } from '../src/isolation/isolated-process.ts';
import type { DpiLimits } from '../src/jobs/job-options.ts';
import { readHead, sniffMedia } from '../src/jobs/media.ts';
import { renderedPageResult, textLayerPageResult } from '../src/jobs/page-result.ts';
import type { LayoutParams } from '../src/ocr/config.ts';
import { IsolatedPdf } from '../src/pdf/isolated-pdf.ts';
import { isUsableTextLayer } from '../src/pdf/rasterizer.ts';

export interface RasterizerSettings extends ServiceSettingSchema {
  maxPages: number;
  maxPixels: number;
  dpi: DpiLimits;
  /** Limits of the child process that parses and renders one PDF. */
  pdfLimits: IsolationLimits;
  pageCalls: PageCallPolicy;
  /** Reading order of text-layer pages, as the OCR's. */
  layout: LayoutParams;
}

interface OpenDocument {
  doc: IsolatedPdf;
  path: string;
}

interface RasterizerVars {
  docs: Map<string, OpenDocument>;
}

type RasterizerThis = Service<RasterizerSettings> & RasterizerVars;

async function closeDocument(open: OpenDocument): Promise<void> {
  await open.doc.close().catch(() => undefined);
  await rm(open.path, { force: true });
}

export default function rasterizerService(config: NodeConfig): ServiceSchema<RasterizerSettings, Record<string, never>, RasterizerVars> {
  const settings: RasterizerSettings = {
    maxPages: config.limits.maxPages,
    maxPixels: config.limits.maxPixels,
    dpi: config.limits.dpi,
    pdfLimits: config.isolation.pdf,
    pageCalls: config.pageCalls,
    layout: config.ocr.layout,
  };
  return {
    name: 'rasterizer',
    settings,

    created(this: RasterizerThis) {
      this.docs = new Map();
    },

    async stopped(this: RasterizerThis) {
      await Promise.all([...this.docs.values()].map(closeDocument));
      this.docs.clear();
    },

    actions: {
      /** Opens an uploaded PDF; checks it is one and that its page count is within MAX_PAGES. */
      open: {
        params: { path: 'string', password: { type: 'string', optional: true } },
        handler(this: RasterizerThis, ctx: Context<OpenParams>): Promise<OpenedDocument> {
          return withBrokerErrors(async () => {
            if (sniffMedia(await readHead(ctx.params.path)) !== 'pdf') throw new OcrError('NOT_A_PDF', 'The file is not a PDF');
            // Parsed and rendered in a child process of its own: see src/pdf/isolated-pdf.ts.
            const doc = await IsolatedPdf.open(ctx.params.path, ctx.params.password, this.settings.pdfLimits);
            const pages = doc.pageCount;
            if (pages > this.settings.maxPages) {
              await doc.close();
              throw new OcrError('TOO_MANY_PAGES', `The PDF has ${pages} pages, more than the limit of ${this.settings.maxPages} (MAX_PAGES)`);
            }
            const docId = randomUUID();
            this.docs.set(docId, { doc, path: ctx.params.path });
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
        },
        handler(this: RasterizerThis, ctx: Context<PageParams>): Promise<PageResult> {
          return withBrokerErrors(async () => {
            const open = this.docs.get(ctx.params.doc_id);
            if (!open) throw new OcrError('NOT_FOUND', 'The document is no longer open');
            const { page, dpi } = ctx.params;
            const t0 = performance.now();
            if (ctx.params.text_layer === 'auto') {
              const layer = await open.doc.textLayer(page, dpi);
              if (isUsableTextLayer(layer.lines.map((l) => l.text).join('\n'))) {
                return textLayerPageResult(page, layer, this.settings.layout, dpi, performance.now() - t0, this.broker.nodeID);
              }
            }
            const rendered = await open.doc.render(page, dpi, this.settings.maxPixels);
            const { data, width, height, channels } = rendered.raster;
            const renderMs = performance.now() - t0;
            // A worker lost or timed out mid-page: the pixels are still here, send them again.
            const read = await recognizeWithRetries(ctx, { page_number: page, raster: { width, height, channels } }, data, this.settings.pageCalls);
            return renderedPageResult(read, rendered.dpi, renderMs);
          });
        },
      },

      /** Closes a document and deletes its upload. */
      close: {
        params: { doc_id: 'string' },
        async handler(this: RasterizerThis, ctx: Context<CloseParams>): Promise<CloseReply> {
          const open = this.docs.get(ctx.params.doc_id);
          this.docs.delete(ctx.params.doc_id);
          if (open) await closeDocument(open);
          return { closed: open !== undefined };
        },
      },
    },
  };
}
