/**
 * Gives a service the process's page reader: the models are loaded once when the service starts (the
 * worker-initializer pattern) and every request reuses them. One engine, or with `engines` > 1 an
 * EnginePool of that many engines in threads of their own. A service that sets `this.elsewhere` in its
 * `created` has its engines lend recognition batches to idle engines on other workers.
 */
import type { Service, ServiceSchema } from 'moleculer';
import type { OcrConfig } from '../src/ocr/config.ts';
import { EnginePool, type EnginesElsewhere } from '../src/ocr/engine-pool.ts';
import { OcrEngine, type PageReader } from '../src/ocr/engine.ts';

export interface OcrEngineOptions {
  ocr: OcrConfig;
  /** Engines reading pages at once. */
  engines: number;
}

export interface OcrEngineVars {
  engine: PageReader;
  /** Idle engines on other workers (src/broker/batch-lending.ts), when the service set it in `created`. */
  elsewhere?: EnginesElsewhere;
}

/** The service gets `engine` (OcrEngineVars) once it has started. */
export function ocrEngineMixin({ ocr, engines }: OcrEngineOptions): Partial<ServiceSchema> {
  return {
    async started(this: Service & Partial<OcrEngineVars>) {
      const t0 = performance.now();
      const { elsewhere } = this;
      const engine: PageReader =
        engines > 1 ? await EnginePool.start(ocr, engines, undefined, elsewhere) : await OcrEngine.load(ocr, elsewhere);
      this.engine = engine;
      this.logger.info(`OCR models loaded in ${Math.round(performance.now() - t0)} ms`, engine.info);
    },
    async stopped() {
      const engine: unknown = this.engine;
      if (engine instanceof EnginePool) await engine.close();
    },
  };
}
