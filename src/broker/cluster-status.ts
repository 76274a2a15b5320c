/** The cluster's OCR workers and their live health, for `GET /workers/status` and the REPL. */
import type { Context, ServiceBroker } from 'moleculer';
import type { WorkerCircuit, WorkerHealth, WorkersStatus } from '../contracts.ts';
import type { Caller } from './ocr-call.ts';

/** This node's circuit breaker state for a worker's `ocr.recognize` (pages are sent from here). */
function circuitOf(broker: ServiceBroker, nodeID: string): WorkerCircuit {
  const state = broker.CircuitBreakerStore?.get(`${nodeID}:ocr.recognize`)?.state ?? 'close';
  return state === 'close' ? 'closed' : state === 'open' ? 'open' : 'half_open';
}

export async function workersStatus(broker: ServiceBroker, ctx?: Context): Promise<WorkersStatus> {
  const caller: Caller = ctx ?? broker;
  const nodes = broker.registry.getServiceList({ skipInternal: true }).flatMap((s) => (s.name === 'ocr' && s.nodeID ? [s.nodeID] : []));
  const workers = await Promise.all(
    nodes.map(async (nodeID): Promise<WorkersStatus['workers'][number]> => {
      try {
        const health = await caller.call<WorkerHealth, Record<string, never>>('ocr.health', {}, { nodeID, timeout: 3000, retries: 0 });
        return { ...health, status: health.stuck > 0 ? 'unhealthy' : 'healthy', circuit: circuitOf(broker, nodeID) };
      } catch {
        return {
          node_id: nodeID,
          host: broker.registry.nodes.get(nodeID)?.hostname ?? undefined,
          status: 'unreachable',
          circuit: circuitOf(broker, nodeID),
        };
      }
    }),
  );
  workers.sort((a, b) => a.node_id.localeCompare(b.node_id));
  return { total_workers: workers.length, healthy_workers: workers.filter((w) => w.status === 'healthy').length, workers };
}
