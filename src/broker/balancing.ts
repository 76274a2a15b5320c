/**
 * Capacity-aware load balancing. Round-robin sends a slow node as many pages as a fast one and lets
 * its queue grow; instead, each caller counts the requests it has outstanding on every node and sends
 * the next one where that count per inference slot (the service's `metadata.slots`) is lowest. A node
 * that reads twice as fast drains its count twice as fast, so it gets about twice the pages; a node
 * with twice the slots takes twice the count before it looks as busy.
 * Services without slots keep Moleculer's usual preference for a local endpoint. A retry names the
 * nodes that already failed its page (`avoidNodes`); they are skipped while any other node is there.
 */
import { Strategies, type Context, type Middleware, type ServiceBroker } from 'moleculer';
import type { AvoidNodesOption } from './ocr-call.ts';

type Endpoint = Parameters<Strategies.Base['select']>[0][number] & { service?: { metadata?: { slots?: number } } };

const outstandingByBroker = new WeakMap<ServiceBroker, Map<string, number>>();

function outstanding(broker: ServiceBroker): Map<string, number> {
  let counts = outstandingByBroker.get(broker);
  if (!counts) outstandingByBroker.set(broker, (counts = new Map()));
  return counts;
}

/** Counts this node's calls in flight per target node (remote and local alike). */
export const OutstandingRequests: Middleware = {
  name: 'OutstandingRequests',
  remoteAction: track,
  localAction: track,
};

function track(this: ServiceBroker, next: (ctx: Context) => Promise<unknown>) {
  const counts = outstanding(this);
  return (ctx: Context) => {
    const node = ctx.nodeID ?? '';
    counts.set(node, (counts.get(node) ?? 0) + 1);
    return next(ctx).finally(() => counts.set(node, (counts.get(node) ?? 1) - 1));
  };
}

export class LeastOutstandingStrategy extends Strategies.Base {
  select(all: Endpoint[], ctx?: Context): Endpoint {
    const avoid = (ctx?.options as AvoidNodesOption | undefined)?.avoidNodes ?? [];
    const others = avoid.length ? all.filter((e) => !avoid.includes(e.id)) : all;
    const list = others.length ? others : all;
    // Only services that declare inference slots (the OCR workers) are spread by capacity; any other
    // call stays on this node when it can (a job's aggregator is the one beside its upload).
    if (!list.some((e) => e.service?.metadata?.slots !== undefined)) {
      const local = list.find((e) => e.local);
      if (local) return local;
    }
    const counts = outstanding(this.broker);
    let best: Endpoint[] = [];
    let bestLoad = Infinity;
    for (const endpoint of list) {
      const slots = Math.max(1, endpoint.service?.metadata?.slots ?? 1);
      const load = ((counts.get(endpoint.id) ?? 0) + 1) / slots;
      if (load < bestLoad) {
        bestLoad = load;
        best = [endpoint];
      } else if (load === bestLoad) best.push(endpoint);
    }
    return best[Math.floor(Math.random() * best.length)]!;
  }
}
