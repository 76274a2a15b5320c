/** ocr-worker: reads one page image per `ocr.recognize` call with the process's OcrEngine. */
import type { Readable } from 'node:stream';
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { ocrEngineMixin, type OcrEngineVars } from '../mixins/ocr-engine.mixin.ts';
import { withBrokerErrors } from '../src/broker-errors.ts';
import { ocrConfigFromEnv } from '../src/ocr/config.ts';
import { settingsFromEnv } from '../src/settings.ts';
import { readAll } from '../src/streams.ts';
import { OcrError } from '../src/errors.ts';
import type { OcrEngine } from '../src/ocr/engine.ts';
import type { PageOcr, PageResult } from '../src/types.ts';

/** Size of a decoded page whose grey or RGB bytes, row-major, come in the call's stream. */
export interface RasterShape {
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * One page. Its bytes come in the call's stream (`{ stream }` in the call options): an encoded image
 * (PNG, JPEG, WebP, TIFF), or, when `raster` gives their shape, decoded pixels.
 */
export interface RecognizeParams {
  page_number: number;
  raster?: RasterShape;
}

interface WorkerStats {
  total_requests: number;
  in_flight: number;
  pages_done: number;
  errors: number;
}

type WorkerThis = Service<ServiceSettingSchema> & OcrEngineVars & { stats: WorkerStats };

const settings = settingsFromEnv();

async function readPage(engine: OcrEngine, params: RecognizeParams, stream: Readable | null): Promise<PageOcr> {
  if (!stream) throw new OcrError('INVALID_PARAMS', 'Send the page bytes as the call\'s stream');
  const { raster } = params;
  if (!raster) return engine.recognizeImage(await readAll(stream, settings.maxUploadBytes), settings.maxPixels);
  const { width, height, channels } = raster;
  if (width * height > settings.maxPixels) throw new OcrError('IMAGE_TOO_LARGE', `The page has ${width}x${height} pixels, more than MAX_PIXELS`);
  const data = await readAll(stream, width * height * channels);
  if (data.length !== width * height * channels) throw new OcrError('INVALID_PARAMS', `The stream has ${data.length} bytes, not ${width}x${height}x${channels}`);
  return engine.recognizeRaster({ data, width, height, channels });
}

const OcrWorkerService: ServiceSchema<ServiceSettingSchema, Record<string, never>, OcrEngineVars & { stats: WorkerStats }> = {
  name: 'ocr',
  mixins: [ocrEngineMixin(ocrConfigFromEnv(process.env, settings.ocrConcurrency))],

  created(this: WorkerThis) {
    this.stats = { total_requests: 0, in_flight: 0, pages_done: 0, errors: 0 };
  },

  actions: {
    recognize: {
      bulkhead: { enabled: true, concurrency: settings.ocrConcurrency, maxQueueSize: settings.ocrQueueSize },
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
      },
      async handler(this: WorkerThis, ctx: Context<RecognizeParams>): Promise<PageResult> {
        const { stats } = this;
        stats.total_requests += 1;
        stats.in_flight += 1;
        try {
          const page = await withBrokerErrors(() => readPage(this.engine, ctx.params, ctx.stream as Readable | null));
          stats.pages_done += 1;
          return { page_number: ctx.params.page_number, ...page, worker: this.broker.nodeID, source: 'ocr' };
        } catch (err) {
          stats.errors += 1;
          throw err;
        } finally {
          stats.in_flight -= 1;
        }
      },
    },

    health: {
      handler(this: WorkerThis) {
        return { node_id: this.broker.nodeID, ...this.stats, ...this.engine.info };
      },
    },
  },
};

export default OcrWorkerService;
