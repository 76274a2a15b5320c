/**
 * Broker options from the environment, for src/bin/node.ts. Without TRANSPORTER the node is self-contained (the embedded
 * default: every service in one process); with TRANSPORTER=nats://host:4222 it joins the cluster.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { BrokerOptions } from 'moleculer';
import { isNodeFault } from './broker-errors.ts';
import { LeastOutstandingStrategy, OutstandingRequests } from './balancing.ts';
import { positiveNumber } from '../config/env.ts';

/** NATS connection options: credentials and TLS pass through from the environment. */
function natsOptions(env: NodeJS.ProcessEnv, url: string): Record<string, unknown> {
  const tls = env.NATS_TLS_CA || env.NATS_TLS_CERT || env.NATS_TLS_KEY
    ? {
        ca: env.NATS_TLS_CA ? readFileSync(env.NATS_TLS_CA) : undefined,
        cert: env.NATS_TLS_CERT ? readFileSync(env.NATS_TLS_CERT) : undefined,
        key: env.NATS_TLS_KEY ? readFileSync(env.NATS_TLS_KEY) : undefined,
      }
    : undefined;
  return {
    url,
    user: env.NATS_USER || undefined,
    pass: env.NATS_PASSWORD || undefined,
    token: env.NATS_TOKEN || undefined,
    tls,
    maxReconnectAttempts: -1, // keep trying while the NATS server restarts
    reconnectTimeWait: 500,
  };
}

export function brokerOptions(env: NodeJS.ProcessEnv = process.env): BrokerOptions {
  return {
    namespace: env.NAMESPACE ?? 'ocr-cluster',
    nodeID: env.NODE_ID || `${hostname()}-${process.pid}`,
    transporter: env.TRANSPORTER ? { type: 'NATS', options: natsOptions(env, env.TRANSPORTER) } : null,
    // Binary: page bytes and Buffers stay bytes (JSON would turn them into arrays of numbers).
    serializer: 'CBOR',
    // SIGTERM: stop taking requests, finish those in flight (up to a page's time limit), then leave.
    tracking: { enabled: true, shutdownTimeout: positiveNumber(env, 'WORKER_REQUEST_TIMEOUT', 120) * 1000 },
    // The bulkhead's in-flight and queue gauges feed the workers' live health.
    metrics: { enabled: true, reporter: [] },
    // Pages go where this node has the fewest outstanding per inference slot (src/broker/balancing.ts);
    // the strategy itself keeps other calls local, so a local OCR worker gets no unfair preference.
    registry: { strategy: LeastOutstandingStrategy, preferLocal: false },
    middlewares: [OutstandingRequests],
    // A worker whose engine keeps failing is left alone for a while: at least half of 3 or more calls
    // in a minute failed -> no pages for CIRCUIT_HALF_OPEN_SECONDS, then one trial page. Timeouts and
    // lost nodes don't count: a NATS outage times out every node at once, and the retry covers them.
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 3,
      windowTime: 60,
      halfOpenTime: positiveNumber(env, 'CIRCUIT_HALF_OPEN_SECONDS', 30) * 1000,
      check: isNodeFault,
    },
    // A node that stops answering is dropped within seconds.
    heartbeatInterval: 2,
    heartbeatTimeout: 6,
    logger: { type: 'Console', options: { level: (env.LOG_LEVEL as 'info' | undefined) ?? 'info', formatter: 'short' } },
    validator: true,
    // The gateway maps errors to HTTP itself; the broker must not print stacks for expected 4xx.
    errorHandler(err: Error & { code?: number }) {
      throw err;
    },
  };
}
