/**
 * Broker options from the environment. Without TRANSPORTER the node is self-contained (the embedded
 * default: every service in one process); with TRANSPORTER=nats://host:4222 it joins the cluster.
 */
import { hostname } from 'node:os';
import type { BrokerOptions } from 'moleculer';

export function brokerOptions(env: NodeJS.ProcessEnv = process.env): BrokerOptions {
  return {
    namespace: env.NAMESPACE ?? 'ocr-cluster',
    nodeID: env.NODE_ID || `${hostname()}-${process.pid}`,
    transporter: env.TRANSPORTER ? { type: 'NATS', options: { url: env.TRANSPORTER } } : null,
    logger: { type: 'Console', options: { level: (env.LOG_LEVEL as 'info' | undefined) ?? 'info', formatter: 'short' } },
    validator: true,
    // The gateway maps errors to HTTP itself; the broker must not print stacks for expected 4xx.
    errorHandler(err: Error & { code?: number }) {
      throw err;
    },
  };
}

export default brokerOptions();
