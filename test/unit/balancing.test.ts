import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServiceBroker, type Context } from 'moleculer';
import { LeastOutstandingStrategy, OutstandingRequests } from '../../src/broker/balancing.ts';

const broker = new ServiceBroker({ logger: false });
const strategy = new LeastOutstandingStrategy(broker.registry, broker);
type Endpoint = Parameters<LeastOutstandingStrategy['select']>[0][number];
const endpoint = (id: string, slots?: number, local = false) => ({ id, local, service: { metadata: slots === undefined ? {} : { slots } } }) as unknown as Endpoint;

/** Starts `n` calls to `node` that stay outstanding until the returned function is called. */
function outstanding(node: string, n: number): () => void {
  const releases: (() => void)[] = [];
  const remoteAction = OutstandingRequests.remoteAction as (this: ServiceBroker, next: (ctx: Context) => Promise<unknown>) => (ctx: Context) => Promise<unknown>;
  const wrapped = remoteAction.call(broker, () => new Promise<void>((r) => releases.push(r)));
  for (let i = 0; i < n; i++) void wrapped({ nodeID: node } as Context);
  return () => releases.forEach((r) => r());
}

test('the next page goes to the node with the fewest outstanding calls per slot', async () => {
  const release = [outstanding('a', 2), outstanding('b', 3)];
  assert.equal(strategy.select([endpoint('a', 1), endpoint('b', 1)]).id, 'a');
  // b has twice the slots: 3 outstanding over 2 slots is less busy than 2 over 1.
  assert.equal(strategy.select([endpoint('a', 1), endpoint('b', 2)]).id, 'b');
  release.forEach((r) => r());
  await new Promise((r) => setImmediate(r));
  const picks = new Set(Array.from({ length: 40 }, () => strategy.select([endpoint('a', 1), endpoint('b', 1)]).id));
  assert.deepEqual([...picks].sort(), ['a', 'b'], 'ties are broken at random once the calls are done');
});

test('services without slots stay on the local node when it has them', () => {
  const release = outstanding('here', 5);
  assert.equal(strategy.select([endpoint('remote'), endpoint('here', undefined, true)]).id, 'here');
  assert.equal(strategy.select([endpoint('remote', 1), endpoint('here', 1, true)]).id, 'remote', 'OCR workers are chosen by load, local or not');
  release();
});

test('a retry avoids the nodes that failed its page while another node is there', () => {
  const retry = { options: { avoidNodes: ['a'] } } as unknown as Context;
  const picks = new Set(Array.from({ length: 20 }, () => strategy.select([endpoint('a', 4), endpoint('b', 1)], retry).id));
  assert.deepEqual([...picks], ['b'], 'a is idle with more slots, but it failed this page');
  const everywhere = { options: { avoidNodes: ['a', 'b'] } } as unknown as Context;
  assert.ok(['a', 'b'].includes(strategy.select([endpoint('a', 1), endpoint('b', 1)], everywhere).id), 'with nowhere else to go, a failed node is tried again');
});
