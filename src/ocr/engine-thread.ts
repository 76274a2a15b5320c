/**
 * One OcrEngine in a worker thread of an EnginePool: loads the models once, then reads the pages it is
 * sent, and, while idle, recognition batches of another engine's page (recognizeLines' BatchHelper).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BatchHelper, StepMaxima } from '../contracts.ts';
import { OcrError } from '../errors.ts';
import type { OcrConfig } from './config.ts';
import type { EngineModels } from './engine-models.ts';
import { OcrEngine } from './engine.ts';
import type { Raster } from './image/raster.ts';

/** What a thread is started with: the engine's configuration, and what the pool's engines share. */
export interface ThreadData {
  config: OcrConfig;
  /** The models, prepared by the pool (a copy each thread, let go once loaded). */
  models?: EngineModels;
  /** One Int32, kept by the pool: above 0 while an engine of the pool or elsewhere could read a batch. */
  helpers: SharedArrayBuffer;
}

/** A recognition batch packed by one engine for another to read. */
export interface Batch {
  id: number;
  input: Float32Array<ArrayBuffer>;
  dims: number[];
  /** The recogniser it is packed for (recogniserId). */
  recogniser: string;
}

/**
 * What the pool sends a thread: a page to read (one at a time, so its reply needs no id), another
 * engine's batch to read, the answer to a batch this thread asked to be read elsewhere (undefined when
 * it was not), or the order to stop.
 */
export type ThreadTask =
  | { type: 'page'; raster: Raster; language: string | undefined }
  | ({ type: 'batch' } & Batch)
  | { type: 'helped'; id: number; maxima: StepMaxima | undefined }
  | { type: 'close' };

export type ThreadMessage =
  | { type: 'ready'; info: OcrEngine['info']; recognisers: string[] }
  | { type: 'page'; page: Awaited<ReturnType<OcrEngine['recognizeRaster']>>; inferenceMs: number }
  | { type: 'failed'; code: string | undefined; message: string }
  | ({ type: 'help' } & Batch)
  | { type: 'batch'; id: number; maxima: StepMaxima | undefined; inferenceMs: number };

const port = parentPort!;
const data = workerData as ThreadData;
const { config } = data;
const helpers = new Int32Array(data.helpers);
const send = (message: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** Batches of this thread's page being read elsewhere, by id. */
const lent = new Map<number, (maxima: StepMaxima | undefined) => void>();
let lastLent = 0;
const recognitionHelper = (recogniser: string): BatchHelper => ({
  free: () => Atomics.load(helpers, 0) > 0,
  read: (input, dims) =>
    new Promise((resolve) => {
      const id = ++lastLent;
      lent.set(id, resolve);
      send({ type: 'help', id, input, dims, recogniser }, [input.buffer]);
    }),
});

const engine = await OcrEngine.load(config, { recognitionHelper }, data.models);
// onnxruntime holds the models now; the thread's copy of their bytes (7 MB) would stay with workerData.
delete data.models;
send({ type: 'ready', info: engine.info, recognisers: engine.recognisers });

async function run(task: Exclude<ThreadTask, { type: 'helped' }>): Promise<void> {
  // Exiting from this thread's own JavaScript is safe: no inference is under way then. A terminate()
  // from outside can land inside onnxruntime's run and abort the whole process.
  if (task.type === 'close') process.exit(0);
  const before = engine.inferenceMs;
  if (task.type === 'batch') {
    // A batch that fails here is read again by the engine that lent it.
    const maxima = await engine.readBatch(task.input, task.dims, task.recogniser).catch(() => undefined);
    send({ type: 'batch', id: task.id, maxima, inferenceMs: engine.inferenceMs - before });
    return;
  }
  try {
    const page = await engine.recognizeRaster(task.raster, task.language);
    send({ type: 'page', page, inferenceMs: engine.inferenceMs - before });
  } catch (err) {
    send({ type: 'failed', code: err instanceof OcrError ? err.code : undefined, message: (err as Error).message });
  }
}

port.on('message', (task: ThreadTask) => {
  if (task.type !== 'helped') return void run(task);
  lent.get(task.id)?.(task.maxima);
  lent.delete(task.id);
});
