/** ocr-worker: reads one page image per `ocr.recognize` call with the process's OcrEngine. */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from 'moleculer';
import { ocrEngineMixin, type OcrEngineVars } from '../mixins/ocr-engine.mixin.ts';
import { withBrokerErrors } from '../src/broker-errors.ts';
import { ocrConfigFromEnv } from '../src/ocr/config.ts';
import { settingsFromEnv } from '../src/settings.ts';
import type { PageResult } from '../src/types.ts';

export interface RecognizeParams {
  image: Buffer;
  page_number: number;
}

interface WorkerStats {
  total_requests: number;
  in_flight: number;
  pages_done: number;
  errors: number;
}

type WorkerThis = Service<ServiceSettingSchema> & OcrEngineVars & { stats: WorkerStats };

const settings = settingsFromEnv();

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
        image: { type: 'class', instanceOf: Buffer },
        page_number: { type: 'number', integer: true, positive: true, convert: true },
      },
      async handler(this: WorkerThis, ctx: Context<RecognizeParams>): Promise<PageResult> {
        const { stats } = this;
        stats.total_requests += 1;
        stats.in_flight += 1;
        try {
          const page = await withBrokerErrors(() => this.engine.recognizeImage(ctx.params.image, settings.maxPixels));
          stats.pages_done += 1;
          return { page_number: ctx.params.page_number, ...page, worker: this.broker.nodeID };
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
