/**
 * Gives a service a sentence-embedding model (EMBED_MODEL): loaded once when the service starts, as the
 * OCR models are, and named in the service's metadata (`metadata.embed.model`, set before the service is
 * announced) so that callers on any node know whose vectors a worker gives before they call it.
 */
import type { ServiceSchema } from 'moleculer';
import type { EmbedMetadata } from '../src/contracts.ts';
import { Embedder, type EmbedderOptions } from '../src/search/embedder.ts';

export interface EmbedderVars {
  embedder: Embedder;
}

/** The service gets `embedder` (EmbedderVars) once it has started. */
export function embedderMixin(options: EmbedderOptions): Partial<ServiceSchema> {
  return {
    async started() {
      const t0 = performance.now();
      const embedder = await Embedder.load(options);
      this.embedder = embedder;
      const embed: EmbedMetadata = { model: embedder.id };
      this.metadata.embed = embed;
      this.logger.info(`Embedding model ${embedder.id} loaded in ${Math.round(performance.now() - t0)} ms`);
    },
    async stopped() {
      const embedder: unknown = this.embedder;
      if (embedder instanceof Embedder) await embedder.close();
    },
  };
}
