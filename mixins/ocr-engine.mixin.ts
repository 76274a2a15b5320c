/**
 * Gives a service one OcrEngine per process: the models are loaded once when the service starts
 * (the worker-initializer pattern) and every request reuses them.
 */
import type { ServiceSchema, ServiceSettingSchema } from 'moleculer';
import type { OcrConfig } from '../src/ocr/config.ts';
import { OcrEngine } from '../src/ocr/engine.ts';

export interface OcrEngineVars {
  engine: OcrEngine;
}

export function ocrEngineMixin(config: OcrConfig): Partial<ServiceSchema> {
  const mixin: Partial<ServiceSchema<ServiceSettingSchema, Record<string, never>, OcrEngineVars>> = {
    async started() {
      const t0 = performance.now();
      this.engine = await OcrEngine.load(config);
      this.logger.info(`OCR models loaded in ${Math.round(performance.now() - t0)} ms`, this.engine.info);
    },
  };
  // Moleculer types `mixins` as untyped schemas.
  return mixin as Partial<ServiceSchema>;
}
