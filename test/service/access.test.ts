/** API keys, rate limits and CORS on the one-process server. */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { startServer, stopProcess } from '../../harness/processes.ts';

let server: ChildProcess & { output: string[] };
let base: string;
const ORIGIN = 'https://archive.example';

before(async () => {
  ({ server, base } = await startServer({ API_KEYS: 'key-one, key-two', RATE_LIMIT_PER_MINUTE: '5', CORS_ORIGINS: ORIGIN }));
});
after(() => stopProcess(server));

const get = (path: string, key?: string) => fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

test('every route but /health wants one of the API keys', async () => {
  assert.equal((await get('/health')).status, 200);
  for (const [key, message] of [[undefined, /Bearer/], ['key-three', /Unknown API key/]] as const) {
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
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  const res = await get('/jobs', 'key-two');
  assert.equal(res.status, 429);
  assert.equal((await res.json()).error.code, 'RATE_LIMITED');
  assert.equal(res.headers.get('x-rate-limit-limit'), '5');
  assert.equal((await get('/jobs', 'key-one')).status, 200, 'another key is not affected');
  for (let i = 0; i < 8; i++) assert.equal((await get('/health')).status, 200, '/health is never limited');
});

test('browsers from CORS_ORIGINS may call the API', async () => {
  const preflight = await fetch(`${base}/ocr/pdf`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
  assert.ok(preflight.status < 300, String(preflight.status));
  assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/i);
  const other = await fetch(`${base}/health`, { headers: { origin: 'https://elsewhere.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});
