/**
 * Sending one page to `ocr.recognize`: the page's bytes go as the call's stream, and a transient
 * failure (worker lost, timeout, engine failure) is retried with backoff on another node
 * where there is one: the nodes that failed this page are passed to the balancer to avoid. An engine
 * failure is tried on one more node only: a page that breaks two engines is the page's fault, and
 * more tries would only trip circuit breakers on healthy nodes. A page that was out while the NATS
 * connection was down may have been lost with it: at the reconnect it fails WORKER_LOST and is sent
 * again, instead of waiting for its time limit; no page is sent while the connection is down.
 */
import type { CallingOptions, ServiceBroker } from 'moleculer';
import { classifyError, isNodeFault, isRetryable } from './broker-errors.ts';
import { OCR_METRICS } from './metrics.ts';
import { natsConnection, type NatsConnection } from './nats-connection.ts';
import { whenWorkerHasRoom } from './page-scheduler.ts';
import { withRetries, type RetryPolicy } from './retry.ts';
import { streamOf } from './streams.ts';
import type { PageResult, RecognizeParams } from '../contracts.ts';
import { OcrError } from '../errors.ts';

/** How a page is sent: the time one try may take, and the retries of a transient failure. */
export interface PageCallPolicy {
  timeoutMs: number;
  retry: RetryPolicy;
}

/** What calls an action: a Context (inside a handler, so the call joins its trace) or the ServiceBroker. */
export interface Caller {
  call<TResult, TParams>(actionName: string, params: TParams, opts?: CallingOptions): Promise<TResult>;
}

/** The node an error came from or was waiting on, when Moleculer says. */
function failedNode(err: unknown): string | undefined {
  const e = err as { nodeID?: unknown; data?: { nodeID?: unknown } } | undefined;
  const node = e?.nodeID ?? e?.data?.nodeID;
  return typeof node === 'string' ? node : undefined;
}

/** Resolves at the next reconnect, or after `ms` at most. */
function reconnect(connection: NatsConnection, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    const stop = connection.onReconnect(done);
    function done() {
      clearTimeout(timer);
      stop();
      resolve();
    }
  });
}

/** The call's outcome, or WORKER_LOST at the next reconnect: what was out during an outage may be lost. */
function unlessReconnected<T>(connection: NatsConnection, call: Promise<T>, page: number): Promise<T> {
  call.catch(() => undefined); // once abandoned, its late failure is nobody's
  let stop: () => void = () => undefined;
  const lost = new Promise<never>((_, reject) => {
    stop = connection.onReconnect(() =>
      reject(new OcrError('WORKER_LOST', 'The connection to NATS was lost while the page was out', page)),
    );
  });
  return Promise.race([call, lost]).finally(stop);
}

/**
 * `caller` makes the call (a handler's Context joins its trace); `broker` is this node. A page no
 * longer `wanted` when its slot comes (its job ended meanwhile) is not sent: NOT_FOUND, as for a page
 * asked of a closed document.
 */
export function recognizeWithRetries(
  caller: Caller,
  broker: ServiceBroker,
  params: RecognizeParams,
  bytes: Uint8Array,
  policy: PageCallPolicy,
  wanted = () => true,
): Promise<PageResult> {
  const connection = natsConnection(broker);
  const avoidNodes: string[] = [];
  let engineFailures = 0;
  let failure: unknown;
  return withRetries(
    async (n) => {
      if (n > 0) broker.metrics.increment(OCR_METRICS.retries, { code: classifyError(failure).code });
      if (!connection.connected) await reconnect(connection, policy.timeoutMs);
      try {
        // Sent only where a worker has room: the time limit counts from at most a page before it can start this one.
        return await whenWorkerHasRoom(
          broker,
          () => {
            if (!wanted())
              throw new OcrError(
                'NOT_FOUND',
                "The page's document was closed (its job ended) before a worker was free",
                params.page_number,
              );
            // The balancer sends a page in a language only to workers that read it (balancing.ts).
            const opts: CallingOptions = {
              stream: streamOf(bytes),
              timeout: policy.timeoutMs,
              avoidNodes: [...avoidNodes],
              language: params.language,
            };
            return unlessReconnected(
              connection,
              caller.call<PageResult, RecognizeParams>('ocr.recognize', params, opts),
              params.page_number,
            );
          },
          params.language,
        );
      } catch (err) {
        failure = err;
        const node = failedNode(err);
        if (node && !avoidNodes.includes(node)) avoidNodes.push(node);
        if (isNodeFault(err)) engineFailures += 1;
        throw err;
      }
    },
    policy.retry,
    (err) => isRetryable(err) && !(isNodeFault(err) && engineFailures > 1),
  );
}
