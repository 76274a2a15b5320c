/**
 * Sending one page to `ocr.recognize`: the page's bytes go as the call's stream, and a transient
 * failure (worker lost, timeout, queue full, engine failure) is retried with backoff on another node
 * where there is one: the nodes that failed this page are passed to the balancer to avoid. An engine
 * failure is tried on one more node only: a page that breaks two engines is the page's fault, and
 * more tries would only trip circuit breakers on healthy nodes.
 */
import type { CallingOptions } from 'moleculer';
import { isNodeFault, isRetryable } from './broker-errors.ts';
import { withRetries, type RetryPolicy } from './retry.ts';
import { streamOf } from './streams.ts';
import type { PageResult, RecognizeParams } from '../contracts.ts';

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

export function recognizeWithRetries(
  caller: Caller,
  params: RecognizeParams,
  bytes: Uint8Array,
  policy: PageCallPolicy,
): Promise<PageResult> {
  const avoidNodes: string[] = [];
  let engineFailures = 0;
  return withRetries(
    async () => {
      const opts: CallingOptions = { stream: streamOf(bytes), timeout: policy.timeoutMs, avoidNodes: [...avoidNodes] };
      try {
        return await caller.call<PageResult, RecognizeParams>('ocr.recognize', params, opts);
      } catch (err) {
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
