import assert from 'node:assert/strict';
import { expect, test } from '@jest/globals';
import { Errors } from 'moleculer';
import ApiGateway from 'moleculer-web';
import { errorResponse, toMoleculerError } from '../../src/broker/broker-errors.ts';
import { OcrError } from '../../src/errors.ts';
import { sniffMedia } from '../../src/jobs/media.ts';

test('an OcrError keeps its code and status through Moleculer and back to HTTP', () => {
  const moved = toMoleculerError(new OcrError('IMAGE_UNREADABLE', 'broken', 4));
  assert.equal(moved.code, 422);
  assert.equal(moved.retryable, false);
  expect(errorResponse(moved)).toEqual({ status: 422, body: { error: { code: 'IMAGE_UNREADABLE', message: 'broken', page: 4 } } });
  assert.equal(toMoleculerError(new OcrError('PAGE_TIMEOUT', 'slow')).retryable, true);
});

test('a refusal carries its Retry-After; a full worker queue is not retried', () => {
  expect(errorResponse(new OcrError('BUSY', 'later', undefined, 7))).toEqual({
    status: 503,
    body: { error: { code: 'BUSY', message: 'later' } },
    retryAfterSeconds: 7,
  });
  assert.equal(errorResponse(new Errors.QueueIsFullError({ action: 'ocr.recognize', nodeID: 'n1' })).body.error.code, 'WORKER_BUSY');
  assert.equal(toMoleculerError(new OcrError('WORKER_BUSY', 'full')).retryable, false);
});

test("Moleculer's own errors map to the taxonomy; unknown errors hide their message", () => {
  assert.equal(errorResponse(new Errors.ValidationError('bad params', 'VALIDATION_ERROR', [])).body.error.code, 'INVALID_PARAMS');
  assert.equal(errorResponse(new Errors.ServiceNotFoundError({ action: 'ocr.recognize' })).status, 503);
  assert.equal(errorResponse(new Errors.RequestTimeoutError({ action: 'ocr.recognize', nodeID: 'n1' })).body.error.code, 'PAGE_TIMEOUT');
  expect(errorResponse(new Error('secret stack detail'))).toEqual({
    status: 500,
    body: { error: { code: 'INTERNAL', message: 'Internal error' } },
  });
});

test('every moleculer-web error maps to a stable code and status, never a bare 500', () => {
  const web = ApiGateway.Errors;
  const { PayloadTooLarge } = web; // declared in types/moleculer-web.d.ts
  const cases: [Error, number, string][] = [
    [new web.ForbiddenError('ORIGIN_NOT_ALLOWED'), 403, 'ORIGIN_NOT_ALLOWED'],
    [new web.ForbiddenError('ORIGIN_NOT_FOUND'), 403, 'ORIGIN_NOT_ALLOWED'],
    [new web.ForbiddenError('NO_RIGHTS'), 403, 'FORBIDDEN'],
    [new web.UnAuthorizedError('NO_TOKEN', {}), 401, 'UNAUTHORIZED'],
    [new web.BadRequestError('UNABLE_DECODE_PARAM', {}), 400, 'BAD_REQUEST'],
    [new web.InvalidRequestBodyError({}, 'bad json'), 400, 'BAD_REQUEST'],
    [new web.NotFoundError('NOT_FOUND', {}), 404, 'NOT_FOUND'],
    [new PayloadTooLarge({}), 413, 'UPLOAD_TOO_LARGE'],
    [new web.RateLimitExceeded('', {}), 429, 'RATE_LIMITED'],
    [new web.ServiceUnavailableError('', {}), 503, 'SERVICE_UNAVAILABLE'],
    [new web.InvalidResponseTypeError('symbol'), 500, 'INTERNAL'],
    [new Errors.ServiceNotFoundError({ action: 'aggregator.status' }), 503, 'SERVICE_UNAVAILABLE'],
  ];
  for (const [err, status, code] of cases) {
    const { status: got, body } = errorResponse(err);
    expect([err.name, got, body.error.code]).toEqual([err.name, status, code]);
    assert.doesNotMatch(body.error.message, /^$/);
  }
  const classes = Object.values(web).filter((v): v is new () => Error => typeof v === 'function');
  for (const Class of classes)
    assert.ok(
      cases.some(([err]) => err.constructor === Class),
      `${Class.name} (a moleculer-web error class) has no mapping test`,
    );
});

test('files are recognised by their first bytes', () => {
  assert.equal(sniffMedia(Buffer.from('%PDF-1.7\n')), 'pdf');
  assert.equal(sniffMedia(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])), 'png');
  assert.equal(sniffMedia(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
  assert.equal(sniffMedia(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
  assert.equal(sniffMedia(Buffer.from([0x49, 0x49, 0x2a, 0x00])), 'tiff');
  assert.equal(sniffMedia(Buffer.from('hello')), undefined);
});
