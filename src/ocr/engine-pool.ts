/**
 * Several OcrEngines in one process, each in a worker thread of its own, each reading one page at a
 * time. onnxruntime's `run` blocks the thread that calls it (measured: two recogniser runs started
 * together on one thread took 182 ms, one alone 86 ms), so pages read in parallel need threads. With
 * the int8 models one intra-op thread per engine is also the efficient split of a machine's cores:
 * a second thread made a recogniser run only 1.6x faster. An engine left without a page while another
 * reads one (the end of a job) reads some of that page's recognition batches; when none is idle here,
 * they go to idle engines elsewhere (`elsewhere`: other workers), and idle engines here read those
 * that engines elsewhere lend (readLentBatch). The engines detect
 * whenever their pages need it: each session keeps its activations in an arena of its own (onnx.ts),
 * so two detector runs at once hold no more memory than two in turn.
 */
import { Worker } from 'node:worker_threads';
import { isErrorCode, OcrError } from '../errors.ts';
import type { EngineInfo, PageOcr, StepMaxima } from '../contracts.ts';
import type { OcrConfig } from './config.ts';
import { prepareModelsApart, type EngineModels } from './engine-models.ts';
import { readEncodedPage, type PageReader, type PoolSharing } from './engine.ts';
import type { Batch, ThreadData, ThreadMessage, ThreadTask } from './engine-thread.ts';
import { decodeImage, type Raster } from './image/raster.ts';

interface Job {
  raster: Raster;
  language: string | undefined;
  resolve: (page: PageOcr) => void;
  reject: (err: Error) => void;
}

/** A batch an engine elsewhere lent, waiting for an engine here without a page. */
interface LentBatch {
  input: Float32Array<ArrayBuffer>;
  dims: number[];
  recogniser: string;
  answer: (maxima: StepMaxima | undefined) => void;
}

interface EngineThread {
  worker: Worker;
  job: Job | undefined;
  /** While it reads another engine's batch (of the pool or elsewhere): how its step maxima go back to that engine. */
  helping: { answer: (maxima: StepMaxima | undefined) => void } | undefined;
}

/** Idle engines elsewhere (other workers): they read batches when none here is idle. */
export interface EnginesElsewhere extends PoolSharing {
  /** Calls `listener` whenever engines elsewhere become idle or busy. */
  onChange(listener: () => void): void;
}

const ENGINE_THREAD = new URL('./engine-thread.ts', import.meta.url);
/**
 * The engines' young generation, in MB. With V8's default each engine's heap stood at 43-44 MB during a job;
 * what an engine allocates per page is short-lived buffers that die young either way. Measured on 24
 * pages through the server (2-core VNNI EPYC): idle RSS 423-435 MB against 483-485, peak 735-743
 * against 800-815, the same speed.
 */
const ENGINE_YOUNG_GENERATION_MB = 8;
/** How long a closing thread may take to finish its inference before it is terminated. */
const CLOSE_GRACE_MS = 30_000;

export class EnginePool implements PageReader {
  private readonly config: OcrConfig;
  private readonly entry: URL;
  private readonly threads: EngineThread[] = [];
  private readonly queue: Job[] = [];
  private readonly lentQueue: LentBatch[] = [];
  /**
   * Engines here with neither a page nor a batch while no page waits, plus one when engines elsewhere
   * are idle: the engines reading a page lend it batches while this is above 0.
   */
  private readonly helpers = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  private readonly elsewhere: EnginesElsewhere | undefined;
  private batchesLent = 0;
  private engineInfo: EngineInfo | undefined;
  private recogniserIds: readonly string[] = [];
  private inferenceTotal = 0;
  private closed = false;

  private constructor(config: OcrConfig, entry: URL, elsewhere: EnginesElsewhere | undefined) {
    this.config = config;
    this.entry = entry;
    this.elsewhere = elsewhere;
    elsewhere?.onChange(() => this.dispatch());
  }

