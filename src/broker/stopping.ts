/**
 * When a node begins to stop. Moleculer then waits for every context in flight (up to a page's time
 * limit) before any service's `stopped` runs; what would hold a context open for nothing, such as an
 * upload still being read, listens to this node's stop signal and ends first.
 */
import type { Middleware, ServiceBroker } from 'moleculer';

const controllers = new WeakMap<ServiceBroker, AbortController>();

/** Aborted when `broker` begins to stop (needs the StopSignal middleware). */
export function stopSignal(broker: ServiceBroker): AbortSignal {
  let controller = controllers.get(broker);
  if (!controller) controllers.set(broker, (controller = new AbortController()));
  return controller.signal;
}

export const StopSignal: Middleware = {
  name: 'StopSignal',
  stopping(broker: ServiceBroker) {
    controllers.get(broker)?.abort();
    return Promise.resolve();
  },
};
