/**
 * `language` against what the workers read: the one-process server with the shipped recogniser (en,
 * zh) and an English-only one added with OCR_MODELS.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startServer, stopProcess } from '../../harness/processes.ts';
import { englishRecognizer } from '../helpers/models.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { renderPage } from '../helpers/render.ts';

let server: ChildProcess & { output: string[] };
let base: string;
let dir: string;
let english: { rec: string; dict: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'languages-'));
  english = await englishRecognizer(dir);
  ({ server, base } = await startServer({
    OCR_MODELS: `en=${english.rec}:${english.dict}`,
    TEMP_DIR: join(dir, 'temp'),
    OCR_CONCURRENCY: '1',
  }));
});
afterAll(async () => {
  await stopProcess(server);
  await rm(dir, { recursive: true, force: true });
});

function form(data: Uint8Array, filename: string, fields: Record<string, string>): FormData {
  const body = new FormData();
  body.append('file', new Blob([Buffer.from(data)]), filename);
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  return body;
}

async function post(path: string, body: FormData): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body });
  return { status: res.status, json: await res.json() };
}

const CHINESE = renderPage({ paragraphs: [['文字识别 2024 年'], ['中文和英文 OCR']], font: 'cjk', width: 800, height: 400, fontSize: 40 });
const HAN = /\p{Script=Han}/u;

test('a language no worker reads is 422 UNSUPPORTED_LANGUAGE listing those read, on every route that takes one', async () => {
  const pdf = await buildPdf([{ png: CHINESE.image }]);
  for (const [path, file, name] of [
    ['/ocr/image', CHINESE.image, 'page.png'],
    ['/ocr/pdf', pdf, 'doc.pdf'],
    ['/jobs', pdf, 'doc.pdf'],
  ] as const) {
    const { status, json } = await post(path, form(file, name, { language: 'klingon' }));
    assert.equal(status, 422, `${path}: ${JSON.stringify(json)}`);
    assert.equal(json.error.code, 'UNSUPPORTED_LANGUAGE');
    assert.match(json.error.message, /klingon.*en, zh/);
  }
  // The refused uploads were not kept.
  expect((await readdir(join(dir, 'temp'))).filter((f) => f.endsWith('.upload'))).toEqual([]);
});

test('the page is read by the recogniser of its language; case and blanks do not matter', async () => {
  const read = async (language: string) => {
    const { status, json } = await post('/ocr/image', form(CHINESE.image, 'page.png', { language }));
    assert.equal(status, 200, JSON.stringify(json));
    return json.combined_text as string;
  };
  // The shipped recogniser reads Chinese; the English one added with OCR_MODELS has no Han characters.
  assert.match(await read('zh'), /文字识别/);
  const english = await read(' EN ');
  assert.doesNotMatch(english, HAN);
  assert.match(english, /2024/);
});

test('GET /workers/status names the recogniser of each language, the weight bits of each model and the CPU features behind them', async () => {
  const status = await (await fetch(`${base}/workers/status`)).json();
  const [worker] = status.workers;
  expect(Object.keys(worker.languages)).toEqual(['en', 'zh']);
  assert.match(worker.languages.en, /^en_PP-OCRv4_rec\.onnx float32/);
  // The CPU is shown with the flags that decide the weights' bits (8 with VNNI, 7 without) and, with
  // AMX, the wide pointwise convolutions that run as onnxruntime's int8 GEMM.
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))![1]!.trim().split(/\s+/);
  expect(worker.cpu.features).toEqual(['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => flags.includes(f)));
  const features = worker.cpu.features as string[];
  const bits = features.some((f) => /vnni|amx/.test(f)) ? 8 : 7;
  const gemm = (n: number) => (features.includes('amx_int8') ? `, ${n} wide 1x1 convolutions as GEMM` : '');
  assert.equal(worker.languages.zh, `ch_PP-OCRv4_rec_infer.onnx int8 (${bits}-bit weights${gemm(8)})`);
  assert.equal(worker.models.rec, worker.languages.zh);
  assert.equal(worker.models.det, `ch_PP-OCRv4_det_infer.onnx int8 (7-bit weights${gemm(4)})`);
});
