/**
 * Reads the page images of an evaluation corpus (../shared/eval/make-corpus.sh) with the engine
 * and scores them with the corpus's score.py.
 * Usage: npm run eval -- CORPUS_DIR [--filter REGEX] [--out DIR]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadOcrConfig } from '../src/config/ocr.ts';
import { OcrEngine } from '../src/ocr/engine.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { filter: { type: 'string' }, out: { type: 'string' }, scorer: { type: 'string' } },
});
const corpus = resolve(positionals[0] ?? '../shared/eval-corpus');
const out = resolve(values.out ?? 'bench/out/eval');
const scorer = resolve(values.scorer ?? join(import.meta.dirname, '../../shared/eval/score.py'));
const filter = new RegExp(values.filter ?? '.');

const rows = readFileSync(join(corpus, 'manifest.tsv'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split('\t'));
const header = rows.shift()!;
const col = (name: string) => header.indexOf(name);
const pages = rows.filter((r) => filter.test(r[col('id')]!));

const engine = await OcrEngine.load(loadOcrConfig(process.env));
let totalMs = 0;
const stage = { det_ms: 0, cls_ms: 0, rec_ms: 0, layout_ms: 0, decode_ms: 0 };
for (const r of pages) {
  const id = r[col('id')]!;
  const result = await engine.recognizeImage(readFileSync(join(corpus, r[col('image')]!)), 400_000_000);
  totalMs += result.timings.total_ms;
  for (const k of Object.keys(stage) as (keyof typeof stage)[]) stage[k] += result.timings[k];
  const file = join(out, `${id}.txt`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, result.text + '\n');
  const ms = (k: keyof typeof result.timings) => Math.round(result.timings[k]);
  process.stderr.write(
    `${id}: ${ms('total_ms')} ms (det ${ms('det_ms')}, cls ${ms('cls_ms')}, rec ${ms('rec_ms')}, layout ${result.timings.layout_ms.toFixed(1)}) rot ${result.rotation}\n`,
  );
}
const n = pages.length;
console.log(
  `${n} pages, ${(totalMs / n / 1000).toFixed(2)} s/page (decode ${(stage.decode_ms / n).toFixed(0)} ms, det ${(stage.det_ms / n).toFixed(0)} ms, cls ${(stage.cls_ms / n).toFixed(0)} ms, rec ${(stage.rec_ms / n).toFixed(0)} ms, layout ${(stage.layout_ms / n).toFixed(1)} ms = ${((100 * stage.layout_ms) / totalMs).toFixed(2)} %), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
console.log(execFileSync('python3', [scorer, join(corpus, 'manifest.tsv'), out, '--filter', values.filter ?? '.'], { encoding: 'utf8' }));
