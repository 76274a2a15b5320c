/**
 * Uploads are refused cheaply and never hold the server: a declared or growing size over the limit,
 * a stalled body (UPLOAD_IDLE_TIMEOUT), too many uploads at once (MAX_CONCURRENT_UPLOADS), a form
 * that breaks the rules. Raw sockets show what a client sees: the answer, and the connection closed
 * without the rest of the body being read.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, test } from '@jest/globals';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderChildren } from '../helpers/render-children.ts';

let server: ChildProcess & { output: string[] };
let base: string;
let port: number;

beforeAll(async () => {
  ({ server, base } = await startServer({ MAX_UPLOAD_MB: '1', UPLOAD_IDLE_TIMEOUT: '1', MAX_CONCURRENT_UPLOADS: '1' }));
  port = Number(new URL(base).port);
});
afterAll(() => stopProcess(server));

const BOUNDARY = 'test-boundary-24';
const partHead = (field: string, filename: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  /** Body bytes the client had written when the server closed the connection. */
  sent: number;
  closed: boolean;
}

/**
 * Sends a multipart POST by hand: the headers, then `send` writes the body (as slowly as it likes).
 * Resolves once the server has answered and closed the connection, or after `waitMs`.
 */
function rawPost(
  path: string,
  contentLength: number,
  send: (socket: Socket, sent: (n: number) => void) => void,
  waitMs = 10_000,
  to = port,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(to, '127.0.0.1');
    let answer = '';
    let sent = 0;
    let closed = false;
    const finish = () => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body, sent, closed });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, waitMs);
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => undefined); // EPIPE / ECONNRESET once the server has closed
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      finish();
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${contentLength}\r\n\r\n`,
    );
    send(socket, (n) => (sent += n));
  });
}

/** Writes `total` bytes of file data as fast as the socket takes them, until the server closes it. */
function pour(socket: Socket, total: number, sent: (n: number) => void): void {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let left = total;
  const more = () => {
    while (left > 0 && !socket.destroyed) {
      const n = Math.min(left, chunk.length);
      left -= n;
      sent(n);
      if (!socket.write(chunk.subarray(0, n))) return void socket.once('drain', more);
    }
  };
  more();
}

test('a file that grows past MAX_UPLOAD_MB gets 413 and the connection is closed: the rest is never read', async () => {
  const file = Math.round(1.2 * 1024 * 1024); // over 1 MB, within what the declared length may carry
  const head = partHead('file', 'big.pdf');
  const answer = await rawPost('/jobs', head.length + file + 64, (socket, sent) => {
    socket.write(head);
    pour(socket, file, sent);
  });
  assert.equal(answer.status, 413, answer.headers);
  assert.match(answer.body, /"UPLOAD_TOO_LARGE"/);
  assert.match(answer.headers, /connection: close/);
  assert.equal(answer.closed, true, 'the server closed the connection');
});

test('a declared length far over MAX_UPLOAD_MB gets 413 before a byte of the body is read', async () => {
  const answer = await rawPost('/ocr/image', 1024 ** 3, () => undefined);
  assert.equal(answer.status, 413);
  assert.match(answer.body, /"UPLOAD_TOO_LARGE"/);
  assert.equal(answer.closed, true);
});

test('an upload that stalls for UPLOAD_IDLE_TIMEOUT gets 408 UPLOAD_TIMEOUT and its socket closed', async () => {
  const answer = await rawPost('/ocr/image', 100_000, (socket) => socket.write(partHead('file', 'slow.png') + 'only a few bytes'));
  assert.equal(answer.status, 408, answer.headers);
  assert.match(answer.body, /"UPLOAD_TIMEOUT"/);
  assert.match(answer.headers, /connection: close/);
  assert.equal(answer.closed, true);
});

test('past MAX_CONCURRENT_UPLOADS, a new upload is refused 503 TOO_MANY_UPLOADS with Retry-After; the next one after is taken', async () => {
  let unblock!: () => void;
  const blocked = new Promise<void>((r) => (unblock = r));
  const slow = rawPost('/ocr/image', 100_000, (socket) => {
    socket.write(partHead('file', 'slow.png'));
    void blocked.then(() => socket.destroy());
  });
  await new Promise((r) => setTimeout(r, 300));
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(10)]), 'second.png');
  const refused = await fetch(`${base}/ocr/image`, { method: 'POST', body });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).error.code, 'TOO_MANY_UPLOADS');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  unblock();
  await slow;
  await new Promise((r) => setTimeout(r, 200));
  const again = await fetch(`${base}/ocr/image`, { method: 'POST', body });
  assert.equal(again.status, 415, 'the slot is free again (and the 10 zero bytes are no image)');
});

test('a form with more than 20 fields, or a second file, is refused 400 with its own code and a clear message', async () => {
  const many = new FormData();
  for (let i = 0; i < 21; i++) many.append(`field${i}`, 'x');
  many.append('file', new Blob([new Uint8Array(10)]), 'a.png');
  const fields = await fetch(`${base}/ocr/image`, { method: 'POST', body: many });
  assert.equal(fields.status, 400);
  assert.equal((await fields.json()).error.code, 'TOO_MANY_FIELDS');

  const two = new FormData();
  two.append('image', new Blob([new Uint8Array(10)]), 'first.png');
  two.append('file', new Blob([new Uint8Array(10)]), 'second.png');
  const files = await fetch(`${base}/ocr/image`, { method: 'POST', body: two });
  assert.equal(files.status, 400);
  const { error } = await files.json();
  assert.equal(error.code, 'TOO_MANY_FILES');
  assert.match(error.message, /one file, in the field "file"; this request has files in "image" and "file"/);
});

test('SIGTERM while an upload stalls: the upload is answered 503 at once and the node stops, instead of waiting for it', async () => {
  const { server: stopping, base: other } = await startServer({ UPLOAD_IDLE_TIMEOUT: '120' });
  const exited = new Promise<number | null>((r) => stopping.once('exit', r));
  const answer = await rawPost(
    '/jobs',
    100_000,
    (socket) => {
      socket.write(partHead('file', 'slow.pdf') + '%PDF-1.7 and then nothing more');
      setTimeout(() => stopping.kill('SIGTERM'), 500);
    },
    60_000,
    Number(new URL(other).port),
  );
  assert.equal(answer.status, 503, answer.headers);
  assert.match(answer.body, /"SERVICE_UNAVAILABLE".*stopping/);
  assert.match(answer.headers, /retry-after: 5/);
  assert.equal(await exited, 0, stopping.output.join(''));
});

test('a PDF starts its render child while it is still arriving, and its job reads it', async () => {
  const pdf = await buildPdf([{ lines: ['Started while uploading'], size: [400, 120] }]);
  const head = partHead('file', 'arriving.pdf');
  const tail = `\r\n--${BOUNDARY}--\r\n`;
  assert.equal(renderChildren(server.pid!), 0, 'no render child before the upload');
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (d) => (answer += d.toString()));
  const closed = new Promise((r) => socket.once('close', r));
  socket.write(
    `POST /ocr/pdf HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${head.length + pdf.length + tail.length}\r\n\r\n`,
  );
  socket.write(head);
  socket.write(pdf.subarray(0, 1024));
  // Well within UPLOAD_IDLE_TIMEOUT (1 s) of this server: the rest of the file is still to come.
  let children = 0;
  for (let waited = 0; waited < 600 && children === 0; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
    children = renderChildren(server.pid!);
  }
  socket.write(Buffer.concat([pdf.subarray(1024), Buffer.from(tail)]));
  await closed;
  assert.equal(children, 1, 'a render child was running before the upload ended');
  assert.match(answer, /^HTTP\/1.1 200/);
  assert.match(answer, /Started while uploading/);
});
