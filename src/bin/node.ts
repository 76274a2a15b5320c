/**
 * Starts one node: a broker configured from the environment (src/broker/broker-options.ts) running the services
 * named in SERVICES (comma-separated, default all). Used by `npm start`, the cluster tests and the REPL.
 */
import { ServiceBroker, type BrokerOptions, type ServiceSchema } from 'moleculer';
import { brokerOptions } from '../broker/broker-options.ts';

export const SERVICE_MODULES = {
  'ocr-worker': () => import('../../services/ocr-worker.service.ts'),
  rasterizer: () => import('../../services/rasterizer.service.ts'),
  aggregator: () => import('../../services/aggregator.service.ts'),
  gateway: () => import('../../services/gateway.service.ts'),
} as const;

export type ServiceName = keyof typeof SERVICE_MODULES;

export function servicesFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceName[] {
  const raw = (env.SERVICES ?? 'all').split(',').map((s) => s.trim()).filter(Boolean);
  if (raw.includes('all')) return Object.keys(SERVICE_MODULES) as ServiceName[];
  for (const name of raw) {
    if (!(name in SERVICE_MODULES)) throw new Error(`Unknown service "${name}" in SERVICES; known: ${Object.keys(SERVICE_MODULES).join(', ')}`);
  }
  return raw as ServiceName[];
}

/** `overrides` for a node embedded in a command with its own lifecycle (signals, exit). */
export async function startNode(env: NodeJS.ProcessEnv = process.env, overrides: BrokerOptions = {}): Promise<ServiceBroker> {
  const broker = new ServiceBroker({ ...brokerOptions(env), ...overrides });
  for (const name of servicesFromEnv(env)) {
    const schema = (await SERVICE_MODULES[name]()).default as ServiceSchema;
    broker.createService(schema);
  }
  await broker.start();
  return broker;
}
