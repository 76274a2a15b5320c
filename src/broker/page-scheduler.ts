/**
 * The node's queue of pages. Every page this node wants read (a job's pages, an uploaded image)
 * waits here, in a lane per job, and is handed out only while the cluster has room for it: the
 * pages handed out and not yet done stay within the inference slots of the OCR workers this node
 * knows, plus one page per worker (WAITING_AT_WORKER). The call to a worker is made only while it
 * has that room (`whenWorkerHasRoom`): each worker holds at most one page beyond its slots, waiting in
 * its own queue with its pixels already there, so an engine starts its next page the moment the
 * last is done; a page's time limit starts when it reaches the worker, at most a page before an
 * engine can start it. A page whose job is cancelled or out of time is dropped here, never read,
 * or, already at a worker, dropped there when the `job.stopped` event has reached it first.
 * Lanes take turns (round robin): a job of 1,000 pages holds at most one turn in each round, so a
 * one-page request behind it waits about one page, not 1,000.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceBroker } from 'moleculer';
import { advertisedLanguages } from './languages.ts';
import { natsConnection } from './nats-connection.ts';

export interface PageRun<T> {
  page: number;
  result?: T;
  error?: unknown;
}

interface Lane {
  pages: number[];
  start: (page: number) => void;
}

/** The OCR workers this node knows (those that read `language`, when one is given), and their inference slots in all. */
export function clusterSlots(broker: ServiceBroker, language?: string): { workers: number; slots: number } {
  const known = { workers: 0, slots: 0 };
  for (const service of broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true })) {
    if (service.name !== 'ocr') continue;
    if (language !== undefined && !advertisedLanguages(service.metadata ?? {})?.includes(language)) continue;
    const slots = (service.metadata as { slots?: unknown } | undefined)?.slots;
    known.workers += 1;
    known.slots += typeof slots === 'number' && slots > 0 ? slots : 1;
  }
  return known;
}

/**
 * Pages sent to each worker beyond its slots. With none, the next page was sent only when a slot freed,
 * and the engine idled while a 200-dpi page (3.7 MB) crossed NATS: two single-thread workers were busy
 * 92-93 % of a 100-page job, against 96 % with one waiting (npm run bench, cluster row, alternated
 * runs, the VNNI EPYC; the walls in docs/performance.md).
 */
const WAITING_AT_WORKER = 1;

/** A page's reading time before any was measured, for Retry-After. */
const FIRST_GUESS_SECONDS = 5;
/** While pages wait, capacity is looked at again this often (a worker may have joined). */
const RECHECK_MS = 500;

export class PageScheduler {
  private readonly capacity: () => number;
  private readonly lanes = new Map<string, Lane>();
  /** Lane ids in turn order; the next turn goes to the first, which then moves to the back. */
  private turns: string[] = [];
  private handedOut = 0;
  private secondsPerPage = FIRST_GUESS_SECONDS;
  private recheck: NodeJS.Timeout | undefined;

  constructor(capacity: () => number) {
    this.capacity = capacity;
  }

  /** Pages waiting to be handed out, over all lanes. */
  get queuedPages(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.pages.length;
    return n;
  }

  /** Jobs with pages waiting or being read. */
  get activeJobs(): number {
    return this.lanes.size;
  }

  /** About how long until `pages` more pages have been handed out, at the recent pace, in whole seconds. */
  drainSeconds(pages: number): number {
    return Math.max(1, Math.ceil((pages * this.secondsPerPage) / Math.max(1, this.capacity())));
  }

  /** Runs one task in a lane of its own when its turn comes; its result or its error. */
  async one<T>(task: () => Promise<T>): Promise<T> {
    let outcome: PageRun<T> = { page: 1 };
    await this.run(randomUUID(), [1], task, (run) => (outcome = run), new AbortController().signal);
    if (!('result' in outcome)) throw outcome.error;
    return outcome.result as T;
  }

