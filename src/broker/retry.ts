/** Retrying a transient failure with exponential backoff; permanent failures are not retried. */

export interface RetryPolicy {
  /** Tries after the first. */
  retries: number;
  /** Wait before the first retry; doubled before each next one. */
  delayMs: number;
}

export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  retryable: (err: unknown) => boolean,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.retries || !retryable(err)) throw err;
      await new Promise((r) => setTimeout(r, policy.delayMs * 2 ** n));
    }
  }
}
