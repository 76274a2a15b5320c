/**
 * Sentence vectors from the cluster: `ocr.embed` on the OCR workers started with EMBED_MODEL (in the
 * one-process server, its own worker), balanced over them and bulkheaded as pages are, a transient
 * failure retried. Texts go in calls of at most MAX_EMBED_TEXTS texts and MAX_EMBED_CHARS characters,
 * so that a call and its reply stay well under one NATS message (1 MB by default).
 */
import type { ServiceBroker } from 'moleculer';
import type { EmbedMetadata, EmbedParams, EmbedReply, TextEmbedder } from '../contracts.ts';
import { isRetryable } from './broker-errors.ts';
import type { PageCallPolicy } from './ocr-call.ts';
import { withRetries } from './retry.ts';

export const MAX_EMBED_TEXTS = 64;
const MAX_EMBED_CHARS = 256 * 1024;

function embedModel(metadata: unknown): string | undefined {
  const embed = (metadata as { embed?: Partial<EmbedMetadata> } | undefined)?.embed;
  return typeof embed?.model === 'string' ? embed.model : undefined;
}

/** The models the available workers embed with, and the nodes of each. */
export function embedModels(broker: ServiceBroker): Map<string, string[]> {
  const models = new Map<string, string[]>();
  // A worker names its model in its metadata exactly when it has the `embed` action (services/ocr-worker.service.ts).
  for (const service of broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true })) {
    const model = embedModel(service.metadata);
    if (service.name !== 'ocr' || model === undefined || !service.nodeID) continue;
    models.set(model, [...(models.get(model) ?? []), service.nodeID]);
  }
  return models;
}

/** Texts cut into the calls they go in. */
function calls(texts: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [],
    chars = 0;
  for (const text of texts) {
    if (current.length && (current.length === MAX_EMBED_TEXTS || chars + text.length > MAX_EMBED_CHARS)) {
      out.push(current);
      current = [];
      chars = 0;
    }
    current.push(text);
    chars += text.length;
  }
  if (current.length) out.push(current);
  return out;
}

/**
 * An embedder that calls the workers, named after their model: `model` when a worker has it, else the
 * first one announced (a search then says the index's vectors come from another model). Undefined when
 * no worker embeds. Every worker that embeds should have the same model: a reply from another is refused.
 */
export function clusterEmbedder(broker: ServiceBroker, policy: PageCallPolicy, model?: string): TextEmbedder | undefined {
  const models = embedModels(broker);
  const id = model !== undefined && models.has(model) ? model : [...models.keys()][0];
  if (id === undefined) return undefined;
  return {
    id,
    async embed(texts) {
      const vectors: Float32Array[] = [];
      for (const batch of calls(texts)) {
        const reply = await withRetries(
          () => broker.call<EmbedReply, EmbedParams>('ocr.embed', { texts: batch }, { timeout: policy.timeoutMs }),
          policy.retry,
          isRetryable,
        );
        if (reply.model !== id) {
          throw new Error(`A worker embeds with ${reply.model}, another with ${id}: give every worker that embeds the same EMBED_MODEL`);
        }
        vectors.push(...reply.vectors);
      }
      return vectors;
    },
  };
}

/**
 * clusterEmbedder once a worker that embeds (with `model`, when given) has announced itself, or what
 * there is after `timeoutMs`: in a cluster those workers may join after the first OCR worker.
 */
export async function waitForEmbedder(
  broker: ServiceBroker,
  policy: PageCallPolicy,
  model: string | undefined,
  timeoutMs: number,
): Promise<TextEmbedder | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const embedder = clusterEmbedder(broker, policy, model);
    if ((embedder && (model === undefined || embedder.id === model)) || Date.now() >= deadline) return embedder;
    await new Promise((r) => setTimeout(r, 200));
  }
}
