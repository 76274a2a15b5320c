/** `npm run bench`'s header: runs on different machines are told apart by their CPU's features and the models' precision. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from '@jest/globals';
import { ROOT } from '../../harness/processes.ts';

const out = mkdtempSync(join(tmpdir(), 'bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test('the bench names the CPU features and each model with its weight bits, in its header and its JSON', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['bench/bench.ts', '--pages', '1', '--skip', 'embedded,cluster,tesseract', '--out', out],
    { cwd: ROOT, maxBuffer: 1 << 20 },
  );
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))![1]!.trim().split(/\s+/);
  const has = (flag: string) => flags.includes(flag);
  const cpuLine = /^CPU: (.*)$/m.exec(stdout)?.[1];
  assert.ok(cpuLine, stdout);
  for (const flag of ['avx2', 'avx512f', 'avx512_vnni'])
    assert.equal(cpuLine.split(' ').includes(flag), has(flag), `${flag} in "${cpuLine}"`);
  const vnni = has('avx512_vnni') || has('avx_vnni') || has('amx_int8');
  const models = /^models: (.*)$/m.exec(stdout)?.[1];
  assert.ok(models, stdout);
  // The detector keeps 7-bit weights everywhere; the recogniser takes 8 where VNNI multiplies without
  // saturating. With AMX, wide pointwise convolutions run as GEMM and batches are narrower.
  const gemm = (n: number) => (has('amx_int8') ? `, ${n} wide 1x1 convolutions as GEMM` : '');
  assert.ok(models.includes(`det ch_PP-OCRv4_det_infer.onnx int8 (7-bit weights${gemm(4)})`), models);
  assert.ok(models.includes(`rec ch_PP-OCRv4_rec_infer.onnx int8 (${vnni ? 8 : 7}-bit weights${gemm(8)})`), models);
  assert.ok(models.endsWith(`recogniser batches of at most ${has('amx_int8') ? 1200 : 2400} columns`), models);
  assert.match(models, /cls ch_ppocr_mobile_v2\.0_cls_infer\.onnx float32/);
  assert.match(stdout, /\| model floor +\| 1 /);
  const [file] = readdirSync(out).filter((f) => f.endsWith('.json'));
  const json = JSON.parse(readFileSync(join(out, file!), 'utf8'));
  expect(json.cpu.features).toEqual(cpuLine.split(': ')[1]!.split(' '));
  assert.match(json.models.rec, /int8/);
});

test('with one engine the floor is the time its models took, within the time it took to read the pages', async () => {
  const one = mkdtempSync(join(out, 'one-'));
  await promisify(execFile)(process.execPath, ['bench/bench.ts', '--pages', '3', '--skip', 'embedded,cluster,tesseract', '--out', one], {
    cwd: ROOT,
    env: { ...process.env, OCR_CONCURRENCY: '1' },
    maxBuffer: 1 << 20,
  });
  const { rows } = JSON.parse(readFileSync(join(one, readdirSync(one)[0]!), 'utf8')) as {
    rows: { mode: string; wall_s: number; note: string }[];
  };
  const [floor, engine] = rows;
  expect([floor!.mode, engine!.mode]).toEqual(['model floor', 'engine in process']);
  assert.match(floor!.note, /^1 engine x /);
  // Pages run at once on one engine overlapped their model runs, and the floor counted the overlap:
  // three pages read in 3.5 s made a floor of 9.5 s.
  assert.ok(floor!.wall_s > 0 && floor!.wall_s <= engine!.wall_s, `floor ${floor!.wall_s} s, reading ${engine!.wall_s} s`);
});
