/**
 * Gives a service the process's page reader: the models are loaded once when the service starts (the
 * worker-initializer pattern) and every request reuses them. One engine, or with `engines` > 1 an
 * EnginePool of that many engines in threads of their own.
 */
import type { ServiceSchema, ServiceSettingSchema } from 'moleculer';
import type { OcrConfig } from '../src/ocr/config.ts';
import { EnginePool } from '../src/ocr/engine-pool.ts';
import { OcrEngine, type PageReader } from '../src/ocr/engine.ts';

export interface OcrEngineVars {
  engine: PageReader;
}

export function ocrEngineMixin(config: OcrConfig, engines: number): Partial<ServiceSchema> {
  const mixin: Partial<ServiceSchema<ServiceSettingSchema, Record<string, never>, OcrEngineVars>> = {
    async started() {
      const t0 = performance.now();
      this.engine = engines > 1 ? await EnginePool.start(config, engines) : await OcrEngine.load(config);
      this.logger.info(`OCR models loaded in ${Math.round(performance.now() - t0)} ms`, this.engine.info);
    },
    async stopped() {
      if (this.engine instanceof EnginePool) await this.engine.close();
    },
  };
  // Moleculer types `mixins` as untyped schemas.
  return mixin as Partial<ServiceSchema>;
}
