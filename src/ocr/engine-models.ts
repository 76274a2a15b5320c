/**
 * An engine's models as onnxruntime loads them: read, rewritten and quantized (model/). Rewriting
 * leaves the heaps of the thread that did it larger by far more than the bytes it makes (after a full
 * GC, 67 MB for the recogniser's 4.8 MB, 37 for the detector's 1.7), so it is done in a thread of its
 * own that then exits, taking that heap with it, and a pool does it once for all its engines.
 */
import { Worker } from 'node:worker_threads';
import type { OcrConfig } from './config.ts';
import { prepareModel, type PreparedModel } from './model/onnx.ts';

export interface EngineModels {
  det: PreparedModel;
  cls: PreparedModel | undefined;
  /** The default recogniser's, then those of `config.languageModels` in order. */
  rec: PreparedModel[];
}

/** Prepares the models in this thread. */
export async function prepareModels(config: OcrConfig): Promise<EngineModels> {
  const { models, rewriteGraphs, int8 } = config;
  const options = (rewrite: { argmaxOutputs?: boolean; greyInput?: boolean }) => ({ rewrite: rewriteGraphs ? rewrite : undefined, int8 });
  const [det, cls, rec] = await Promise.all([
    // With 8-bit weights (VNNI CPUs) the detector's boxes end short of a line's last period
    // (test/service/word-boxes.test.ts); its 7-bit weights keep the edges the float model finds. Its
    // squeeze-and-excite pools in int8 did the same to a line of test/service/engine-pool.test.ts.
    prepareModel(models.det, { ...options({}), maxWeightBits: 7, floatPools: true }),
    config.cls.enabled ? prepareModel(models.cls, options({ greyInput: true })) : undefined,
    Promise.all([models, ...config.languageModels].map(({ rec }) => prepareModel(rec, options({ argmaxOutputs: true, greyInput: true })))),
  ]);
  return { det, cls, rec };
}

const MODELS_THREAD = new URL('./engine-models-thread.ts', import.meta.url);

/** Prepares the models in a thread that exits when it has sent them. */
export function prepareModelsApart(config: OcrConfig): Promise<EngineModels> {
  const worker = new Worker(MODELS_THREAD, { workerData: config });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`The thread preparing the models exited with code ${code}`)));
  });
}
