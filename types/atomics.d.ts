/** Atomics.waitAsync: ES2024, in Node since 16, which the project's ES2023 library does not declare (src/ocr/thread-lock.ts waits with it). */
interface Atomics {
  waitAsync(
    typedArray: Int32Array,
    index: number,
    value: number,
    timeout?: number,
  ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}
