/** A page's orientation settled by its widest lines, with the real PP-OCR classifier on lines drawn in the test. */
import assert from 'node:assert/strict';
import { beforeAll, expect, test } from '@jest/globals';
import { DEFAULT_CLS, defaultModelPaths } from '../../src/ocr/config.ts';
import { createSession, prepareModel, type Session } from '../../src/ocr/model/onnx.ts';
import { lineWindows, pageOrientation } from '../../src/ocr/stages/cls/cls.ts';
import { wholeLine } from '../../src/ocr/image/line-tensor.ts';
import { renderLine } from '../helpers/render.ts';
import { watchedSession } from '../helpers/session.ts';

const TEXTS = [
  'The committee met on Tuesday to review the budget for the coming year.',
  'Members asked for a breakdown of the spending on roads and bridges.',
  'A short reply',
  'The treasurer said the figures would be ready by the end of the month.',
  'Page 4',
  'Several residents spoke about the state of the harbour wall after the storm.',
  'It was agreed to write to the county council about the repairs.',
  'Next meeting',
  'The minutes of the previous meeting were read and approved without change.',
  'Any other business: the library will open on Saturday mornings from March.',
  'Signed',
  'The chair thanked everyone for coming and closed the meeting at nine.',
  'Apologies were received from two members who were away on holiday.',
  'The clerk read a letter from the school about the new crossing.',
  'Item 7',
  'A vote was taken and the motion was carried by six votes to two.',
];

let classifier: Session;
/** Classifier windows run since the last reset. */
let windows = 0;

beforeAll(async () => {
  const session = await createSession(await prepareModel(defaultModelPaths().cls, { rewrite: {}, int8: false }), 1);
  // The real session, counting the windows of each batch it is given.
  classifier = watchedSession(session, (feeds) => (windows += Object.values(feeds)[0]!.dims[0]!));
});

const lines = (turned: (i: number) => boolean) => TEXTS.map((t, i) => renderLine(t, turned(i)));
const allWindows = (ls: ReturnType<typeof lines>) =>
  ls.reduce((n, l) => n + lineWindows(wholeLine(l), DEFAULT_CLS.windowsPerLine).length, 0);

test('an upright page is settled by its widest lines: the others are not classified', async () => {
  const page = lines(() => false);
  windows = 0;
  const orientation = await pageOrientation(classifier, page, DEFAULT_CLS);
  assert.equal(orientation.upsideDown, false);
  assert.equal(orientation.lines, undefined);
  assert.ok(windows <= DEFAULT_CLS.sampleWindows && windows < allWindows(page), `${windows} windows of ${allWindows(page)}`);
});

test('a page turned 180 degrees is found upside down by the same few lines', async () => {
  const page = lines(() => true);
  windows = 0;
  const orientation = await pageOrientation(classifier, page, DEFAULT_CLS);
  assert.equal(orientation.upsideDown, true);
  assert.equal(orientation.lines, undefined);
  assert.ok(windows <= DEFAULT_CLS.sampleWindows);
});

test('one wide line upside down on an upright page makes it mixed: every line is classified, that one turned', async () => {
  const page = lines((i) => i === 5);
  windows = 0;
  const orientation = await pageOrientation(classifier, page, DEFAULT_CLS);
  assert.equal(orientation.upsideDown, false);
  assert.equal(windows, allWindows(page));
  expect(orientation.lines?.flatMap((o, i) => (o.turned && o.score >= DEFAULT_CLS.flipThreshold ? [i] : []))).toEqual([5]);
});
