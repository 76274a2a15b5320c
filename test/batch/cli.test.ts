/** What a batch user meets first: --help, an unreadable PDF, and Ctrl-C twice. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ROOT } from '../../harness/processes.ts';
import { buildPdf } from '../helpers/pdf.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'batch-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Cli = ChildProcess & { output: string[]; stdout_: string[]; done: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };

function cli(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, ['src/bin/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, TRANSPORTER: '', LOG_LEVEL: 'warn', ...env },
  }) as Cli;
  child.output = [];
  child.stdout_ = [];
  child.stdout!.on('data', (d: Buffer) => (child.output.push(d.toString()), child.stdout_.push(d.toString())));
  child.stderr!.on('data', (d: Buffer) => child.output.push(d.toString()));
  child.done = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return child;
}

test('--help prints the usage and nothing else', async () => {
  for (const flag of ['--help', '-h']) {
    const run = cli([flag]);
    assert.equal((await run.done).code, 0);
    const output = run.output.join('');
    assert.doesNotMatch(output, /unknown command/);
    assert.match(run.stdout_.join(''), /^usage: ocr-cluster batch/);
  }
});

test('an unreadable PDF fails alone and leaves no copy in TEMP_DIR', async () => {
  const input = join(dir, 'broken-in');
  const temp = join(dir, 'broken-temp');
  await mkdir(input, { recursive: true });
  await writeFile(join(input, 'broken.pdf'), '%PDF-1.7\nthis is not a PDF body\n%%EOF\n');
  const run = cli(['batch', input, '--out', join(dir, 'broken-out')], { TEMP_DIR: temp });
  assert.equal((await run.done).code, 1, run.output.join(''));
  assert.match(run.output.join(''), /PDF_UNREADABLE/);
  expect((await readdir(temp, { recursive: true })).filter((f) => f.endsWith('.upload'))).toEqual([]);
});

test('a second Ctrl-C leaves at once without a native abort', async () => {
  const input = join(dir, 'many-in');
  await mkdir(input, { recursive: true });
  const pages = Array.from({ length: 12 }, (_, i) => ({ lines: [`Document page ${i + 1}`, 'with a second line of text to read'] }));
  const pdf = await buildPdf(pages);
  for (let i = 0; i < 4; i++) await writeFile(join(input, `doc${i}.pdf`), pdf);
  const run = cli(['batch', input, '--out', join(dir, 'many-out')]);
  // Once the engines read pages (the first document's progress line), Ctrl-C twice.
  while (!/documents/.test(run.output.join(''))) {
    if (run.exitCode !== null) throw new Error(run.output.join(''));
    await new Promise((r) => setTimeout(r, 100));
  }
  run.kill('SIGINT');
  while (!/stopping after the documents in flight/.test(run.output.join(''))) await new Promise((r) => setTimeout(r, 50));
  run.kill('SIGINT');
  const { signal } = await run.done;
  assert.equal(signal, 'SIGINT', run.output.join(''));
  assert.doesNotMatch(run.output.join(''), /terminate called|Napi::Error|Aborted/);
});

test('the rerun after a killed run reads the documents again without a warning a batch user cannot act on', async () => {
  const input = join(dir, 'killed-in');
  const out = join(dir, 'killed-out');
  const env = { TEMP_DIR: join(dir, 'killed-temp') };
  await mkdir(input, { recursive: true });
  const pdf = await buildPdf(Array.from({ length: 12 }, (_, i) => ({ lines: [`Killed run page ${i + 1}`] })));
  for (let i = 0; i < 2; i++) await writeFile(join(input, `doc${i}.pdf`), pdf);
  const first = cli(['batch', input, '--out', out], env);
  // Killed while a document's job is journaled as running.
  const journaled = async () => {
    const starts = await readdir(join(env.TEMP_DIR, 'jobs')).catch(() => []);
    for (const start of starts) if ((await readdir(join(env.TEMP_DIR, 'jobs', start))).length > 0) return true;
    return false;
  };
  while (!(await journaled())) {
    if (first.exitCode !== null) throw new Error(first.output.join(''));
    await new Promise((r) => setTimeout(r, 50));
  }
  first.kill('SIGKILL');
  await first.done;
  const rerun = cli(['batch', input, '--out', out], env);
  assert.equal((await rerun.done).code, 0, rerun.output.join(''));
  assert.doesNotMatch(rerun.output.join(''), /WARN|JOB_INTERRUPTED/);
  assert.match(rerun.output.join(''), /2 done/);
  // The copies the killed run made (one may not have been journaled yet) are gone.
  const left = (await readdir(env.TEMP_DIR, { recursive: true })).filter((f) => f.endsWith('.upload'));
  expect(left).toEqual([]);
});
