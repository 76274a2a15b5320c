import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { ServiceBroker } from 'moleculer';
import { leastOutstanding, outstandingCalls, OutstandingRequests } from '../../src/broker/balancing.ts';

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
