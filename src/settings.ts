/** Service-level settings from the environment: one place, documented in README's Configuration. */

export interface Settings {
  /** HTTP port of the gateway. */
  port: number;
  /** Largest upload accepted, in bytes. */
  maxUploadBytes: number;
  /** Most pixels a page image may have (checked from its header before decoding). */
  maxPixels: number;
  /** How long one page may take on a worker, in ms. */
  pageTimeoutMs: number;
  /** Concurrent pages per worker node. */
  ocrConcurrency: number;
  /** Pages waiting per worker node beyond the running ones. */
  ocrQueueSize: number;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    port: Math.floor(positive(env, 'COORDINATOR_PORT', 8000)),
    maxUploadBytes: Math.floor(positive(env, 'MAX_UPLOAD_MB', 100) * 1024 * 1024),
    maxPixels: Math.floor(positive(env, 'MAX_PIXELS', 100_000_000)),
    pageTimeoutMs: Math.floor(positive(env, 'WORKER_REQUEST_TIMEOUT', 120) * 1000),
    ocrConcurrency: Math.floor(positive(env, 'OCR_CONCURRENCY', 1)),
    ocrQueueSize: Math.floor(positive(env, 'OCR_QUEUE_SIZE', 100)),
  };
}
