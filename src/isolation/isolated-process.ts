/**
 * A child process that runs untrusted parsing or decoding for this process, one request and reply
 * at a time over IPC (advanced serialization: bytes stay bytes), with a memory cap (its resident
 * memory is watched and it is killed above the cap) and a deadline per request. A crash, a runaway
 * or a blow-up rejects the requests it held with ChildFailure; the next request starts a new child.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { OcrError, type ErrorCode } from '../errors.ts';
import { procMemoryMb } from './proc-memory.ts';
import type { ChildReply } from './serve.ts';

export interface IsolationLimits {
  /** Resident memory of the child above which it is killed, in MB. */
  memoryMb: number;
  /** Longest one request may take, in ms. */
  deadlineMs: number;
}

/** What ended a child: a crash, or a kill for its deadline or its memory. */
export type FailureReason = 'crash' | 'deadline' | 'memory';

/** The child died or was killed while it held the request; `message` says why. */
export class ChildFailure extends Error {
  readonly reason: FailureReason;

  constructor(reason: FailureReason, why: string) {
    super(why);
    this.name = 'ChildFailure';
    this.reason = reason;
  }
}

const MEMORY_CHECK_MS = 100;

export class IsolatedProcess {
  private readonly entry: string;
  private readonly limits: IsolationLimits;
  private child: ChildProcess | undefined;
  /** Requests waiting for their reply, each with the child it was sent to. */
  private readonly pending = new Map<number, { child: ChildProcess; resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  /** Why a child was killed, when this process killed it. */
  private readonly killedFor = new WeakMap<ChildProcess, { reason: FailureReason; why: string }>();

  constructor(entry: string, limits: IsolationLimits) {
    this.entry = entry;
    this.limits = limits;
  }

  /** Whether a child is running: false before the first request and after a crash. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the child ahead of its first request, when it is not running. */
  start(): void {
    this.child ??= this.spawn();
  }

  request(message: object): Promise<unknown> {
    const child = (this.child ??= this.spawn());
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const kill = (reason: FailureReason, why: string) => {
        this.killedFor.set(child, { reason, why });
        child.kill('SIGKILL');
      };
      const deadline = setTimeout(() => kill('deadline', `took longer than ${this.limits.deadlineMs / 1000} s`), this.limits.deadlineMs);
      const memory = setInterval(() => {
        if (procMemoryMb(child.pid) > this.limits.memoryMb) kill('memory', `needed more than ${this.limits.memoryMb} MB of memory`);
      }, MEMORY_CHECK_MS);
      const settle =
        <T>(fn: (v: T) => void) =>
        (v: T) => {
          clearTimeout(deadline);
          clearInterval(memory);
          fn(v);
        };
      this.pending.set(id, { child, resolve: settle(resolve), reject: settle(reject) });
      child.send({ ...message, id });
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.ref(); // until it is gone
      child.kill('SIGKILL');
      await exited;
    }
  }

  private spawn(): ChildProcess {
    const child = fork(this.entry, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (reply: ChildReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(new OcrError(reply.error.code as ErrorCode, reply.error.message, reply.error.page));
    });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      const killed = this.killedFor.get(child);
      const failure = killed ? new ChildFailure(killed.reason, killed.why) : new ChildFailure('crash', 'the process crashed');
      // Only this child's requests: a child stopped while idle may exit after its successor took one.
      for (const [id, waiting] of this.pending) {
        if (waiting.child !== child) continue;
        this.pending.delete(id);
        waiting.reject(failure);
      }
    });
    // A child that is idle must not keep this process alive.
    child.unref();
    child.channel?.unref();
    return child;
  }
}
