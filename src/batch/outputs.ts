/**
 * A batch's output folder: per document a file per format asked for (`<name>.json`, the `/ocr/pdf`
 * contract, `<name>.txt`, `<name>.md`, `<name>.pdf`, `<name>.hocr`, `<name>.xml`) and, with chunks,
 * `<name>.chunks.jsonl`; `manifest.jsonl` with a line per document per run. Every file is written to
 * a temporary name and renamed, so a crash never leaves a file that looks finished; temporaries a
 * killed run left behind are removed by the next.
 */
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ManifestEntry, OutputFormat } from '../contracts.ts';
import { OUTPUT_FORMATS } from '../outputs/index.ts';

const TEMP_MARK = '.partial-';
export const MANIFEST = 'manifest.jsonl';
export const CHUNKS = 'chunks.jsonl';

export const CHUNKS_SUFFIX = '.chunks.jsonl';
const OUTPUT_SUFFIXES = [...Object.values(OUTPUT_FORMATS).map((f) => `.${f.extension}`), CHUNKS_SUFFIX];

/** Where a document's output in `format` goes. */
export function outputPath(outDir: string, name: string, format: OutputFormat): string {
  return join(outDir, `${name}.${OUTPUT_FORMATS[format].extension}`);
}

export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}${TEMP_MARK}${process.pid}`;
  await writeFile(temp, data);
  await rename(temp, path);
}

/** Deletes temporaries of killed runs under `dir`. */
export async function removeTemporaries(dir: string): Promise<number> {
  let removed = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (entry.isFile() && entry.name.includes(TEMP_MARK)) {
      await rm(join(entry.parentPath, entry.name), { force: true });
      removed += 1;
    }
  }
  return removed;
}

/**
 * Every document's latest manifest line. A line cut short by a crash is ignored, and ended so the
 * next run's first line does not join it.
 */
export async function loadManifest(outDir: string): Promise<Map<string, ManifestEntry>> {
  const latest = new Map<string, ManifestEntry>();
  const text = await readFile(join(outDir, MANIFEST), 'utf8').catch(() => '');
  if (text && !text.endsWith('\n')) await appendFile(join(outDir, MANIFEST), '\n');
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as ManifestEntry;
      if (typeof entry.path === 'string') latest.set(entry.path, entry);
    } catch {
      // empty or torn line
    }
  }
  return latest;
}

export async function appendManifest(outDir: string, entry: ManifestEntry): Promise<void> {
  // One write of one line: a crash can tear at most this line, which readManifest skips.
  await appendFile(join(outDir, MANIFEST), `${JSON.stringify(entry)}\n`);
}

export async function removeOutputs(outDir: string, name: string): Promise<void> {
  await Promise.all(OUTPUT_SUFFIXES.map((suffix) => rm(join(outDir, name + suffix), { force: true })));
}
