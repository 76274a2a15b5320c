/**
 * Capacity-aware load balancing. Round-robin sends a slow node as many pages as a fast one and lets
 * its queue grow; instead, each caller counts the requests it has outstanding on every node and sends
 * the next one where that count per inference slot (the service's `metadata.slots`) is lowest. A node
 * that reads twice as fast drains its count twice as fast, so it gets about twice the pages; a node
 * with twice the slots takes twice the count before it looks as busy.
 * Services without slots keep Moleculer's usual preference for a local endpoint. A retry names the
 * nodes that already failed its page (`avoidNodes`); they are skipped while any other node is there.
 * A page in a language (`language`) goes only to nodes that advertise it.
 */
import { Strategies, type ActionEndpoint, type Context, type Middleware, type ServiceBroker } from 'moleculer';
import { OcrError } from '../errors.ts';
import { advertisedLanguages } from './languages.ts';

const outstandingByBroker = new WeakMap<ServiceBroker, Map<string, number>>();

/** This broker's calls in flight per target node, as OutstandingRequests counts them. */
export function outstandingCalls(broker: ServiceBroker): Map<string, number> {
  let counts = outstandingByBroker.get(broker);
  if (!counts) outstandingByBroker.set(broker, (counts = new Map<string, number>()));
  return counts;
}

/** Counts this node's calls in flight per target node (remote and local alike). */
export const OutstandingRequests: Middleware = {
  name: 'OutstandingRequests',
  remoteAction: track,
  localAction: track,
};

function track(this: ServiceBroker, next: (ctx: Context) => Promise<unknown>) {
  const counts = outstandingCalls(this);
  return (ctx: Context) => {
    const node = ctx.nodeID ?? '';
    counts.set(node, (counts.get(node) ?? 0) + 1);
    return next(ctx).finally(() => counts.set(node, (counts.get(node) ?? 1) - 1));
  };
}

/** What the choice reads of an endpoint: its node, whether it is this node, its service's metadata. */
export interface Candidate {
  id: string;
  local: boolean;
  service: { metadata: Record<string, unknown> };
}

function slotsOf(endpoint: Candidate): number | undefined {
  const slots = endpoint.service.metadata.slots;
  return typeof slots === 'number' ? slots : undefined;
}

/**
 * The endpoint for the next call, given the calls outstanding per node, the nodes to avoid and the
 * page's language: only endpoints that advertise it may take it (NO_WORKERS naming it when none does).
 */
export function leastOutstanding<E extends Candidate>(
  all: readonly E[],
  outstanding: ReadonlyMap<string, number>,
  avoidNodes: readonly string[],
  language?: string,
): E {
  const readers = language === undefined ? all : all.filter((e) => advertisedLanguages(e.service.metadata)?.includes(language));
  if (readers.length === 0) throw new OcrError('NO_WORKERS', `No OCR worker that reads language "${language}" is available`);
  const others = avoidNodes.length ? readers.filter((e) => !avoidNodes.includes(e.id)) : readers;
  const list = others.length ? others : readers;
  // Only services that declare inference slots (the OCR workers) are spread by capacity; any other
  // call stays on this node when it can (a job's aggregator is the one beside its upload).
  if (!list.some((e) => slotsOf(e) !== undefined)) {
    const local = list.find((e) => e.local);
    if (local) return local;
  }
  let best: E[] = [];
  let bestLoad = Infinity;
  for (const endpoint of list) {
    const slots = Math.max(1, slotsOf(endpoint) ?? 1);
    const load = ((outstanding.get(endpoint.id) ?? 0) + 1) / slots;
    if (load < bestLoad) {
      bestLoad = load;
      best = [endpoint];
    } else if (load === bestLoad) best.push(endpoint);
  }
  return best[Math.floor(Math.random() * best.length)]!;
}

export class LeastOutstandingStrategy extends Strategies.Base {
  select(all: ActionEndpoint[], ctx?: Context): ActionEndpoint {
    return leastOutstanding(all, outstandingCalls(this.broker), ctx?.options.avoidNodes ?? [], ctx?.options.language);
  }
}
