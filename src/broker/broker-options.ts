/**
 * The broker of a node, from its configuration. Without NATS the node is self-contained (the
 * embedded default: every service in one process); with TRANSPORTER=nats://host:4222 it joins the
 * cluster.
 */
import type { BrokerOptions, LogLevels, Service } from 'moleculer';
import { LeastOutstandingStrategy, OutstandingRequests } from './balancing.ts';
import { isNodeFault } from './broker-errors.ts';
import { OcrMetrics, prometheusText } from './metrics.ts';
import { loggerOptions, type LogFormat } from './logging.ts';
import { StopSignal } from './stopping.ts';
import { WatchNatsConnection } from './nats-connection.ts';
import type { PageCallPolicy } from './ocr-call.ts';

export interface NatsConfig {
  url: string;
  user?: string;
  pass?: string;
  token?: string;
  /** The CA, certificate and key of a TLS connection, as the PEM text of their files. */
  tls?: { ca?: string; cert?: string; key?: string };
}

export interface BrokerConfig {
  namespace: string;
  nodeID: string;
  logLevel: LogLevels;
  /** Text lines, or one JSON object a line (LOG_FORMAT=json). */
  logFormat: LogFormat;
  /** The cluster's NATS (TRANSPORTER); none: a self-contained node, every service in this process. */
  nats: NatsConfig | undefined;
  /** How long a worker whose engine kept failing gets no pages before one trial page. */
  circuitHalfOpenMs: number;
}

/** `pageCalls`: a stopping node waits for its calls in flight up to a page's time limit. */
export function brokerOptions(broker: BrokerConfig, pageCalls: PageCallPolicy): BrokerOptions {
  return {
    namespace: broker.namespace,
    nodeID: broker.nodeID,
    transporter: broker.nats
      ? // Credentials and TLS pass through; keep trying while the NATS server restarts.
        { type: 'NATS', options: { ...broker.nats, maxReconnectAttempts: -1, reconnectTimeWait: 500 } }
      : null,
    // Binary: page bytes and Buffers stay bytes (JSON would turn them into arrays of numbers).
    serializer: 'CBOR',
    // SIGTERM: stop taking requests, finish those in flight (up to a page's time limit), then leave.
    tracking: { enabled: true, shutdownTimeout: pageCalls.timeoutMs },
    // The bulkhead's in-flight and queue gauges feed the workers' live health; every metric is
    // served as Prometheus text by `$node.prometheus`, which GET /metrics asks of every node (metrics.ts).
    metrics: { enabled: true, reporter: [] },
    internalServices: {
      $node: {
        actions: {
          prometheus: {
            handler(this: Service): string {
              return prometheusText(this.broker);
            },
          },
        },
      },
    },
    // Pages go where this node has the fewest outstanding per inference slot (balancing.ts);
    // the strategy itself keeps other calls local, so a local OCR worker gets no unfair preference.
    registry: { strategy: LeastOutstandingStrategy, preferLocal: false },
    // WatchNatsConnection: pages out during a NATS outage are sent again at the reconnect (nats-connection.ts).
    middlewares: [OutstandingRequests, OcrMetrics, WatchNatsConnection, StopSignal],
    // A worker whose engine keeps failing is left alone for a while: at least half of 3 or more calls
    // in a minute failed -> no pages for CIRCUIT_HALF_OPEN_SECONDS, then one trial page. Timeouts and
    // lost nodes don't count: a NATS outage times out every node at once, and the retry covers them.
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 3,
      windowTime: 60,
      halfOpenTime: broker.circuitHalfOpenMs,
      check: isNodeFault,
    },
    // A node that stops answering is dropped within seconds.
    heartbeatInterval: 2,
    heartbeatTimeout: 6,
    logger: loggerOptions(broker.logLevel, broker.logFormat),
    validator: true,
    // The gateway maps errors to HTTP itself; the broker must not print stacks for expected 4xx.
    errorHandler(err: Error & { code?: number }) {
      throw err;
    },
  };
}