  /**
   * Starts `engines` threads and resolves when every one has loaded its models; `entry` replaces the
   * thread's code (tests inject a crashing one).
   */
  static async start(config: OcrConfig, engines: number, entry = ENGINE_THREAD, elsewhere?: EnginesElsewhere): Promise<EnginePool> {
    const pool = new EnginePool(config, entry, elsewhere);
    try {
      // Prepared once for all, and not kept: a thread that dies is replaced with models prepared again.
      const models = await prepareModelsApart(config);
      await Promise.all(Array.from({ length: engines }, () => pool.startThread(models)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get info(): EngineInfo {
    return { ...this.engineInfo!, engines: this.threads.length };
  }

  /** Recognition batches read by an engine other than the one reading their page (here or elsewhere). */
  get lentBatches(): number {
    return this.batchesLent;
  }

  get recognisers(): readonly string[] {
    return this.recogniserIds;
  }

  readLentBatch(input: Float32Array<ArrayBuffer>, dims: number[], recogniser: string): Promise<StepMaxima | undefined> {
    if (this.closed || this.queue.length > 0) return Promise.resolve(undefined);
    return new Promise((answer) => {
      this.lentQueue.push({ input, dims, recogniser, answer });
      this.dispatch();
    });
  }

  /** Milliseconds the engines spent inside the models, summed over threads. */
  get inferenceMs(): number {
    return this.inferenceTotal;
  }

  recognizeRaster(raster: Raster, language?: string): Promise<PageOcr> {
    if (this.closed) return Promise.reject(new OcrError('WORKER_LOST', 'The OCR engines are shutting down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ raster, language, resolve, reject });
      // Batches lent from elsewhere and not yet begun go back: their senders read them.
      for (const batch of this.lentQueue.splice(0)) batch.answer(undefined);
      this.dispatch();
    });
  }

  recognizeImage(encoded: Uint8Array, maxPixels: number, decode: typeof decodeImage = decodeImage, language?: string): Promise<PageOcr> {
    return readEncodedPage(this, encoded, maxPixels, decode, language);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new OcrError('WORKER_LOST', 'The OCR engines are shutting down'));
    for (const batch of this.lentQueue.splice(0)) batch.answer(undefined);
    await Promise.all(
      this.threads.map(async ({ worker }) => {
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.postMessage({ type: 'close' } satisfies ThreadTask);
        const grace = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
        await exited;
        clearTimeout(grace);
      }),
    );
  }

  private startThread(models: EngineModels): Promise<void> {
    const worker = new Worker(this.entry, {
      workerData: {
        config: this.config,
        models,
        helpers: this.helpers.buffer,
      } satisfies ThreadData,
      resourceLimits: { maxYoungGenerationSizeMb: ENGINE_YOUNG_GENERATION_MB },
    });
    const thread: EngineThread = { worker, job: undefined, helping: undefined };
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: ThreadMessage) => {
        if (message.type === 'ready') {
          ready = true;
          this.engineInfo = message.info;
          this.recogniserIds = message.recognisers;
          this.threads.push(thread);
          resolve();
          this.dispatch();
          return;
        }
        if (message.type === 'help') return this.lend(thread, message);
        if (message.type === 'batch') {
          this.inferenceTotal += message.inferenceMs;
          if (message.maxima) this.batchesLent++;
          this.answerLender(thread, message.maxima);
          return this.dispatch();
        }
        const job = thread.job!;
        thread.job = undefined;
        if (message.type === 'page') {
          this.inferenceTotal += message.inferenceMs;
          job.resolve(message.page);
        } else {
          job.reject(isErrorCode(message.code) ? new OcrError(message.code, message.message) : new Error(message.message));
        }
        this.dispatch();
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
        thread.job?.reject(new Error(`The engine thread failed: ${err.message}`));
        thread.job = undefined;
      });
      worker.on('exit', (code) => {
        const index = this.threads.indexOf(thread);
        if (index >= 0) this.threads.splice(index, 1);
        thread.job?.reject(new Error(`The engine thread exited with code ${code}`));
        thread.job = undefined;
        // The engine that lent it a batch reads it itself.
        this.answerLender(thread, undefined);
        if (!ready) reject(new Error(`The engine thread exited with code ${code} while loading the models`));
        // A thread that dies mid-page (a native crash in a model) is replaced; the page it held was failed above.
        else if (!this.closed)
          prepareModelsApart(this.config)
            .then((models) => this.startThread(models))
            .catch(() => undefined);
      });
    });
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      if (thread.job || thread.helping) continue;
      const job = this.queue.shift();
      if (job) {
        thread.job = job;
        thread.worker.postMessage({ type: 'page', raster: job.raster, language: job.language } satisfies ThreadTask);
        continue;
      }
      const lent = this.lentQueue.shift();
      if (!lent) continue;
      const { input, dims, recogniser, answer } = lent;
      thread.helping = { answer };
      thread.worker.postMessage({ type: 'batch', id: 0, input, dims, recogniser } satisfies ThreadTask, [input.buffer]);
    }
    const idleHere = this.threads.filter((t) => !t.job && !t.helping).length;
    const idleElsewhere = this.recogniserIds.some((id) => this.elsewhere?.recognitionHelper(id).free());
    Atomics.store(this.helpers, 0, this.queue.length > 0 ? 0 : idleHere + (idleElsewhere ? 1 : 0));
  }

  /**
   * Hands a batch of `lender`'s page to an idle engine here, else to one elsewhere, or answers at once
   * that none is (pages come first).
   */
  private lend(lender: EngineThread, batch: Batch): void {
    // The lender may have died meanwhile (a native crash), its page failed.
    const answer = (maxima: StepMaxima | undefined) => {
      if (this.threads.includes(lender)) lender.worker.postMessage({ type: 'helped', id: batch.id, maxima } satisfies ThreadTask);
    };
    const helper = this.closed || this.queue.length > 0 ? undefined : this.threads.find((t) => t !== lender && !t.job && !t.helping);
    if (helper) {
      helper.helping = { answer };
      helper.worker.postMessage({ ...batch, type: 'batch' } satisfies ThreadTask, [batch.input.buffer]);
      return this.dispatch();
    }
    const elsewhere = this.closed ? undefined : this.elsewhere?.recognitionHelper(batch.recogniser);
    if (!elsewhere?.free()) return answer(undefined);
    void elsewhere.read(batch.input, batch.dims).then((maxima) => {
      if (maxima) this.batchesLent++;
      answer(maxima);
    });
  }

  /** Gives whoever lent `helper` its batch the batch's step maxima (undefined: it reads the batch itself). */
  private answerLender(helper: EngineThread, maxima: StepMaxima | undefined): void {
    const lent = helper.helping;
    helper.helping = undefined;
    lent?.answer(maxima);
  }
}
