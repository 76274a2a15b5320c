/** The ocr-worker service in a broker: the action contract, validation, errors, models loaded once. */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { Errors, ServiceBroker } from 'moleculer';
import sharp from 'sharp';
import ocrWorkerService from '../../services/ocr-worker.service.ts';
import { errorResponse } from '../../src/broker/broker-errors.ts';
import { streamOf } from '../../src/broker/streams.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { JobStoppedEvent, PageResult } from '../../src/contracts.ts';
import { OcrEngine } from '../../src/ocr/engine.ts';
import { ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';

// One engine in this process (a cluster node's default), so that its loads can be counted here;
// several engines in threads of their own are test/service/engine-pool.test.ts's.
const config = loadConfig({ OCR_CONCURRENCY: '1' });
const broker = new ServiceBroker({ nodeID: 'worker-test', logger: false });
const load = jest.spyOn(OcrEngine, 'load');

beforeAll(async () => {
  broker.createService(ocrWorkerService(config));
  await broker.start();
});
afterAll(() => broker.stop());

test('ocr.recognize returns the page contract', async () => {
  const { image } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const page = await broker.call<PageResult, object>('ocr.recognize', { page_number: 3 }, { stream: streamOf(image) });
  assert.equal(page.page_number, 3);
  assert.equal(page.worker, 'worker-test');
  expect([page.width, page.height]).toEqual([1200, 900]);
  assert.match(page.text, /^The quick brown fox jumps over the lazy dog\./);
  assert.ok(page.lines.length === 4 && page.paragraphs.length === 2);
  assert.deepEqual(Object.keys(page.timings).sort(), ['cls_ms', 'decode_ms', 'det_ms', 'layout_ms', 'rec_ms', 'total_ms']);
  assert.ok(page.avg_confidence > 0.9);
});

test('the models are loaded once per process, not per request', async () => {
  const { image } = renderPage({ paragraphs: [['Once is enough.']], height: 200 });
  await Promise.all([1, 2, 3].map((n) => broker.call('ocr.recognize', { page_number: n }, { stream: streamOf(image) })));
  assert.equal(load.mock.calls.length, 1);
  const health = await broker.call<{ pages_done: number; total_requests: number; in_flight: number }, object>('ocr.health', {});
  assert.ok(health.pages_done >= 4 && health.total_requests >= 4);
  assert.equal(health.in_flight, 0);
});

test("a page waiting for the engine is dropped as NOT_FOUND once its job has stopped (job.stopped); other jobs' pages are read", async () => {
  const { image } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const page = (job: string) =>
    broker.call<PageResult, object>('ocr.recognize', { page_number: 1 }, { stream: streamOf(image), meta: { job_id: job } });
  // One slot: the first page is read while the others wait in the worker's queue.
  const [reading, ofStoppedJob, ofRunningJob] = [page('running'), page('stopped'), page('running')];
  await broker.broadcast('job.stopped', { job_id: 'stopped' } satisfies JobStoppedEvent);
  await assert.rejects(ofStoppedJob, (err) => {
    assert.equal(errorResponse(err).body.error.code, 'NOT_FOUND');
    return true;
  });
  for (const read of await Promise.all([reading, ofRunningJob])) assert.match(read.text, /^The quick brown fox/);
});

test('bad params are refused as INVALID_PARAMS', async () => {
  const invalid = (err: unknown) => errorResponse(err).body.error.code === 'INVALID_PARAMS';
  await assert.rejects(broker.call('ocr.recognize', { page_number: 1 }), invalid, 'no page bytes');
  await assert.rejects(broker.call('ocr.recognize', { page_number: 0 }, { stream: streamOf(Buffer.from('x')) }), Errors.ValidationError);
  await assert.rejects(
    broker.call('ocr.recognize', { page_number: 1, raster: { width: 4, height: 4, channels: 2 } }, { stream: streamOf(Buffer.alloc(32)) }),
    Errors.ValidationError,
  );
  await assert.rejects(
    broker.call('ocr.recognize', { page_number: 1, raster: { width: 4, height: 4, channels: 1 } }, { stream: streamOf(Buffer.alloc(10)) }),
    invalid,
    'short raster',
  );
});

test('a decoded raster is read like the encoded image', async () => {
  const { image } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const { data, info } = await sharp(image).greyscale().raw().toBuffer({ resolveWithObject: true });
  const raster = { width: info.width, height: info.height, channels: 1 };
  const page = await broker.call<PageResult, object>('ocr.recognize', { page_number: 1, raster }, { stream: streamOf(data) });
  assert.match(page.text, /^The quick brown fox jumps over the lazy dog\./);
  assert.equal(page.timings.decode_ms, 0);
});

test('an undecodable image fails with IMAGE_UNREADABLE, not retryable', async () => {
  const { image } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  await assert.rejects(
    broker.call('ocr.recognize', { page_number: 1 }, { stream: streamOf(image.subarray(0, 300)) }),
    (err: Errors.MoleculerError) => {
      assert.equal(err.type, 'IMAGE_UNREADABLE');
      assert.equal(err.code, 422);
      assert.equal(err.retryable, false);
      return true;
    },
  );
});
