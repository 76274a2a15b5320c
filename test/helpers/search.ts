/** For the search tests: `ocr-cluster` run as a user runs it, and a small BERT-shaped encoder with a vocabulary of the test's words. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bertModel } from '../../harness/bert-model.ts';
import { ROOT } from '../../harness/processes.ts';
import { IndexStore, type IndexCounts } from '../../src/search/index-store.ts';
import { FILLER } from './text-corpus.ts';

export interface Run {
  code: number | null;
  /** stdout and stderr as they came. */
  output: string;
  stdout: string;
}

export type CliProcess = ChildProcess & { output: string[]; done: Promise<Run> };

/** `npx ocr-cluster ...` (as its #! line runs it), in one process unless `env` names a TRANSPORTER. */
export function cli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/bin/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, TRANSPORTER: '', LOG_LEVEL: 'warn', EMBED_MODEL: '', EMBED_VOCAB: '', ...env },
  }) as CliProcess;
  child.output = [];
  const stdout: string[] = [];
  child.stdout!.on('data', (d: Buffer) => (child.output.push(d.toString()), stdout.push(d.toString())));
  child.stderr!.on('data', (d: Buffer) => child.output.push(d.toString()));
  child.done = new Promise((r) => child.on('exit', (code) => r({ code, output: child.output.join(''), stdout: stdout.join('') })));
  return child;
}

/** What an index file holds, read as `ocr-cluster search` reads it. */
export function indexCounts(path: string): IndexCounts {
  const store = IndexStore.open(path, { readOnly: true });
  try {
    return store.counts();
  } finally {
    store.close();
  }
}

/**
 * Writes a BERT-shaped encoder and its vocab.txt (BERT's special tokens, the words of `texts`, office
 * filler, punctuation) to `dir`; returns the environment that points a node at them.
 */
export async function writeEncoder(dir: string, texts: readonly string[]): Promise<Record<string, string>> {
  const words =
    texts
      .join(' ')
      .toLowerCase()
      .match(/\p{L}+/gu) ?? [];
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...new Set([...words, ...FILLER]), '.', ','];
  const env = { EMBED_MODEL: join(dir, 'encoder.onnx'), EMBED_VOCAB: join(dir, 'vocab.txt'), EMBED_MAX_TOKENS: '128' };
  await writeFile(env.EMBED_VOCAB, `${vocab.join('\n')}\n`);
  await writeFile(env.EMBED_MODEL, bertModel({ vocabSize: vocab.length, hidden: 16, positions: 128, seed: 9 }));
  return env;
}
