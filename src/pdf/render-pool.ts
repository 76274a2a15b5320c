/**
 * The node's PDF render children, shared by all its jobs: at most PDF_RENDERERS child processes
 * (src/pdf/render-process.ts), each with the memory cap and per-request deadline of an
 * IsolatedProcess, each serving one request at a time. A request goes to a free child that already
 * has its document open when there is one, else to any free child (which opens the document from
 * its file), else it waits its turn. A child idle for a while is stopped, so the memory of the
 * documents it held goes back to the system after load.
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

export class RenderPool {
  private readonly renderers: Renderer[];
  private readonly waiting: { doc: string; take: (r: Renderer) => void }[] = [];

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
        try {
          const drop = [...renderer.drops];
          renderer.drops.clear();
          renderer.docs = [...renderer.docs.filter((d) => d !== request.doc), request.doc].slice(-OPEN_DOCUMENTS);
          return await renderer.process.request({ ...request, drop });
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

  /** The document is done with: children that have it open close it with their next request. */
  forget(doc: string): void {
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
    const free = this.renderers.filter((r) => !r.busy);
    const renderer = free.find((r) => r.docs.includes(doc)) ?? free.find((r) => r.process.running) ?? free[0];
    if (renderer) return Promise.resolve(this.take(renderer));
    return new Promise((resolve) => this.waiting.push({ doc, take: (r) => resolve(this.take(r)) }));
  }

  private take(renderer: Renderer): Renderer {
    renderer.busy = true;
    clearTimeout(renderer.idle);
    return renderer;
  }

  private release(renderer: Renderer): void {
    renderer.busy = false;
    // The next waiting request for a document this child has open, else the oldest waiting.
    const next = this.waiting.findIndex((w) => renderer.docs.includes(w.doc));
    const [waiter] = this.waiting.splice(next >= 0 ? next : 0, 1);
    if (waiter) return waiter.take(renderer);
    renderer.idle = setTimeout(() => {
      renderer.docs = [];
      renderer.drops.clear();
      void renderer.process.close();
    }, IDLE_MS);
    renderer.idle.unref();
  }
}
