import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { ServiceBroker } from 'moleculer';
import { clusterSlots, PageScheduler, whenWorkerHasRoom } from '../../src/broker/page-scheduler.ts';

const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

test('pages out never pass the capacity, and every page is reported once', async () => {
  const scheduler = new PageScheduler(() => 3);
  let out = 0,
    most = 0;
  const done: string[] = [];
  const read = async (n: number) => {
    most = Math.max(most, ++out);
    await tick(1 + (n % 3));
    out--;
    if (n === 4) throw new Error('page 4 is broken');
    return n;
  };
  await Promise.all(
    ['a', 'b'].map((job) =>
      scheduler.run(
        job,
        [1, 2, 3, 4, 5, 6, 7],
        read,
        (run) => done.push(`${job}${run.page}${run.error ? '!' : ''}`),
        new AbortController().signal,
      ),
    ),
  );
  assert.equal(most, 3);
  assert.equal(done.length, 14);
  assert.ok(done.includes('a4!') && done.includes('b4!'));
  assert.equal(scheduler.queuedPages, 0);
  assert.equal(scheduler.activeJobs, 0);
});

test('jobs take turns: a one-page job behind a 50-page job waits one page, not fifty', async () => {
  const scheduler = new PageScheduler(() => 1);
  const order: string[] = [];
  const read = (job: string) => async (n: number) => {
    order.push(`${job}${n}`);
    await tick(1);
  };
  const big = scheduler.run(
    'big',
    Array.from({ length: 50 }, (_, i) => i + 1),
    read('big'),
    () => undefined,
    new AbortController().signal,
  );
  await tick(3);
  const small = scheduler.run('small', [1], read('small'), () => undefined, new AbortController().signal);
  assert.equal(scheduler.queuedPages, 50 - order.length + 1);
  await small;
  assert.ok(order.indexOf('small1') <= 5, order.join(' '));
  await big;
});

test("a cancelled job's waiting pages are dropped, never read", async () => {
  const scheduler = new PageScheduler(() => 2);
  const controller = new AbortController();
  const started: number[] = [];
  await scheduler.run(
    'job',
    [1, 2, 3, 4, 5, 6],
    async (n) => {
      started.push(n);
      if (n === 2) controller.abort();
      await tick(5);
    },
    () => undefined,
    controller.signal,
  );
  expect(started).toEqual([1, 2]);
  assert.equal(scheduler.queuedPages, 0);
});

test('pages wait while there is no room, and go out once capacity appears', async () => {
  let capacity = 0;
  const scheduler = new PageScheduler(() => capacity);
  const read: number[] = [];
  const job = scheduler.run(
    'job',
    [1, 2],
    async (n) => void read.push(n),
    () => undefined,
    new AbortController().signal,
  );
  await tick(20);
  expect(read).toEqual([]);
  assert.equal(scheduler.queuedPages, 2);
  assert.ok(scheduler.drainSeconds(2) >= 1);
  capacity = 1;
  const alive = setTimeout(() => undefined, 5000); // the scheduler's own timer does not hold the process
  await job;
  clearTimeout(alive);
  expect(read).toEqual([1, 2]);
});

test('a page in a language waits for room at the workers that read it, not at any worker', async () => {
  // One worker reads English and Chinese with one slot, another Chinese only with two; each has room
  // for one page more, waiting in its queue. English pages go out two at a time (counted against
  // every worker's room, four would go to the first worker and three wait in its queue).
  const namespace = `langs-${process.pid}-${Date.now()}`;
  const node = (nodeID: string) => new ServiceBroker({ nodeID, namespace, transporter: 'Fake', logger: false });
  const [sender, both, chineseOnly] = [node('sender'), node('en-zh'), node('zh')];
  both.createService({ name: 'ocr', metadata: { slots: 1, languages: ['en', 'zh'] } });
  chineseOnly.createService({ name: 'ocr', metadata: { slots: 2, languages: ['zh'] } });
  await Promise.all([sender, both, chineseOnly].map((b) => b.start()));
  try {
    while (clusterSlots(sender).workers < 2) await tick(20);
    expect([clusterSlots(sender, 'en'), clusterSlots(sender, 'zh'), clusterSlots(sender)]).toEqual([
      { workers: 1, slots: 1 },
      { workers: 2, slots: 3 },
      { workers: 2, slots: 3 },
    ]);
    let out = 0;
    const most = { en: 0, zh: 0 };
    const send = (language: 'en' | 'zh') => () =>
      whenWorkerHasRoom(
        sender,
        async () => {
          most[language] = Math.max(most[language], ++out);
          await tick(20);
          out--;
        },
        language,
      );
    await Promise.all(Array.from({ length: 4 }, send('en')));
    await Promise.all(Array.from({ length: 6 }, send('zh')));
    expect(most).toEqual({ en: 2, zh: 5 });
  } finally {
    await Promise.all([sender, both, chineseOnly].map((b) => b.stop()));
  }
});
