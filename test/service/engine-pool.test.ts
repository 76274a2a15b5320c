/** Several engines in threads of their own in one process: what the one-process server runs by default. */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { defaultOcrConfig } from '../../src/ocr/config.ts';
import { EnginePool, type EnginesElsewhere } from '../../src/ocr/engine-pool.ts';
import { decodeImage } from '../../src/ocr/image/raster.ts';
import { POISON_WIDTH } from '../fixtures/crashing-engine-thread.ts';
import { ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';

let pool: EnginePool;
const MAX_PIXELS = 50_000_000;
const words = (s: string) => s.split(/\s+/).filter(Boolean);

beforeAll(async () => {
  pool = await EnginePool.start(defaultOcrConfig(2), 2, new URL('../fixtures/crashing-engine-thread.ts', import.meta.url));
});

afterAll(() => pool.close());

test('two engines read pages side by side, each with one thread, each page word for word', async () => {
  assert.equal(pool.info.engines, 2);
  assert.equal(pool.info.threads, 1);
  assert.match(pool.info.models.rec, /int8/);
  const pages = [
    renderPage({ paragraphs: ENGLISH_PARAGRAPHS }),
    renderPage({ paragraphs: [['The second page has its own words.', 'Read by whichever engine is free.']] }),
    renderPage({ paragraphs: ENGLISH_PARAGRAPHS, turn: 180 }),
  ];
  const before = pool.inferenceMs;
  const results = await Promise.all(pages.map((p) => pool.recognizeImage(p.image, MAX_PIXELS)));
  results.forEach((page, i) => expect(words(page.text)).toEqual(words(pages[i]!.truth)));
  assert.equal(results[2]!.rotation, 180);
  assert.ok(pool.inferenceMs > before);
});

test('a thread that dies on a page fails that page only; a new thread takes its place', async () => {
  const { image, truth } = renderPage({ paragraphs: ENGLISH_PARAGRAPHS });
  const poison = { data: new Uint8Array(POISON_WIDTH * 20).fill(255), width: POISON_WIDTH, height: 20, channels: 1 as const };
  await assert.rejects(pool.recognizeRaster(poison), /engine thread exited with code 70/);
  // The other engine keeps reading while the replacement loads; then there are two again.
  expect(words((await pool.recognizeImage(image, MAX_PIXELS)).text)).toEqual(words(truth));
  while (pool.info.engines < 2) await new Promise((r) => setTimeout(r, 100));
  const both = await Promise.all([pool.recognizeImage(image, MAX_PIXELS), pool.recognizeImage(image, MAX_PIXELS)]);
  for (const page of both) expect(words(page.text)).toEqual(words(truth));
});

test('an engine without a page reads recognition batches of the page the other is reading, and the text is the same', async () => {
  const paragraphs = [...ENGLISH_PARAGRAPHS, ...ENGLISH_PARAGRAPHS, ...ENGLISH_PARAGRAPHS];
  const { image, truth } = renderPage({ paragraphs, height: 1500 });
  const before = pool.lentBatches;
  const page = await pool.recognizeImage(image, MAX_PIXELS);
  expect(words(page.text)).toEqual(words(truth));
  assert.ok(pool.lentBatches > before, 'the idle engine read some of its batches');
  // Read again beside another page, its batches lent or not as the other engine happens to be free: the same text.
  const two = await Promise.all([pool.recognizeImage(image, MAX_PIXELS), pool.recognizeImage(image, MAX_PIXELS)]);
  for (const p of two) expect(p.text).toEqual(page.text);
});

test('an engine with no idle engine beside it lends batches to idle engines elsewhere, which read them between pages', async () => {
  // "Elsewhere" is this file's pool of two, reached as a worker's `ocr.readBatch` reaches its pool.
  let readElsewhere = 0;
  const elsewhere: EnginesElsewhere = {
    recognitionHelper: (recogniser) => ({
      free: () => true,
      read: async (input, dims) => {
        const maxima = await pool.readLentBatch(input, dims, recogniser);
        if (maxima) readElsewhere++;
        return maxima;
      },
    }),
    onChange: () => undefined,
  };
  const solo = await EnginePool.start(defaultOcrConfig(1), 1, undefined, elsewhere);
  try {
    expect(solo.recognisers).toEqual(pool.recognisers);
    const paragraphs = [...ENGLISH_PARAGRAPHS, ...ENGLISH_PARAGRAPHS, ...ENGLISH_PARAGRAPHS];
    const { image } = renderPage({ paragraphs, height: 1500 });
    const alone = await pool.recognizeImage(image, MAX_PIXELS);
    const page = await solo.recognizeImage(image, MAX_PIXELS);
    assert.ok(readElsewhere > 0, 'engines elsewhere read some of its batches');
    expect(page.lines).toEqual(alone.lines);

    // With a page waiting for its engines, the pool takes no batch from elsewhere: its sender reads it.
    const raster = await decodeImage(renderPage({ paragraphs: [['A page that keeps an engine busy.']] }).image, MAX_PIXELS);
    const pages = [0, 1, 2].map(() => pool.recognizeRaster(raster));
    assert.equal(await pool.readLentBatch(new Float32Array(48 * 96), [1, 1, 48, 96], pool.recognisers[0]!), undefined);
    await Promise.all(pages);
  } finally {
    await solo.close();
  }
});
