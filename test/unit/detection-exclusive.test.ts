/**
 * The engines of a pool take turns at the detector (engine-pool.ts): only its run is exclusive, so an
 * engine scales its page and finds its boxes while another runs the detector.
 */
import assert from 'node:assert/strict';
import { beforeAll, test } from '@jest/globals';
import { DEFAULT_DET, defaultModelPaths } from '../../src/ocr/config.ts';
import { decodeImage } from '../../src/ocr/image/raster.ts';
import { createSession, prepareModel, type Session } from '../../src/ocr/model/onnx.ts';
import { detectText } from '../../src/ocr/stages/det/det.ts';
import { ENGLISH_PARAGRAPHS, renderPage } from '../helpers/render.ts';
import { watchedSession } from '../helpers/session.ts';

let detector: Session;
/** Detector runs so far. */
let runs = 0;

beforeAll(async () => {
  const session = await createSession(await prepareModel(defaultModelPaths().det, { rewrite: {}, int8: false }), 1);
  // The real session, counting its runs.
  detector = watchedSession(session, () => runs++);
});

test('the exclusive part of detection is the detector run alone: the page is scaled before it and boxed after it', async () => {
  const page = await decodeImage(renderPage({ paragraphs: ENGLISH_PARAGRAPHS, width: 1700, height: 2200, fontSize: 29 }).image, 1e8);
  const inside: unknown[] = [];
  const detected = await detectText(detector, page, DEFAULT_DET, async (work) => {
    const before = runs;
    const result = await work();
    inside.push({ runs: runs - before, result });
    return result;
  });
  assert.equal(inside.length, 1, 'one exclusive section per detection');
  const [{ runs: ran, result }] = inside as [{ runs: number; result: { dims: number[] } }];
  assert.equal(ran, 1, 'the detector runs inside it, once');
  // What comes out of it is the detector's probability map (1 x 1 x H x W), not boxes: DB post-processing runs after.
  assert.deepEqual([result.dims[0], result.dims[1]], [1, 1]);
  assert.ok(detected.boxes.length >= ENGLISH_PARAGRAPHS.length, `${detected.boxes.length} boxes`);
  const alone = await detectText(detector, page, DEFAULT_DET);
  assert.deepEqual(alone.boxes, detected.boxes);
});
