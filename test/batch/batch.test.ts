/**
 * `ocr-cluster batch` over a corpus generated here: PDFs and images in nested folders, one corrupt
 * file. Outputs equal what the server's endpoints return; a run killed in the middle and run again
 * does every document exactly once and leaves no half-written file.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { JobResult, ManifestEntry, TextChunk } from '../../src/contracts.ts';
import { ROOT, startServer, stopProcess } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';
import { pdfToText, qpdfCheck, renderPages } from '../helpers/poppler.ts';
import { cer, renderPage } from '../helpers/render.ts';
import { allElements, parseXml } from '../helpers/xml.ts';

const WORDS = [
  'archive',
  'ledger',
  'harbour',
  'invoice',
  'meadow',
  'lantern',
  'granite',
  'orchard',
  'velvet',
  'summit',
  'pebble',
  'quartz',
];
const phrase = (i: number) => `${WORDS[i % WORDS.length]} record ${i + 1} of the ${WORDS[(i * 5 + 3) % WORDS.length]} series`;

let dir: string;
let corpus: string;
let server: ChildProcess & { output: string[] };
let base: string;
const good: string[] = [];
const CORRUPT = 'letters/broken.pdf';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocr-batch-'));
  corpus = join(dir, 'corpus');
  const files: [string, Uint8Array][] = [];
  for (let i = 0; i < 14; i++)
    files.push([
      `${i % 2 ? 'letters' : 'reports/2024'}/doc-${i}.pdf`,
      await buildPdf([{ lines: [phrase(i), phrase(i + 20)], size: [420, 180] }]),
    ]);
  for (let i = 14; i < 16; i++)
    files.push([
      `reports/long-${i}.pdf`,
      await buildPdf([
        { lines: [phrase(i)], size: [420, 180] },
        { lines: [phrase(i + 40)], size: [420, 180] },
      ]),
    ]);
  for (let i = 16; i < 28; i++) {
    const format = i % 3 === 0 ? 'jpeg' : 'png';
    files.push([
      `scans/page-${i}.${format === 'jpeg' ? 'jpg' : 'png'}`,
      renderPage({ paragraphs: [[phrase(i)]], width: 900, height: 200, format }).image,
    ]);
  }
  for (const [name, data] of files) {
    await mkdir(dirname(join(corpus, name)), { recursive: true });
    await writeFile(join(corpus, name), data);
    good.push(name);
  }
  const whole = await buildPdf([{ lines: [phrase(99)] }]);
  await writeFile(join(corpus, CORRUPT), whole.subarray(0, 400));
  await writeFile(join(corpus, 'scans/readme.txt'), 'not a document');
  good.sort();

  ({ server, base } = await startServer());
});

afterAll(async () => {
  await stopProcess(server);
  await rm(dir, { recursive: true, force: true });
});

type BatchRun = ChildProcess & { output: string[]; done: Promise<number | null> };

function batch(out: string, ...args: string[]): BatchRun {
  return batchOf(corpus, out, ...args);
}

function batchOf(input: string, out: string, ...args: string[]): BatchRun {
  const child = spawn(process.execPath, ['src/bin/cli.ts', 'batch', input, '--out', out, ...args], {
    cwd: ROOT,
    env: { ...process.env, TRANSPORTER: '', LOG_LEVEL: 'warn' },
  }) as ChildProcess & { output: string[]; done: Promise<number | null> };
  child.output = [];
  child.stdout!.on('data', (d: Buffer) => child.output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => child.output.push(d.toString()));
  child.done = new Promise((r) => child.on('exit', (code) => r(code)));
  return child;
}

async function manifest(out: string): Promise<ManifestEntry[]> {
  const text = await readFile(join(out, 'manifest.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ManifestEntry);
}

async function filesUnder(path: string): Promise<string[]> {
  return (await readdir(path, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(path.length + 1))
    .sort();
}

test("every document is read; outputs equal the endpoints' replies; the corrupt one is listed as failed", async () => {
  const out = join(dir, 'out-full');
  const run = batch(out, '--chunks', '--chunk-size', '120', '--chunk-overlap', '30');
  assert.equal(await run.done, 1, `one document failed, so the exit status is 1:\n${run.output.join('')}`);
  const summary = run.output
    .join('')
    .split('\n')
    .find((l) => l.startsWith('documents:'));
  console.log(summary);
  assert.match(summary!, /^documents: 28 done, 0 skipped \(done before\), 1 failed of 29; pages: 30 done, 0 failed/);

  const entries = await manifest(out);
  expect(entries.map((e) => e.path).sort()).toEqual([...good, CORRUPT].sort());
  const broken = entries.find((e) => e.path === CORRUPT)!;
  assert.equal(broken.status, 'failed');
  assert.equal(broken.error?.code, 'PDF_UNREADABLE');
  for (const e of entries.filter((e) => e.path !== CORRUPT)) {
    assert.equal(e.status, 'success', e.path);
    assert.match(e.sha256, /^[0-9a-f]{64}$/);
  }

  for (const name of good) {
    const saved = JSON.parse(await readFile(join(out, `${name}.json`), 'utf8')) as JobResult;
    const body = new FormData();
    body.append('file', new Blob([await readFile(join(corpus, name))]), name.split('/').pop());
    const reply = (await (
      await fetch(`${base}${name.endsWith('.pdf') ? '/ocr/pdf' : '/ocr/image'}`, { method: 'POST', body })
    ).json()) as JobResult;
    assert.equal(saved.combined_text, reply.combined_text, name);
    expect({ name, lines: saved.results.map((p) => p.lines.map((l) => l.text)) }).toEqual({
      name,
      lines: reply.results.map((p) => p.lines.map((l) => l.text)),
    });
    assert.equal(saved.metrics.total_pages, reply.metrics.total_pages);
    assert.equal(await readFile(join(out, `${name}.txt`), 'utf8'), saved.combined_text);
    assert.equal(await readFile(join(out, `${name}.md`), 'utf8'), saved.combined_markdown);
  }
  const first = good.find((n) => n.startsWith('reports/long'))!;
  assert.match(await readFile(join(out, `${first}.txt`), 'utf8'), /record 15 of/, "the text is the document's");

  const chunks = (await readFile(join(out, 'chunks.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TextChunk);
  expect([...new Set(chunks.map((c) => c.document))].sort()).toEqual(good);
  for (const c of chunks) {
    assert.ok(c.text.length <= 120 && c.text.length > 0, c.text);
    assert.ok(c.pages.length >= 1 && c.boxes.length >= 1);
  }
  const long = chunks.filter((c) => c.document === first);
  expect([...new Set(long.flatMap((c) => c.pages))]).toEqual([1, 2]); // chunks point at the pages their text is on
});

test('a run killed in the middle and run again does each document once and leaves no half file', async () => {
  const out = join(dir, 'out-killed');
  const first = batch(out, '--concurrency', '2');
  while ((await manifest(out)).length < 8) await new Promise((r) => setTimeout(r, 100));
  first.kill('SIGKILL');
  await first.done;
  const doneBefore = (await manifest(out)).filter((e) => e.status === 'success').map((e) => e.path);

  const second = batch(out, '--concurrency', '2');
  assert.equal(await second.done, 1, second.output.join(''));
  const summary = second.output
    .join('')
    .split('\n')
    .find((l) => l.startsWith('documents:'))!;
  console.log(`killed after ${doneBefore.length} documents; the rerun: ${summary}`);
  assert.match(summary, new RegExp(`^documents: ${28 - doneBefore.length} done, ${doneBefore.length} skipped`));

  const entries = await manifest(out);
  for (const name of good)
    assert.equal(entries.filter((e) => e.path === name && e.status === 'success').length, 1, `${name} was done exactly once`);
  const files = await filesUnder(out);
  expect(files.filter((f) => f.includes('.partial-'))).toEqual([]); // no temporary file is left
  expect(files.filter((f) => f.endsWith('.json'))).toEqual(good.map((n) => `${n}.json`));
  for (const f of files.filter((f) => f.endsWith('.json'))) JSON.parse(await readFile(join(out, f), 'utf8'));

  // A changed file is read again; the others are not.
  const changed = good.find((n) => n.endsWith('.png'))!;
  await writeFile(join(corpus, changed), renderPage({ paragraphs: [['a changed page about granite']], width: 900, height: 200 }).image);
  const third = batch(out);
  assert.equal(await third.done, 1);
  const redone = (await manifest(out)).slice(entries.length);
  expect(redone.filter((e) => e.status === 'success').map((e) => e.path)).toEqual([changed]);
  assert.match(await readFile(join(out, `${changed}.txt`), 'utf8'), /changed page about granite/);
  assert.equal(redone.filter((e) => e.path === CORRUPT).length, 1, 'the failed document is tried again');
});

test('--formats writes the searchable PDF, hOCR and ALTO beside the JSON; a rerun asking for more formats writes only those, without reading again', async () => {
  const input = join(dir, 'formats');
  await mkdir(input, { recursive: true });
  const scan = renderPage({
    paragraphs: [['The harbour ledger lists every invoice', 'paid before the granite summit meeting']],
    width: 1000,
    height: 320,
  }).image;
  const pdf = await buildPdf([{ png: scan }]);
  await writeFile(join(input, 'scan.pdf'), pdf);
  await writeFile(
    join(input, 'photo.png'),
    renderPage({ paragraphs: [['An orchard record of the velvet series']], width: 900, height: 200 }).image,
  );
  const out = join(dir, 'out-formats');

  const first = batchOf(input, out);
  assert.equal(await first.done, 0, first.output.join(''));
  expect(await filesUnder(out)).toEqual([
    'manifest.jsonl',
    'photo.png.json',
    'photo.png.md',
    'photo.png.txt',
    'scan.pdf.json',
    'scan.pdf.md',
    'scan.pdf.txt',
  ]); // json,txt,md by default

  const all = ['--formats', 'json,txt,md,pdf,hocr,alto'];
  const second = batchOf(input, out, ...all);
  assert.equal(await second.done, 0, second.output.join(''));
  assert.match(second.output.join(''), /documents: 0 done, 2 skipped \(done before\)/, 'the new formats come from the JSON written before');
  const files = await filesUnder(out);
  for (const name of ['scan.pdf', 'photo.png'])
    for (const ext of ['json', 'txt', 'md', 'pdf', 'hocr', 'xml']) assert.ok(files.includes(`${name}.${ext}`), `${name}.${ext}`);

  const result = JSON.parse(await readFile(join(out, 'scan.pdf.json'), 'utf8')) as JobResult;
  const searchable = await readFile(join(out, 'scan.pdf.pdf'));
  const [text] = await pdfToText(searchable, { raw: true });
  assert.ok(cer(text!, result.results[0]!.text) < 0.005, text);
  assert.equal((await qpdfCheck(searchable)).code, 0);
  const [before, after] = await Promise.all([renderPages(pdf, 50), renderPages(searchable, 50)]);
  assert.ok(after[0]!.equals(before[0]!), 'the page renders as the input does');
  assert.match(
    (await pdfToText(await readFile(join(out, 'photo.png.pdf'))))[0]!,
    /orchard record of the velvet series/,
    'an image becomes a one-page PDF',
  );
  const words = result.results[0]!.lines.flatMap((l) => l.words.map((w) => w.text));
  const hocr = allElements(parseXml(await readFile(join(out, 'scan.pdf.hocr'), 'utf8'))).filter((e) => e.attributes.class === 'ocrx_word');
  const alto = allElements(parseXml(await readFile(join(out, 'scan.pdf.xml'), 'utf8'))).filter((e) => e.name === 'String');
  expect(hocr.map((e) => e.text)).toEqual(words);
  expect(alto.map((e) => e.attributes.CONTENT)).toEqual(words);

  const third = batchOf(input, out, ...all);
  assert.equal(await third.done, 0);
  assert.match(third.output.join(''), /documents: 0 done, 2 skipped/);
  assert.ok((await readFile(join(out, 'scan.pdf.pdf'))).equals(searchable), 'nothing is written again');

  const bad = batchOf(input, out, '--formats', 'json,docx');
  assert.equal(await bad.done, 2);
  assert.match(bad.output.join(''), /--formats must be one of json, txt, md, hocr, alto, pdf/);
});
