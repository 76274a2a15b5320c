/**
 * Gives a service the process's page reader: the models are loaded once when the service starts (the
 * worker-initializer pattern) and every request reuses them. One engine, or with `engines` > 1 an
 * EnginePool of that many engines in threads of their own.
 */
import type { ServiceSchema } from 'moleculer';
import type { OcrConfig } from '../src/ocr/config.ts';
import { EnginePool } from '../src/ocr/engine-pool.ts';
import { OcrEngine, type PageReader } from '../src/ocr/engine.ts';

export interface OcrEngineOptions {
  ocr: OcrConfig;
  /** Engines reading pages at once. */
  engines: number;
}

export interface OcrEngineVars {
  engine: PageReader;
}

/** The service gets `engine` (OcrEngineVars) once it has started. */
export function ocrEngineMixin({ ocr, engines }: OcrEngineOptions): Partial<ServiceSchema> {
  return {
    async started() {
      const t0 = performance.now();
      const engine: PageReader = engines > 1 ? await EnginePool.start(ocr, engines) : await OcrEngine.load(ocr);
      this.engine = engine;
      this.logger.info(`OCR models loaded in ${Math.round(performance.now() - t0)} ms`, engine.info);
    },
    async stopped() {
      const engine: unknown = this.engine;
      if (engine instanceof EnginePool) await engine.close();
    },
  };
}
