/** gateway: the REST API (moleculer-web). Reads uploads, calls the OCR services, shapes the replies. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import ApiGateway from 'moleculer-web';
import { OcrError } from '../src/errors.ts';
import { sendError, sendJson } from '../src/http/reply.ts';
import { readUpload } from '../src/http/upload.ts';
import { IMAGE_KINDS, sniffMedia } from '../src/media.ts';
import { buildJobResult } from '../src/results.ts';
import { settingsFromEnv } from '../src/settings.ts';
import type { PageResult } from '../src/types.ts';

const settings = settingsFromEnv();

interface GatewayMethods {
  ocrImage(req: IncomingMessage & { $ctx: Context }, res: ServerResponse): Promise<void>;
}

type GatewaySettings = ServiceSettingSchema & Record<string, unknown>;
type GatewayThis = Service<GatewaySettings> & GatewayMethods;

const GatewayService: ServiceSchema<GatewaySettings, GatewayMethods> = {
  name: 'gateway',
  mixins: [ApiGateway as unknown as Partial<ServiceSchema>],

  settings: {
    port: settings.port,
    ip: process.env.COORDINATOR_HOST ?? '0.0.0.0',
    log4XXResponses: false,
    routes: [
      {
        path: '/',
        mappingPolicy: 'restrict',
        bodyParsers: false,
        aliases: {
          'GET /health': 'gateway.health',
          'POST /ocr/image'(this: GatewayThis, req: IncomingMessage & { $ctx: Context }, res: ServerResponse) {
            return this.ocrImage(req, res);
          },
        },
        onError(_req: IncomingMessage, res: ServerResponse, err: Error) {
          sendError(res, err);
        },
      },
    ],
  },

  actions: {
    health: {
      handler(this: GatewayThis, ctx: Context<unknown, { $statusCode?: number }>) {
        const workers = this.broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true })
          .filter((s: { name: string }) => s.name === 'ocr').length;
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
    /** POST /ocr/image: one page image in, the job contract out. */
    async ocrImage(this: GatewayThis, req, res) {
      try {
        const start = new Date();
        const upload = await readUpload(req, settings.maxUploadBytes);
        const kind = sniffMedia(upload.data);
        if (kind === 'pdf') throw new OcrError('UNSUPPORTED_MEDIA', 'This file is a PDF: send it to POST /ocr/pdf');
        if (!kind || !IMAGE_KINDS.includes(kind)) throw new OcrError('UNSUPPORTED_MEDIA', 'Not an image: send PNG, JPEG, WebP or TIFF');
        const page: PageResult = await req.$ctx.call('ocr.recognize', { image: upload.data, page_number: 1 }, { timeout: settings.pageTimeoutMs });
        const facts = { job_id: randomUUID(), filename: upload.filename, file_size_bytes: upload.data.length, total_pages: 1, start, end: new Date() };
        sendJson(res, 200, buildJobResult(facts, [page], []));
      } catch (err) {
        sendError(res, err);
      }
    },
  },
};

export default GatewayService;
