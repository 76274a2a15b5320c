/**
 * A PDF opened in a child process of its own (src/pdf/render-process.ts), with a memory cap (the
 * child's resident memory is watched and the child killed above it) and a deadline per request.
 * A crash, a runaway or a blow-up fails that request with the document's or the page's error; the
 * next page gets a fresh child, and the node itself never runs the untrusted parser.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OcrError, type ErrorCode } from '../errors.ts';
import type { RenderedPage, TextLayer } from './rasterizer.ts';
import type { RenderReply, RenderRequest } from './render-process.ts';

export interface IsolationLimits {
  /** Resident memory of the child above which it is killed, in MB. */
  memoryMb: number;
  /** Longest a request (open, or one page) may take, in ms. */
  deadlineMs: number;
  /** The child's entry point (tests put a faulty renderer here). */
  entry?: string;
}

const ENTRY = fileURLToPath(new URL('./render-process.ts', import.meta.url));
const MEMORY_CHECK_MS = 100;

type Pending = { resolve: (value: unknown) => void; reject: (err: OcrError) => void };
type Request = RenderRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function residentMb(pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export class IsolatedPdf {
  private pages = 0;
  private readonly path: string;
  private readonly password: string | undefined;
  private readonly limits: IsolationLimits;
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why the current child was killed, for the error of the requests it held. */
  private killedFor: string | undefined;

  private constructor(path: string, password: string | undefined, limits: IsolationLimits) {
    this.path = path;
    this.password = password;
    this.limits = limits;
  }

  static async open(path: string, password: string | undefined, limits: IsolationLimits): Promise<IsolatedPdf> {
    const doc = new IsolatedPdf(path, password, limits);
    try {
      doc.pages = ((await doc.request({ op: 'open', path, password }, 'PDF_UNREADABLE')) as { pages: number }).pages;
      return doc;
    } catch (err) {
      await doc.close();
      throw err;
    }
  }

  get pageCount(): number {
    return this.pages;
  }

  async render(page: number, dpi: number, maxPixels: number): Promise<RenderedPage> {
    return (await this.pageRequest({ op: 'render', page, dpi, maxPixels }, page)) as RenderedPage;
  }

  async textLayer(page: number, dpi: number): Promise<TextLayer> {
    return (await this.pageRequest({ op: 'textLayer', page, dpi }, page)) as TextLayer;
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** A page request; after a crash the document is opened again in a new child first. */
  private async pageRequest(request: Request, page: number): Promise<unknown> {
    if (!this.child) await this.request({ op: 'open', path: this.path, password: this.password }, 'PAGE_UNREADABLE', page);
    return this.request(request, 'PAGE_UNREADABLE', page);
  }

  private spawn(): ChildProcess {
    const child = fork(this.limits.entry ?? ENTRY, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.killedFor = undefined;
    this.attach(child);
    return child;
  }

  private attach(child: ChildProcess): void {
    child.on('message', (reply: RenderReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(new OcrError(reply.error.code as ErrorCode, reply.error.message, reply.error.page));
    });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      const why = this.killedFor ?? 'the PDF renderer crashed';
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(new OcrError('INTERNAL', why));
      }
    });
  }

  private request(request: Request, code: ErrorCode, page?: number): Promise<unknown> {
    const child = (this.child ??= this.spawn());
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const kill = (why: string) => {
        this.killedFor = why;
        child.kill('SIGKILL');
      };
      const deadline = setTimeout(() => kill(`took longer than ${this.limits.deadlineMs / 1000} s`), this.limits.deadlineMs);
      const memory = setInterval(() => {
        if (residentMb(child.pid) > this.limits.memoryMb) kill(`needed more than ${this.limits.memoryMb} MB of memory`);
      }, MEMORY_CHECK_MS);
      const done = () => {
        clearTimeout(deadline);
        clearInterval(memory);
      };
      this.pending.set(id, {
        resolve: (value) => (done(), resolve(value)),
        // A crash or a kill arrives as INTERNAL with its reason: it becomes this request's own error.
        reject: (err) => {
          done();
          if (err.code !== 'INTERNAL') return reject(err);
          const what = page === undefined ? 'The PDF' : `Page ${page}`;
          reject(new OcrError(code, `${what} could not be rendered: ${err.message}`, page));
        },
      });
      child.send({ ...request, id } as RenderRequest);
    });
  }
}
