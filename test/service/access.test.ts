/** API keys, rate limits and CORS on the one-process server. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobProgress, JobResult } from '../../src/contracts.ts';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';

let server: ChildProcess & { output: string[] };
let base: string;
/** Keys without a rate limit, and an admin key. */
let owners: { server: ChildProcess & { output: string[] }; base: string };
const ORIGIN = 'https://archive.example';

beforeAll(async () => {
  ({ server, base } = await startServer({ API_KEYS: 'key-one, key-two', RATE_LIMIT_PER_MINUTE: '5', CORS_ORIGINS: ORIGIN }));
  owners = await startServer({ API_KEYS: 'alice-key,bob-key', ADMIN_API_KEYS: 'admin-key' });
});
afterAll(() => Promise.all([stopProcess(server), stopProcess(owners.server)]));

const get = (path: string, key?: string) => fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

test('every route but /health wants one of the API keys', async () => {
  assert.equal((await get('/health')).status, 200);
  for (const [key, message] of [
    [undefined, /Bearer/],
    ['key-three', /Unknown API key/],
  ] as const) {
    const res = await get('/jobs', key);
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.error.code, 'UNAUTHORIZED');
    assert.match(body.error.message, message);
  }
  const upload = new FormData();
  upload.append('file', new Blob([new Uint8Array([1, 2, 3])]), 'x.png');
  const res = await fetch(`${base}/ocr/image`, { method: 'POST', body: upload });
  assert.equal(res.status, 401, 'an upload without a key is refused before it is read');
  assert.equal((await get('/jobs', 'key-one')).status, 200);
});

test('each key has its own request budget per minute; past it, 429 RATE_LIMITED', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await get('/workers/status', 'key-two')).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  const res = await get('/jobs', 'key-two');
  assert.equal(res.status, 429);
  assert.equal((await res.json()).error.code, 'RATE_LIMITED');
  assert.equal(res.headers.get('x-rate-limit-limit'), '5');
  const reset = Number(res.headers.get('x-rate-limit-reset'));
  assert.ok(Number.isInteger(reset) && reset >= 1 && reset <= 60, `X-Rate-Limit-Reset is seconds until the window resets: ${reset}`);
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 60 && Math.abs(retryAfter - reset) <= 1, `Retry-After ${retryAfter}`);
  assert.equal((await get('/jobs', 'key-one')).status, 200, 'another key is not affected');
  for (let i = 0; i < 8; i++) assert.equal((await get('/health')).status, 200, '/health is never limited');
});

test('browsers from CORS_ORIGINS may call the API', async () => {
  const preflight = await fetch(`${base}/ocr/pdf`, {
    method: 'OPTIONS',
    headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
  });
  assert.ok(preflight.status < 300, String(preflight.status));
  assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/i);
});

test('a browser origin not in CORS_ORIGINS gets 403 ORIGIN_NOT_ALLOWED on every route, not a 500', async () => {
  const origin = 'https://evil.example';
  const asks: [string, RequestInit][] = [
    ['/health', {}],
    ['/jobs', { headers: { authorization: 'Bearer key-one' } }],
    ['/jobs/some-id', { method: 'DELETE', headers: { authorization: 'Bearer key-one' } }],
    ['/ocr/pdf', { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } }],
    ['/no/such/route', {}],
  ];
  for (const [path, init] of asks) {
    const res = await fetch(`${base}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), origin } });
    assert.equal(res.status, 403, `${init.method ?? 'GET'} ${path}`);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal((await res.json()).error.code, 'ORIGIN_NOT_ALLOWED');
  }
  const unknown = await fetch(`${base}/no/such/route`);
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, 'NOT_FOUND', 'an unknown route answers in the same JSON shape');
  const badParam = await fetch(`${base}/jobs/%E0%A4%A`, { headers: { authorization: 'Bearer key-one' } });
  assert.equal(badParam.status, 400);
  assert.equal((await badParam.json()).error.code, 'BAD_REQUEST');
});

test('a refused key is logged once at WARN, without a stack trace', async () => {
  const from = server.output.length;
  assert.equal((await get('/workers/status', 'wrong-key')).status, 401);
  await new Promise((r) => setTimeout(r, 200));
  const log = server.output.slice(from).join('');
  assert.match(log, /WARN .*401 GET \/workers\/status .*Unknown API key/);
  assert.doesNotMatch(log, /ERROR|\n\s+at /);
});

test('a job belongs to the key that created it: other keys get 404 NOT_FOUND and do not see it listed; an admin key sees all', async () => {
  const call = (method: string, path: string, key: string) =>
    fetch(`${owners.base}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  const pdf = await buildPdf([{ lines: ['A page that belongs to Alice', 'and only to her'] }]);
  const submit = async (key: string) => {
    const body = new FormData();
    body.append('file', new Blob([new Uint8Array(pdf)]), 'alice.pdf');
    body.append('text_layer', 'auto');
    const res = await fetch(`${owners.base}/jobs`, { method: 'POST', body, headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 202);
    return ((await res.json()) as JobProgress).job_id;
  };
  const alices = await submit('alice-key');
  const bobs = await submit('bob-key');
  while ((await (await call('GET', `/jobs/${alices}`, 'alice-key')).json()).finished !== true) await new Promise((r) => setTimeout(r, 100));

  for (const [method, path] of [
    ['GET', ''],
    ['GET', '/result'],
    ['GET', '/events'],
    ['DELETE', ''],
  ] as const) {
    const res = await call(method, `/jobs/${alices}${path}`, 'bob-key');
    assert.equal(res.status, 404, `${method} /jobs/:id${path} with another key`);
    assert.equal((await res.json()).error.code, 'NOT_FOUND');
  }
  const own = (await (await call('GET', `/jobs/${alices}/result`, 'alice-key')).json()) as JobResult;
  assert.equal(own.metrics.status, 'success', "Bob's DELETE did not cancel it");
  assert.match(own.combined_text, /belongs to Alice/);
  const events = await (await call('GET', `/jobs/${alices}/events`, 'alice-key')).text();
  assert.match(events, /"finished":true/);

  const listed = async (key: string) => ((await (await call('GET', '/jobs', key)).json()) as JobProgress[]).map((j) => j.job_id).sort();
  expect(await listed('alice-key')).toEqual([alices]);
  expect(await listed('bob-key')).toEqual([bobs]);
  expect(await listed('admin-key')).toEqual([alices, bobs].sort());
  assert.equal((await call('GET', `/jobs/${bobs}`, 'admin-key')).status, 200);
  assert.equal((await call('DELETE', `/jobs/${bobs}`, 'admin-key')).status, 200, 'an admin key may cancel any job');
  assert.equal((await call('GET', `/jobs/${alices}`, 'no-such-key')).status, 401);
});
