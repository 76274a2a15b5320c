/** One place that creates onnxruntime sessions and runs a single-input, single-output model. */
import { readFile } from 'node:fs/promises';
import ort, { type InferenceSession } from '../../onnxruntime.ts';
import { int8Options, sha256 } from './calibration.ts';
import { rewriteModel, type RewriteOptions } from './graph-rewrite.ts';

export type Session = InferenceSession;

export interface LoadOptions {
  /** The exact graph rewrites of graph-rewrite.ts, or undefined to load the file as it is. */
  rewrite: Omit<RewriteOptions, 'int8'> | undefined;
  /** Run the model's trunk in int8 when calibrated ranges ship for this file (calibration.ts). */
  int8: boolean;
  /** At most this many weight bits in int8, whatever the CPU could take (calibration.ts). */
  maxWeightBits?: 7 | 8;
  /** Global average pools in float, whatever reads int8 around them (quantize.ts). */
  floatPools?: boolean;
}

/**
 * How each session computes: 'int8 (8-bit weights)' (7 on CPUs without VNNI, or where a model reads worse
 * with 8), or 'float32' with the reason when int8 was asked for and is not available.
 */
const precisions = new WeakMap<Session, string>();

export function sessionPrecision(session: Session): string {
  return precisions.get(session) ?? 'float32';
}

/** A model as onnxruntime loads it: its bytes, rewritten and quantized as asked, and how it computes. */
export interface PreparedModel {
  bytes: Uint8Array;
  /** What sessionPrecision says of a session made from it. */
  precision: string;
  /** The SHA-256 of the file as shipped: engines elsewhere tell the same model by it (however each prepared it). */
  sha256: string;
}

/** Reads a model and rewrites and quantizes it as `options` ask. */
export async function prepareModel(path: string, options: LoadOptions): Promise<PreparedModel> {
  const file = await readFile(path);
  const digest = sha256(file);
  if (!options.rewrite) return { bytes: file, precision: 'float32', sha256: digest };
  const int8 = options.int8 ? await int8Options(path, digest, options) : undefined;
  const quantize = int8 && 'ranges' in int8 ? int8 : undefined;
  const { bytes, report } = rewriteModel(file, { ...options.rewrite, ...(quantize ? { int8: quantize } : {}) });
  let precision = 'float32';
  const gemm = report.int8?.gemmConvolutions ? `, ${report.int8.gemmConvolutions} wide 1x1 convolutions as GEMM` : '';
  if (report.int8?.nodes && quantize) precision = `int8 (${quantize.weightBits}-bit weights${gemm})`;
  else if (options.int8) precision = `float32 (${report.int8?.skipped ?? (int8 && 'unavailable' in int8 ? int8.unavailable : '')})`;
  return { bytes, precision, sha256: digest };
}

/** A session of a prepared model, computing in `threads` threads. */
export async function createSession(model: PreparedModel, threads: number): Promise<Session> {
  const session = await ort.InferenceSession.create(model.bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Each run's activations come from onnxruntime's arena, tensor by tensor, and go back to it for
    // the next run. Without the arena they came from glibc, which gave the large ones back to the
    // kernel after each run: a detector run took 27,600 fresh pages (108 MB), and on a VM where a
    // page fault costs 8 us the detector spent half its time in them. With the memory pattern (one
    // block per input shape, planned on the first run of that shape) the arena kept a block for
    // every page and batch size seen: 781 MB peak RSS against 651 without the arena, an earlier
    // measurement. Tensor by tensor, what is freed is reused whatever the shape.
    enableCpuMemArena: true,
    enableMemPattern: false,
  });
  precisions.set(session, model.precision);
  return session;
}

/** Channels of the session's image input: 1 where the graph rewrite made a line model read grey lines, else 3. */
export function inputChannels(session: Session): 1 | 3 {
  const input = session.inputMetadata[0];
  return input?.isTensor && input.shape[1] === 1 ? 1 : 3;
}

export interface TensorOut {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * Buffers of input tensors, kept for the next run: a page's inputs come to about 60 MB (the
 * detector's 15 MB, the recogniser's batches 40 MB in three channels, 13 in one), which allocated anew for every run kept the
 * garbage collector busy and the C heap fragmented.
 */
const spareInputs: Float32Array<ArrayBuffer>[] = [];
const ownInputs = new WeakSet<ArrayBuffer>();
/** Spare buffers kept: a detector input and the recogniser's batch sizes. */
const MAX_SPARE_INPUTS = 4;

/**
 * A buffer for a model's input of `length` values, to be filled entirely by the caller (it may hold an
 * earlier run's values) and handed to runModel or runModelOutputs, which keep it for the next input.
 */
export function inputBuffer(length: number): Float32Array<ArrayBuffer> {
  let best: Float32Array<ArrayBuffer> | undefined;
  for (const spare of spareInputs) if (spare.length >= length && (!best || spare.length < best.length)) best = spare;
  if (best) spareInputs.splice(spareInputs.indexOf(best), 1);
  const buffer = best ?? new Float32Array(length);
  ownInputs.add(buffer.buffer);
  return buffer.subarray(0, length);
}

function keepInput(input: Float32Array): void {
  const buffer = input.buffer as ArrayBuffer;
  if (!ownInputs.has(buffer)) return;
  spareInputs.push(new Float32Array(buffer));
  // Over the limit, the smallest goes: the large ones are the costly ones to allocate again.
  if (spareInputs.length > MAX_SPARE_INPUTS)
    spareInputs.splice(spareInputs.indexOf(spareInputs.reduce((a, b) => (b.length < a.length ? b : a))), 1);
}

/** Milliseconds each session spent in `run`: the model's own time, the floor the pipeline is measured against. */
const inferenceMs = new WeakMap<Session, number>();

export function inferenceTime(session: Session): number {
  return inferenceMs.get(session) ?? 0;
}

/** Runs a model on its one input; every output, by name. */
export async function runModelOutputs(session: Session, input: Float32Array, dims: number[]): Promise<InferenceSession.ReturnType> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) };
  const t0 = performance.now();
  try {
    return await session.run(feeds);
  } finally {
    inferenceMs.set(session, inferenceTime(session) + performance.now() - t0);
    keepInput(input);
  }
}

/** Runs a model on its one input; its first output, a float tensor. */
export async function runModel(session: Session, input: Float32Array, dims: number[]): Promise<TensorOut> {
  const out = (await runModelOutputs(session, input, dims))[session.outputNames[0]!]!;
  return { data: out.data as Float32Array, dims: out.dims };
}