  /**
   * Runs a job's pages as capacity frees up, taking turns with the other jobs; reports each page once.
   * Once `signal` aborts, the job's waiting pages are dropped; resolves when its pages handed out are done.
   */
  run<T>(
    job: string,
    pages: readonly number[],
    read: (page: number) => Promise<T>,
    onDone: (run: PageRun<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (this.lanes.has(job)) throw new Error(`Job ${job} is already queued`);
    return new Promise<void>((resolve) => {
      let running = 0;
      const lane: Lane = {
        pages: [...pages],
        start: (page) => {
          running += 1;
          const t0 = performance.now();
          // A task that throws at once fails its page like one that rejects.
          new Promise<T>((resolve) => resolve(read(page)))
            .then(
              (result) => onDone({ page, result }),
              (error: unknown) => onDone({ page, error }),
            )
            .finally(() => {
              // A moving average of the time a page holds its place, for Retry-After.
              this.secondsPerPage = 0.9 * this.secondsPerPage + 0.1 * ((performance.now() - t0) / 1000);
              running -= 1;
              this.handedOut -= 1;
              finishIfDone();
              this.pump();
            });
        },
      };
      const finishIfDone = () => {
        if (running > 0 || lane.pages.length > 0) return;
        signal.removeEventListener('abort', drop);
        this.lanes.delete(job);
        this.turns = this.turns.filter((id) => id !== job);
        resolve();
      };
      const drop = () => {
        lane.pages.length = 0;
        finishIfDone();
      };
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', drop, { once: true });
      this.lanes.set(job, lane);
      this.turns.push(job);
      finishIfDone();
      this.pump();
    });
  }

  /** Hands out pages while there is room, one per lane in turn. */
  private pump(): void {
    const capacity = this.capacity();
    while (this.handedOut < capacity) {
      const id = this.turns.find((t) => (this.lanes.get(t)?.pages.length ?? 0) > 0);
      if (id === undefined) break;
      const lane = this.lanes.get(id)!;
      this.turns = [...this.turns.filter((t) => t !== id), id];
      this.handedOut += 1;
      lane.start(lane.pages.shift()!);
    }
    // Pages wait and nothing is out to call pump when it ends (no worker known yet, or all gone).
    const waiting = this.queuedPages > 0;
    if (waiting && !this.recheck) {
      this.recheck = setInterval(() => this.pump(), RECHECK_MS);
      this.recheck.unref();
    } else if (!waiting && this.recheck) {
      clearInterval(this.recheck);
      this.recheck = undefined;
    }
  }
}

interface NodeQueues {
  pages: PageScheduler;
  /** Calls waiting for room at a worker, per page language ('' for pages any worker reads). */
  sends: Map<string, PageScheduler>;
  room: (extraPerWorker: number, language?: string) => () => number;
}

const queues = new WeakMap<ServiceBroker, NodeQueues>();

function queuesOf(broker: ServiceBroker): NodeQueues {
  let node = queues.get(broker);
  if (!node) {
    const connection = natsConnection(broker);
    // Nothing goes out while the NATS connection is down. With no worker known, one page at a time
    // goes out anyway: it fails NO_WORKERS after its retries rather than waiting for good.
    const room = (extraPerWorker: number, language?: string) => () => {
      if (!connection.connected) return 0;
      const { workers, slots } = clusterSlots(broker, language);
      return Math.max(1, slots + extraPerWorker * workers);
    };
    queues.set(broker, (node = { pages: new PageScheduler(room(WAITING_AT_WORKER)), sends: new Map(), room }));
  }
  return node;
}

/** This node's page queue, shared by its aggregator (job pages) and its gateway and CLI (images). */
export function pageScheduler(broker: ServiceBroker): PageScheduler {
  return queuesOf(broker).pages;
}

/** This node's page queue if it has used one (a worker-only node has none). */
export function pageQueueOf(broker: ServiceBroker): PageScheduler | undefined {
  return queues.get(broker)?.pages;
}

/**
 * Runs `send` (a call to `ocr.recognize`) once the workers have room for it (their slots, plus
 * WAITING_AT_WORKER each), in turn. A page in a `language` waits for room at the workers that read it:
 * counted against every worker's room, it would be sent to a busy reader of its language and wait in
 * that worker's queue behind more than one page, with its time limit running. (A worker reading
 * several languages can then hold one call per language queue beyond its room, at most.)
 */
export function whenWorkerHasRoom<T>(broker: ServiceBroker, send: () => Promise<T>, language?: string): Promise<T> {
  const node = queuesOf(broker);
  const key = language ?? '';
  let sends = node.sends.get(key);
  if (!sends) node.sends.set(key, (sends = new PageScheduler(node.room(WAITING_AT_WORKER, language))));
  return sends.one(send);
}
