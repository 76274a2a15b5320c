/**
 * Runs a job's pages with at most `window` in flight: the next page is started (rendered, sent to a
 * worker) only when one finishes, so memory stays bounded whatever the page count, and workers stay
 * busy. A page that fails is reported and the others go on. Once `signal` aborts, no page starts.
 */
export interface PageRun<T> {
  page: number;
  result?: T;
  error?: unknown;
}

export async function runPages<T>(
  pages: readonly number[],
  window: number,
  processPage: (page: number) => Promise<T>,
  onDone: (run: PageRun<T>) => void,
  signal: AbortSignal,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < pages.length && !signal.aborted) {
      const page = pages[next++]!;
      try {
        onDone({ page, result: await processPage(page) });
      } catch (error) {
        onDone({ page, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window, pages.length)) }, lane));
}
