/** The lock the engine threads of a pool detect under (src/ocr/thread-lock.ts). */
import { expect, test } from '@jest/globals';
import { ThreadLock } from '../../src/ocr/thread-lock.ts';

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test('one holder at a time: the second waits until the first is done, then runs', async () => {
  const lock = new ThreadLock();
  const order: string[] = [];
  let finishFirst!: () => void;
  const first = lock.hold(1, () => {
    order.push('first in');
    return new Promise<void>((resolve) => (finishFirst = resolve));
  });
  const second = lock.hold(2, async () => {
    order.push('second in');
  });
  await settle();
  expect(order).toEqual(['first in']);
  order.push('first out');
  finishFirst();
  await Promise.all([first, second]);
  expect(order).toEqual(['first in', 'first out', 'second in']);
});

test('a holder that dies holding the lock (its thread gone) is released by its id, and the others go on', async () => {
  const shared = new SharedArrayBuffer(4);
  const lock = new ThreadLock(shared);
  void lock.hold(7, () => new Promise<never>(() => undefined));
  let ran = false;
  const other = new ThreadLock(shared).hold(8, async () => {
    ran = true;
  });
  await settle();
  expect(ran).toBe(false);
  lock.release(3); // not the holder: nothing changes
  await settle();
  expect(ran).toBe(false);
  lock.release(7);
  await other;
  expect(ran).toBe(true);
});

test('work that throws frees the lock', async () => {
  const lock = new ThreadLock();
  await expect(lock.hold(1, () => Promise.reject(new Error('model failed')))).rejects.toThrow('model failed');
  await expect(lock.hold(2, async () => 'next')).resolves.toBe('next');
});
