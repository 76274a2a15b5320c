/** One place that creates onnxruntime sessions and runs a single-input, single-output model. */
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { rewriteModel, type RewriteOptions } from './graph-rewrite.ts';

export type Session = ort.InferenceSession;

/** Loads a model, with the graph rewrites of graph-rewrite.ts applied unless `rewrite` is undefined. */
export async function loadSession(path: string, threads: number, rewrite: RewriteOptions | undefined): Promise<Session> {
  const file = await readFile(path);
  const model = rewrite ? rewriteModel(file, rewrite).bytes : file;
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Input shapes change with every page and line; the arena keeps the largest ever seen
    // (measured: 781 MB peak RSS with it, 651 MB without, same speed).
    enableCpuMemArena: false,
  });
}

export interface TensorOut {
  data: Float32Array;
  dims: readonly number[];
}

/** Milliseconds each session spent in `run`: the model's own time, the floor the pipeline is measured against. */
const inferenceMs = new WeakMap<Session, number>();

export function inferenceTime(session: Session): number {
  return inferenceMs.get(session) ?? 0;
}

/** Runs a model on its one input; every output, by name. */
export async function runModelOutputs(session: Session, input: Float32Array, dims: number[]): Promise<ort.InferenceSession.ReturnType> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
  const t0 = performance.now();
  const result = await session.run(feeds);
  inferenceMs.set(session, inferenceTime(session) + performance.now() - t0);
  return result;
}

/** Runs a model on its one input; its first output, a float tensor. */
export async function runModel(session: Session, input: Float32Array, dims: number[]): Promise<TensorOut> {
  const out = (await runModelOutputs(session, input, dims))[session.outputNames[0]!]!;
  return { data: out.data as Float32Array, dims: out.dims };
}
