/** One OcrEngine in a worker thread of an EnginePool: loads the models once, then reads the pages it is sent. */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { OcrError } from '../errors.ts';
import type { OcrConfig } from './config.ts';
import { OcrEngine } from './engine.ts';
import type { Raster } from './image/raster.ts';
import { ThreadLock } from './thread-lock.ts';

/** What a thread is started with: the engine's configuration and the lock its pool's engines detect under. */
export interface ThreadData {
  config: OcrConfig;
  detectionLock: SharedArrayBuffer;
}

/** What the pool sends a thread: a page to read, or the order to stop. A thread reads one page at a time, so a reply needs no id. */
export type ThreadTask = { type: 'page'; raster: Raster; language: string | undefined } | { type: 'close' };

export type ThreadMessage =
  | { type: 'ready'; info: OcrEngine['info'] }
  | { type: 'page'; page: Awaited<ReturnType<OcrEngine['recognizeRaster']>>; inferenceMs: number }
  | { type: 'failed'; code: string | undefined; message: string };

const port = parentPort!;
const { config, detectionLock } = workerData as ThreadData;
const engine = await OcrEngine.load(config, { lock: new ThreadLock(detectionLock), holder: threadId });
const send = (message: ThreadMessage) => port.postMessage(message);
send({ type: 'ready', info: engine.info });

async function run(task: ThreadTask): Promise<void> {
  // Exiting from this thread's own JavaScript is safe: no inference is under way then. A terminate()
  // from outside can land inside onnxruntime's run and abort the whole process.
  if (task.type === 'close') process.exit(0);
  const before = engine.inferenceMs;
  try {
    const page = await engine.recognizeRaster(task.raster, task.language);
    send({ type: 'page', page, inferenceMs: engine.inferenceMs - before });
  } catch (err) {
    send({ type: 'failed', code: err instanceof OcrError ? err.code : undefined, message: (err as Error).message });
  }
}

port.on('message', (task: ThreadTask) => void run(task));
