/**
 * A lock the engine threads of one process share through a SharedArrayBuffer. The pool (engine-pool.ts)
 * makes one for detection: a detector run at 1280 px holds some 190 MB of activations and scratch at
 * its peak, and two engines detecting at once (every job's first pages) held both.
 */

/** The cell holds 0 when the lock is free, else the id of the thread that holds it. */
export class ThreadLock {
  readonly buffer: SharedArrayBuffer;
  private readonly cell: Int32Array;

  constructor(buffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.cell = new Int32Array(buffer);
  }

  /** Runs `work` while this thread (`holder`, not 0) holds the lock; waits for it without blocking the thread's event loop. */
  async hold<T>(holder: number, work: () => Promise<T>): Promise<T> {
    for (;;) {
      const current = Atomics.compareExchange(this.cell, 0, 0, holder);
      if (current === 0) break;
      const waiting = Atomics.waitAsync(this.cell, 0, current);
      if (waiting.async) await waiting.value;
    }
    try {
      return await work();
    } finally {
      this.release(holder);
    }
  }

  /** Frees the lock if `holder` holds it: also done for a thread that died holding it. */
  release(holder: number): void {
    if (Atomics.compareExchange(this.cell, 0, holder, 0) === holder) Atomics.notify(this.cell, 0);
  }
}
