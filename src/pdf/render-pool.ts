/**
 * The node's PDF render children, shared by all its jobs: at most PDF_RENDERERS child processes
 * (src/pdf/render-process.ts), each with the memory cap and per-request deadline of an
 * IsolatedProcess, each serving one request at a time. A request goes to a free child that already
 * has its document open when there is one, else to any free child (which opens the document from
 * its file), else it waits its turn. A child idle for a while is stopped, so the memory of the
 * documents it held goes back to the system after load.
 *
 * Opening a document in a second child costs a parse of the whole file, and often a child's start:
 * for a 100-page scan, 0.7 s and 49 MB read, against 12-30 ms to render one of its pages. So while
 * a child that has the document open is busy, a request waits for it when its renders are quicker
 * than that open was (both measured per document), and takes another child only when waiting would
 * cost more, or has lasted as long as the open did. A job of slow vector pages still spreads over
 * the children; a job of scans no longer opens its file again, and starts a child again, in every
 * child it happens to reach.
 */
import { fileURLToPath } from 'node:url';
import { ChildFailure, IsolatedProcess, type IsolationLimits } from '../isolation/isolated-process.ts';
import { OPEN_DOCUMENTS, type RenderRequest } from './render-process.ts';

const ENTRY = fileURLToPath(new URL('./render-process.ts', import.meta.url));
/** A child without a request for this long is stopped. */
const IDLE_MS = 10_000;

/** A request as the pool takes it: the pool numbers it and adds the documents to drop. */
type PoolRequest<R> = R extends unknown ? Omit<R, 'id' | 'drop'> : never;
type Request = PoolRequest<RenderRequest>;

interface Renderer {
  process: IsolatedProcess;
  busy: boolean;
  /** The documents its child has open, the most recently used last (the child's own order). */
  docs: string[];
  /** Documents closed since its last request: the next request tells the child to drop them. */
  drops: Set<string>;
  idle?: NodeJS.Timeout;
}

/** What requests for one document have cost: an open in a child (its start included when it started one), a render. */
interface DocumentCosts {
  openMs?: number;
  /** Moving average of its requests in a child that had it open. */
  requestMs?: number;
}

/** A request waiting for a child; `holderOnly` until then, only a child that has its document open takes it. */
interface Waiter {
  doc: string;
  holderOnly: boolean;
  take: (r: Renderer) => void;
}

/** Weight of the newest request in a document's moving average. */
const RECENT = 0.3;

export class RenderPool {
  private readonly renderers: Renderer[];
  private readonly waiting: Waiter[] = [];
  private readonly costs = new Map<string, DocumentCosts>();

  /** `entry` replaces the render process (tests put a faulty one there). */
  constructor(size: number, limits: IsolationLimits, entry = ENTRY) {
    this.renderers = Array.from({ length: Math.max(1, size) }, () => ({
      process: new IsolatedProcess(entry, limits),
      busy: false,
      docs: [],
      drops: new Set(),
    }));
  }

  /** Child processes running now (each started on demand, stopped when idle). */
  get running(): number {
    return this.renderers.filter((r) => r.process.running).length;
  }

  async request(request: Request): Promise<unknown> {
    const renderer = await this.acquire(request.doc);
    try {
      // A child killed for memory while it held other documents may have been full of theirs: the
      // request is tried once more in a fresh child holding only its own.
      for (let tries = 0; ; tries++) {
        const shared = renderer.docs.some((d) => d !== request.doc);
        const opens = !renderer.docs.includes(request.doc);
        try {
          const drop = [...renderer.drops];
          renderer.drops.clear();
          renderer.docs = [...renderer.docs.filter((d) => d !== request.doc), request.doc].slice(-OPEN_DOCUMENTS);
          const t0 = performance.now();
          const reply = await renderer.process.request({ ...request, drop });
          this.measured(request.doc, opens, performance.now() - t0);
          return reply;
        } catch (err) {
          if (!(err instanceof ChildFailure)) throw err;
          renderer.docs = [];
          renderer.drops.clear();
          if (err.reason !== 'memory' || !shared || tries > 0) throw err;
        }
      }
    } finally {
      this.release(renderer);
    }
  }

