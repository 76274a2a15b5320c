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
  const [file] = readdirSync(out);
  const json = JSON.parse(readFileSync(join(out, file!), 'utf8'));
  expect(json.cpu.features).toEqual(cpuLine.split(': ')[1]!.split(' '));
  assert.match(json.models.rec, /int8/);
});
