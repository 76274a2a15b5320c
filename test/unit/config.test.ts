/** loadConfig: a bad value stops the node with a message naming the variable; unset or empty takes the default. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import { loadConfig } from '../../src/config/config.ts';
import { defaultBatchColumns } from '../../src/ocr/config.ts';
import { cpuInfo } from '../../src/ocr/model/cpu.ts';

test('unset or empty variables take their defaults, NAMESPACE included', () => {
  for (const env of [{}, { NAMESPACE: '', DEFAULT_DPI: '', MAX_QUEUED_PAGES: '', OCR_CONCURRENCY: '' }]) {
    const config = loadConfig(env);
    assert.equal(config.broker.namespace, 'ocr-cluster');
    expect(config.limits.dpi).toEqual({ default: 200, min: 72, max: 600 });
    assert.equal(config.admission.maxQueuedPages, 500);
    assert.ok(config.worker.slots >= 1);
  }
});

test('counts are rounded down from 1 up, and refused below 1 rather than becoming 0', () => {
  const config = loadConfig({ MAX_QUEUED_PAGES: '2.7', OCR_CONCURRENCY: '1', OCR_QUEUE_SIZE: '1' });
  expect([config.admission.maxQueuedPages, config.worker.slots, config.worker.queueSize]).toEqual([2, 1, 1]);
  for (const name of [
    'MAX_QUEUED_PAGES',
    'MAX_QUEUED_JOBS',
    'OCR_CONCURRENCY',
    'OCR_QUEUE_SIZE',
    'MAX_PAGES',
    'OCR_CPU_THREADS',
    'COORDINATOR_PORT',
  ]) {
    for (const value of ['0', '0.5', '-1', 'two']) {
      assert.throws(() => loadConfig({ [name]: value }), { message: `${name} must be a count (1 or more), got "${value}"` });
    }
  }
});

test("the recogniser's batch size: set by OCR_REC_BATCH_COLUMNS, else chosen by the CPU's features", () => {
  assert.equal(loadConfig({ OCR_REC_BATCH_COLUMNS: '3000' }).ocr.rec.batchColumns, 3000);
  assert.equal(loadConfig({}).ocr.rec.batchColumns, defaultBatchColumns(cpuInfo().features));
  assert.equal(defaultBatchColumns(['avx2', 'avx512f', 'avx512_vnni', 'amx_int8']), 1200);
  assert.equal(defaultBatchColumns(['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni']), 2400);
  assert.equal(defaultBatchColumns(['avx2']), 2400);
  assert.throws(() => loadConfig({ OCR_REC_BATCH_COLUMNS: '0' }), /OCR_REC_BATCH_COLUMNS must be a count/);
});

test('DEFAULT_DPI outside what a request may ask stops the node instead of failing every PDF later', () => {
  assert.equal(loadConfig({ DEFAULT_DPI: '72' }).limits.dpi.default, 72);
  assert.equal(loadConfig({ DEFAULT_DPI: '600' }).limits.dpi.default, 600);
  for (const value of ['50', '601', '1000']) {
    assert.throws(() => loadConfig({ DEFAULT_DPI: value }), { message: `DEFAULT_DPI must be a count from 72 to 600, got "${value}"` });
  }
  assert.throws(() => loadConfig({ DEFAULT_DPI: '0.5' }), /DEFAULT_DPI must be a count \(1 or more\)/);
});

test('OCR_MODELS adds recognisers per language, OCR_REC_LANGUAGES names what the default one reads', () => {
  const shipped = loadConfig({}).ocr;
  expect([shipped.languages, shipped.languageModels]).toEqual([['en', 'zh'], []]);
  const config = loadConfig({ OCR_REC_LANGUAGES: 'ZH', OCR_MODELS: 'en=/m/en.onnx:/m/en_dict.txt, fr+DE=/m/latin.onnx:/m/latin.txt' }).ocr;
  assert.deepEqual(config.languages, ['zh']);
  expect(config.languageModels).toEqual([
    { languages: ['en'], rec: '/m/en.onnx', dict: '/m/en_dict.txt' },
    { languages: ['fr', 'de'], rec: '/m/latin.onnx', dict: '/m/latin.txt' },
  ]);
  assert.throws(
    () => loadConfig({ OCR_MODELS: 'en=/m/en.onnx' }),
    /OCR_MODELS entries must be <languages>=<model.onnx>:<dictionary.txt>, got "en=\/m\/en.onnx"/,
  );
  assert.throws(() => loadConfig({ OCR_MODELS: 'e n=/m/en.onnx:/m/d.txt' }), /OCR_MODELS must name languages as codes/);
  assert.throws(() => loadConfig({ OCR_REC_LANGUAGES: '+' }), /OCR_REC_LANGUAGES must name languages as codes/);
});

test('EMBED_MODEL and EMBED_VOCAB: both or neither, files that can be read, with the batching and length settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-embed-'));
  const model = join(dir, 'model.onnx'),
    vocab = join(dir, 'vocab.txt');
  writeFileSync(model, 'onnx');
  writeFileSync(vocab, '[PAD]\n');
  try {
    assert.equal(loadConfig({}).embed, undefined);
    expect(loadConfig({ EMBED_MODEL: model, EMBED_VOCAB: vocab, EMBED_BATCH_SIZE: '8' }).embed).toEqual({
      model,
      vocab,
      maxTokens: 256,
      batchSize: 8,
      threads: 1,
    });
    assert.throws(() => loadConfig({ EMBED_MODEL: model }), {
      message: 'EMBED_MODEL and EMBED_VOCAB go together: the model and its vocab.txt',
    });
    assert.throws(() => loadConfig({ EMBED_MODEL: join(dir, 'absent.onnx'), EMBED_VOCAB: vocab }), {
      message: `EMBED_MODEL: cannot read ${join(dir, 'absent.onnx')} (ENOENT)`,
    });
    assert.throws(
      () => loadConfig({ EMBED_MODEL: model, EMBED_VOCAB: vocab, EMBED_MAX_TOKENS: '1' }),
      /EMBED_MAX_TOKENS must be a count from 2 to 8192/,
    );
    assert.equal(loadConfig({ SEARCH_INDEX: join(dir, 'index.sqlite') }).search.index, join(dir, 'index.sqlite'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
