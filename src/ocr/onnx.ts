/** One place that creates onnxruntime sessions and runs a single-input, single-output model. */
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { rewriteModel } from './graph-rewrite.ts';

export type Session = ort.InferenceSession;

/** Loads a model, by default with the exact graph rewrites of graph-rewrite.ts applied. */
export async function loadSession(path: string, threads: number, rewrite: boolean): Promise<Session> {
  const file = await readFile(path);
  const model = rewrite ? rewriteModel(file).bytes : file;
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

export async function runModel(session: Session, input: Float32Array, dims: number[]): Promise<TensorOut> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
  const t0 = performance.now();
  const result = await session.run(feeds);
  inferenceMs.set(session, inferenceTime(session) + performance.now() - t0);
  const out = result[session.outputNames[0]!]!;
  return { data: out.data as Float32Array, dims: out.dims };
}
