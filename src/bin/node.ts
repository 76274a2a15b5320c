/**
 * Starts one node from its configuration: a broker (src/broker/broker-options.ts) running the
 * services the configuration names (SERVICES), each built from the configuration. Used by `npm
 * start`, `ocr-cluster batch`, the REPL and the cluster tests' fixtures.
 */
import { ServiceBroker, type BrokerOptions } from 'moleculer';
import { brokerOptions } from '../broker/broker-options.ts';
import type { NodeConfig, ServiceName } from '../config/config.ts';
import type { FileJobLimits } from '../jobs/file-job.ts';

/** Each service's module is loaded only on a node that runs it: a worker never loads the HTTP side, a gateway never the models. */
const SERVICES: Record<ServiceName, (broker: ServiceBroker, config: NodeConfig) => Promise<unknown>> = {
  'ocr-worker': async (broker, config) => broker.createService((await import('../../services/ocr-worker.service.ts')).default(config)),
  rasterizer: async (broker, config) => broker.createService((await import('../../services/rasterizer.service.ts')).default(config)),
  aggregator: async (broker, config) => broker.createService((await import('../../services/aggregator.service.ts')).default(config)),
  gateway: async (broker, config) => broker.createService((await import('../../services/gateway.service.ts')).default(config)),
};

/** `overrides` for a node embedded in a command with its own lifecycle (signals, exit, the REPL). */
export async function startNode(config: NodeConfig, overrides: BrokerOptions = {}): Promise<ServiceBroker> {
  const broker = new ServiceBroker({ ...brokerOptions(config.broker, config.pageCalls), ...overrides });
  for (const name of config.services) await SERVICES[name](broker, config);
  await broker.start();
  return broker;
}

/** What a file job run from this node (the CLI, the REPL) may take. */
export function fileJobLimits(config: NodeConfig): FileJobLimits {
  return { maxUploadBytes: config.limits.maxUploadBytes, tempDir: config.jobs.tempDir, pageCalls: config.pageCalls };
}
