import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { ServiceBroker } from 'moleculer';
import { leastOutstanding, outstandingCalls, OutstandingRequests } from '../../src/broker/balancing.ts';
import { toMoleculerError } from '../../src/broker/broker-errors.ts';
import { OcrMetrics, prometheusText } from '../../src/broker/metrics.ts';
import { recognizeWithRetries } from '../../src/broker/ocr-call.ts';
import { OcrError } from '../../src/errors.ts';

const endpoint = (id: string, slots?: number, local = false) => ({
  id,
  local,
  service: { metadata: slots === undefined ? {} : { slots } },
});
const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));

test('the next page goes to the node with the fewest outstanding calls per slot', () => {
  const busy = counts({ a: 2, b: 3 });
  assert.equal(leastOutstanding([endpoint('a', 1), endpoint('b', 1)], busy, []).id, 'a');
  // b has twice the slots: 3 outstanding over 2 slots is less busy than 2 over 1.
  assert.equal(leastOutstanding([endpoint('a', 1), endpoint('b', 2)], busy, []).id, 'b');
  const picks = new Set(Array.from({ length: 40 }, () => leastOutstanding([endpoint('a', 1), endpoint('b', 1)], counts({}), []).id));
  expect([...picks].sort()).toEqual(['a', 'b']); // ties are broken at random once the calls are done
});

test('services without slots stay on the local node when it has them', () => {
  const busy = counts({ here: 5 });
  assert.equal(leastOutstanding([endpoint('remote'), endpoint('here', undefined, true)], busy, []).id, 'here');
  assert.equal(
    leastOutstanding([endpoint('remote', 1), endpoint('here', 1, true)], busy, []).id,
    'remote',
    'OCR workers are chosen by load, local or not',
  );
});

test('a retry avoids the nodes that failed its page while another node is there', () => {
  const picks = new Set(Array.from({ length: 20 }, () => leastOutstanding([endpoint('a', 4), endpoint('b', 1)], counts({}), ['a']).id));
  expect([...picks]).toEqual(['b']); // a is idle with more slots, but it failed this page
  assert.ok(
    ['a', 'b'].includes(leastOutstanding([endpoint('a', 1), endpoint('b', 1)], counts({}), ['a', 'b']).id),
    'with nowhere else to go, a failed node is tried again',
  );
});

test('the broker counts its calls in flight per node until they settle', async () => {
  const broker = new ServiceBroker({ nodeID: 'here', logger: false, middlewares: [OutstandingRequests] });
  const releases: (() => void)[] = [];
  broker.createService({ name: 'slow', actions: { wait: () => new Promise<void>((r) => releases.push(r)) } });
  await broker.start();
  try {
    const calls = [broker.call('slow.wait'), broker.call('slow.wait')];
    await new Promise((r) => setImmediate(r));
    assert.equal(outstandingCalls(broker).get('here'), 2);
    releases.forEach((r) => r());
    await Promise.all(calls);
    assert.equal(outstandingCalls(broker).get('here'), 0);
  } finally {
    await broker.stop();
  }
});

test('a page in a language goes only to nodes that advertise it; none is NO_WORKERS naming it', () => {
  const reads = (id: string, languages: string[]) => ({ id, local: false, service: { metadata: { slots: 1, languages } } });
  const all = [reads('zh-only', ['zh']), reads('both', ['en', 'zh'])];
  const picks = new Set(Array.from({ length: 20 }, () => leastOutstanding(all, counts({ both: 5 }), [], 'en').id));
  expect([...picks]).toEqual(['both']); // busier, but the only one that reads English
  assert.equal(leastOutstanding(all, counts({ both: 5 }), [], 'zh').id, 'zh-only');
  assert.throws(() => leastOutstanding(all, counts({}), [], 'fr'), { code: 'NO_WORKERS', message: /language "fr"/ });
});

test('a page sent again after a transient failure is counted by the code that caused it', async () => {
  const broker = new ServiceBroker({ nodeID: 'here', logger: false, metrics: { enabled: true, reporter: [] }, middlewares: [OcrMetrics] });
  let calls = 0;
  broker.createService({
    name: 'ocr',
    actions: {
      recognize: () => {
        calls += 1;
        if (calls === 1) throw toMoleculerError(new OcrError('WORKER_LOST', 'lost'));
        return { page_number: 1 };
      },
    },
  });
  await broker.start();
  try {
    await recognizeWithRetries(broker, broker, { page_number: 1 }, new Uint8Array(1), {
      timeoutMs: 5000,
      retry: { retries: 3, delayMs: 1 },
    });
    assert.equal(calls, 2);
    assert.match(prometheusText(broker), /^ocr_page_retries_total\{nodeID="here",code="WORKER_LOST"\} 1$/m);
  } finally {
    await broker.stop();
  }
});