  /**
   * Starts a child when none is running, for a document about to arrive (an upload being received): a
   * child's start (Node, pdfjs, pdf-lib, sharp: some 0.6 s of a core) then overlaps the upload instead
   * of delaying the job's first page. Unused, it stops as an idle one does.
   */
  warm(): void {
    if (this.running > 0) return;
    const renderer = this.freeRenderer();
    if (!renderer) return;
    renderer.process.start();
    this.stopWhenIdle(renderer);
  }

  /** The document is done with: children that have it open close it with their next request. */
  forget(doc: string): void {
    this.costs.delete(doc);
    for (const renderer of this.renderers) {
      if (!renderer.docs.includes(doc)) continue;
      renderer.docs = renderer.docs.filter((d) => d !== doc);
      renderer.drops.add(doc);
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.renderers.map((r) => {
        clearTimeout(r.idle);
        return r.process.close();
      }),
    );
  }

  private acquire(doc: string): Promise<Renderer> {
    const holder = this.renderers.find((r) => !r.busy && r.docs.includes(doc));
    if (holder) return Promise.resolve(this.take(holder));
    const other = this.freeRenderer();
    const wait = other !== undefined && this.holderIsWorthWaitingFor(doc);
    if (other && !wait) return Promise.resolve(this.take(other));
    return new Promise((resolve) => {
      const waiter: Waiter = { doc, holderOnly: wait, take: (r) => resolve(this.take(r)) };
      this.waiting.push(waiter);
      if (!wait) return;
      // Waited as long as an open would have taken: any free child will do.
      setTimeout(
        () => {
          waiter.holderOnly = false;
          const index = this.waiting.indexOf(waiter);
          const idle = this.freeRenderer();
          if (index < 0 || !idle) return;
          this.waiting.splice(index, 1);
          waiter.take(idle);
        },
        this.costs.get(doc)?.openMs ?? 0,
      ).unref();
    });
  }

  /** A free child, one already running before one that would have to start. */
  private freeRenderer(): Renderer | undefined {
    const free = this.renderers.filter((r) => !r.busy);
    return free.find((r) => r.process.running) ?? free[0];
  }

  /**
   * Whether a busy child with `doc` open will likely take this request before another child could
   * open the document: the renders queued for it (this one included) against the document's open.
   */
  private holderIsWorthWaitingFor(doc: string): boolean {
    const { openMs, requestMs = 0 } = this.costs.get(doc) ?? {};
    if (openMs === undefined || !this.renderers.some((r) => r.busy && r.docs.includes(doc))) return false;
    const queued = this.waiting.filter((w) => w.doc === doc).length;
    return requestMs * (queued + 1) < openMs;
  }

  private measured(doc: string, opened: boolean, ms: number): void {
    // A request that ends after its document was forgotten is not counted.
    if (!opened && !this.costs.has(doc)) return;
    const costs = this.costs.get(doc) ?? {};
    if (opened) costs.openMs = ms;
    else costs.requestMs = costs.requestMs === undefined ? ms : RECENT * ms + (1 - RECENT) * costs.requestMs;
    this.costs.set(doc, costs);
  }

  private take(renderer: Renderer): Renderer {
    renderer.busy = true;
    clearTimeout(renderer.idle);
    return renderer;
  }

  private release(renderer: Renderer): void {
    renderer.busy = false;
    // The next waiting request for a document this child has open, else the oldest that any child may take.
    const mine = this.waiting.findIndex((w) => renderer.docs.includes(w.doc));
    const next = mine >= 0 ? mine : this.waiting.findIndex((w) => !w.holderOnly || !this.renderers.some((r) => r.docs.includes(w.doc)));
    if (next >= 0) return this.waiting.splice(next, 1)[0]!.take(renderer);
    this.stopWhenIdle(renderer);
  }

  private stopWhenIdle(renderer: Renderer): void {
    clearTimeout(renderer.idle);
    renderer.idle = setTimeout(() => {
      renderer.docs = [];
      renderer.drops.clear();
      void renderer.process.close();
    }, IDLE_MS);
    renderer.idle.unref();
  }
}
