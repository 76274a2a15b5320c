/**
 * What a batch shows while it runs: on a terminal one status line rewritten in place (documents and
 * pages done, pages per minute, ETA, failures, and each failure as it happens); elsewhere (a log,
 * CI) a plain line per document.
 */
import type { BatchEvent, BatchSummary } from './run.ts';

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function statusLine(s: BatchSummary): string {
  const d = s.documents;
  const seen = d.done + d.skipped + d.failed;
  const ranNow = d.done + d.failed;
  // ETA from this run's pace: skipped documents cost nothing and say nothing about the rest.
  const eta = ranNow > 0 ? ((d.total - seen) * s.duration_s) / ranNow : Infinity;
  return `${seen}/${d.total} documents (${d.skipped} skipped, ${d.failed} failed), ${s.pages.done} pages, ${s.pages_per_minute} pages/min, ETA ${duration(eta)}`;
}

export function summaryLine(s: BatchSummary): string {
  const d = s.documents;
  const workers =
    Object.entries(s.pages_per_worker)
      .map(([w, n]) => `${w} ${n}`)
      .join(', ') || 'none';
  return (
    `documents: ${d.done} done, ${d.skipped} skipped (done before), ${d.failed} failed${d.not_started ? `, ${d.not_started} not started` : ''} of ${d.total}; ` +
    `pages: ${s.pages.done} done, ${s.pages.failed} failed; ${duration(s.duration_s)}, ${s.pages_per_minute} pages/min; pages per worker: ${workers}` +
    (s.index
      ? `; index: ${s.index.documents} documents, ${s.index.passages} passages, ${s.index.vectors} vectors${s.index.pruned ? `, ${s.index.pruned} pruned` : ''}`
      : '')
  );
}

/** The lines said once, alike on a terminal and in a log. */
function notice(event: Exclude<BatchEvent, { type: 'document' }>): string {
  return event.type === 'listed' ? `${event.total} documents\n` : `pruned from the index (input gone): ${event.paths.join(', ')}\n`;
}

export function progressReporter(out: NodeJS.WriteStream): (event: BatchEvent) => void {
  if (!out.isTTY) {
    return (event) => {
      if (event.type !== 'document') out.write(notice(event));
      else {
        const e = event.entry;
        const what = event.skipped ? 'skipped' : e.status;
        out.write(
          `${what} ${e.path}: ${e.pages} pages${e.pages_failed ? ` (${e.pages_failed} failed)` : ''}${event.skipped ? '' : ` in ${(e.duration_ms / 1000).toFixed(1)} s`}${e.error ? ` ${e.error.code}: ${e.error.message}` : ''} | ${statusLine(event.summary)}\n`,
        );
      }
    };
  }
  return (event) => {
    if (event.type !== 'document') return void out.write(notice(event));
    const e = event.entry;
    if (e.status === 'failed' && !event.skipped) out.write(`\r\x1b[Kfailed ${e.path}: ${e.error?.code}: ${e.error?.message}\n`);
    out.write(`\r\x1b[K${statusLine(event.summary)}`);
  };
}
