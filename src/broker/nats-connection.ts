/**
 * This node's connection to NATS, as Moleculer does not report it: nats.js reconnects by itself and
 * Moleculer's transit never hears of the outage. Core NATS keeps nothing, so a request, a chunk of a
 * page's stream or a reply that was on its way when the server went away is lost, and whoever waits
 * for it would wait for its time limit (WORKER_REQUEST_TIMEOUT). Instead, a sender sends again at the
 * reconnect what it had out (src/broker/ocr-call.ts), the page queue hands nothing out while the
 * connection is down (src/broker/page-scheduler.ts), and a worker drops what it was still receiving
 * (services/ocr-worker.service.ts).
 */
import { Transporters, type Middleware, type ServiceBroker } from 'moleculer';
import { Events, type NatsConnection as NatsClient } from 'nats';

export class NatsConnection {
  /** False from a disconnect until the reconnect has settled (the OCR workers answer again). */
  connected = true;
  /** `performance.now()` when the client last reconnected; 0 before any. */
  reconnectedAt = 0;
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` each time a reconnect has settled, until the returned function is called. */
  onReconnect(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  disconnected(): void {
    this.connected = false;
  }

  reconnected(): void {
    this.reconnectedAt = performance.now();
  }

  settled(): void {
    this.connected = true;
    for (const listener of [...this.listeners]) listener();
  }
}

/** Longest a reconnect waits for the OCR workers to answer a ping. */
const SETTLE_MS = 10_000;

/**
 * Waits until every other node with an OCR worker answers a ping (or leaves the registry, or
 * SETTLE_MS pass): the other nodes reconnect to NATS when their own clients retry, up to a moment
 * later, and a page sent before a worker has subscribed again would be lost too.
 */
async function workersAnswer(broker: ServiceBroker): Promise<void> {
  const deadline = performance.now() + SETTLE_MS;
  const workerNodes = () =>
    new Set(
      broker.registry
        .getServiceList({ skipInternal: true })
        .flatMap((s) => (s.name === 'ocr' && s.nodeID && s.nodeID !== broker.nodeID ? [s.nodeID] : [])),
    );
  await Promise.all(
    [...workerNodes()].map(async (node) => {
      while (performance.now() < deadline && workerNodes().has(node)) {
        if (await broker.ping(node, 1000)) return;
      }
    }),
  );
}

/** Moleculer types its NATS transporter's client as `any`: once connected it is nats.js's connection. */
function isNatsClient(client: unknown): client is NatsClient {
  return typeof client === 'object' && client !== null && typeof (client as { status?: unknown }).status === 'function';
}

const connections = new WeakMap<ServiceBroker, NatsConnection>();

/** The broker's connection state; always connected for a node without NATS. */
export function natsConnection(broker: ServiceBroker): NatsConnection {
  let connection = connections.get(broker);
  if (!connection) connections.set(broker, (connection = new NatsConnection()));
  return connection;
}

/** Follows the client's status for as long as it is open. */
async function watch(broker: ServiceBroker, client: NatsClient): Promise<void> {
  const connection = natsConnection(broker);
  for await (const status of client.status()) {
    if (status.type === Events.Disconnect) {
      broker.logger.warn('Lost the connection to NATS; reconnecting');
      connection.disconnected();
    } else if (status.type === Events.Reconnect) {
      connection.reconnected();
      await workersAnswer(broker);
      broker.logger.info('Reconnected to NATS: pages that were out are sent again');
      connection.settled();
    }
  }
}

/** Follows the NATS client's status once the broker has connected. */
export const WatchNatsConnection: Middleware = {
  name: 'WatchNatsConnection',
  started(broker: ServiceBroker) {
    const tx = broker.transit?.tx;
    const client = tx instanceof Transporters.NATS ? (tx.client as unknown) : undefined;
    if (isNatsClient(client)) void watch(broker, client);
    return Promise.resolve();
  },
};
