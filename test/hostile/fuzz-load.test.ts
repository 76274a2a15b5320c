/**
 * A bounded fuzz test (byte-level mutations of a valid PDF and PNG) and a bounded load test (many
 * concurrent clients, good and bad files, for a fixed time) against one server.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, test } from '@jest/globals';
import { procMemoryMb } from '../../src/isolation/proc-memory.ts';
import type { JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { textPagePdf } from '../helpers/raw-pdf.ts';
import { renderPage } from '../helpers/render.ts';

let server: ChildProcess & { output: string[] };
let base: string;

beforeAll(async () => {
  ({ server, base } = await startServer({ MAX_UPLOAD_MB: '5' }));
});
afterAll(() => stopProcess(server));

const rssMb = () => Math.round(procMemoryMb(server.pid));

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
}

function mutate(input: Buffer, rand: () => number): Buffer {
  const at = (n = input.length) => Math.floor(rand() * n);
  const out = Buffer.from(input);
  switch (at(4)) {
    case 0: // flip a few bytes
      for (let i = 0, n = 1 + at(16); i < n; i++) out[at()] = at(256);
      return out;
    case 1: // cut short
      return out.subarray(0, at());
    case 2: {
      // insert random bytes
      const p = at();
      return Buffer.concat([out.subarray(0, p), Buffer.from(Array.from({ length: 1 + at(64) }, () => at(256))), out.subarray(p)]);
    }
    default: {
      // repeat a region
      const p = at(),
        q = Math.min(out.length, p + at(512));
      return Buffer.concat([out.subarray(0, q), out.subarray(p, q), out.subarray(q)]);
    }
  }
}

async function post(
  path: string,
  data: Uint8Array,
  name: string,
  fields: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(data)]), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(`${base}${path}`, { method: 'POST', body: form, signal: AbortSignal.timeout(120_000) });
  return { status: res.status, body: await res.json() };
}

/** Runs `tasks` with `n` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], n: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

test('300 byte-level mutations of a valid PDF and PNG: every reply is a 200 or a 4xx with a code', async () => {
  const pdf = textPagePdf('Fuzzing the ledger', [300, 100], 24);
  const png = renderPage({ paragraphs: [['Fuzzing the ledger']], width: 400, height: 80, fontSize: 24 }).image;
  const rand = prng(20261122);
  const tasks = Array.from({ length: 300 }, (_, i) => {
    const isPdf = i % 2 === 0;
    const data = mutate(isPdf ? pdf : png, rand);
    return async () => ({
      i,
      ...(await post(isPdf ? '/ocr/pdf' : '/ocr/image', data, isPdf ? 'f.pdf' : 'f.png', isPdf ? { dpi: '100' } : {})),
    });
  });
  const replies = await pool(tasks, 4);
  const tally: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status === 200 ? `200 ${r.body.metrics.status}` : `${r.status} ${r.body.error?.code}`;
    tally[key] = (tally[key] ?? 0) + 1;
    assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `mutation ${r.i}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.status !== 200) assert.match(r.body.error.code, /^[A-Z_]+$/, `mutation ${r.i}`);
  }
  console.log(`fuzz replies: ${JSON.stringify(tally)}`);
  assert.equal(server.exitCode, null, 'the server is still running');
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

/** Server RSS settled after a warm-up burst and after each of two 10 s bursts of the load test. */
let loadRss: [number, number, number] | undefined;

test('load: 12 clients for 20 s, good and bad files; no 5xx, no lost page', async () => {
  const goodPdf = textPagePdf('Load test page for the ledger', [400, 120], 24);
  const goodPng = renderPage({ paragraphs: [['Load test image for the ledger']], width: 600, height: 100, fontSize: 28 }).image;
  const bad = [Buffer.from('not a document'), goodPdf.subarray(0, 200), goodPng.subarray(0, 100), new Uint8Array(0)];
  const statuses = new Map<number, number>();
  const run = async (ms: number) => {
    const until = Date.now() + ms;
    const counts = { requests: 0, ok: 0, rejected: 0, pagesSent: 0, pagesReturned: 0 };
    await Promise.all(
      Array.from({ length: 12 }, async (_, client) => {
        for (let k = 0; Date.now() < until; k++) {
          const kind = (client + k) % 4;
          const r =
            kind === 0
              ? await post('/ocr/pdf', goodPdf, 'good.pdf', { dpi: '150' })
              : kind === 1
                ? await post('/ocr/image', goodPng, 'good.png')
                : await post(kind === 2 ? '/ocr/pdf' : '/ocr/image', bad[(client + k) % bad.length]!, 'bad.bin');
          counts.requests += 1;
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          assert.ok(r.status < 500, `${r.status} ${JSON.stringify(r.body)}`);
          if (kind < 2) {
            assert.equal(r.status, 200, JSON.stringify(r.body));
            const result = r.body as JobResult;
            counts.ok += 1;
            counts.pagesSent += 1;
            counts.pagesReturned += result.results.length;
            assert.equal(result.metrics.status, 'success');
            assert.match(result.combined_text, /Load test/);
          } else counts.rejected += 1;
        }
      }),
    );
    return counts;
  };
  // Settled: the lowest reading over the next 5 s (freed memory goes back to the system with a lag).
  const settledRss = async () => {
    let lowest = Infinity;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 500));
      lowest = Math.min(lowest, rssMb());
    }
    return lowest;
  };
  // The first bursts touch the memory concurrent work needs (allocator arenas, buffers, pdfjs and
  // sharp caches), which is not given back; what must not happen is growth from one burst to the next.
  await run(5_000);
  statuses.clear();
  const start = await settledRss();
  const first = await run(10_000);
  const afterFirst = await settledRss();
  const second = await run(10_000);
  const afterSecond = await settledRss();
  const counts = { requests: first.requests + second.requests, ok: first.ok + second.ok, rejected: first.rejected + second.rejected };
  assert.equal(first.pagesReturned + second.pagesReturned, first.pagesSent + second.pagesSent, 'every accepted page is in a result');
  console.log(
    `load: ${counts.requests} requests in 20 s (${counts.ok} OCR'd, ${counts.rejected} refused with 4xx), statuses ${JSON.stringify(Object.fromEntries(statuses))}; server RSS settled at ${start} MB after a warm-up burst, ${afterFirst} MB after 10 s of load, ${afterSecond} MB after 10 s more`,
  );
  loadRss = [start, afterFirst, afterSecond];
});

// Settled readings swing from burst to burst by up to 180 MB either way, with no trend: ten runs on the
// 2-core VNNI EPYC, quiet, 2026-11-30 (start -> first -> second, MB): 653-657-660, 673-703-745,
// 701-749-707, 645-687-757, 632-812-683, 767-766-673, 801-753-757, and at 240b3d6 618-658-661,
// 687-756-701, 728-836-759. So this catches a leak of a few hundred MB a burst, not a slow creep: a
// burst may end at most 200 MB above the higher reading before it.
// Float models (OCR_INT8=false) creep, 749 -> 1124 MB over ten bursts: their larger activations
// raise glibc's dynamic mmap threshold, later ones come from the heap and fragment it
// (MALLOC_MMAP_THRESHOLD_=8388608 held the same run flat, 558 -> 492 MB).
test('memory is flat from one burst of load to the next', () => {
  assert.ok(loadRss, 'the load test ran');
  const [start, afterFirst, afterSecond] = loadRss;
  assert.ok(afterSecond < Math.max(start, afterFirst) + 200 && afterSecond < 1500, `RSS ${start} -> ${afterFirst} -> ${afterSecond} MB`);
});
