/**
 * The documents of a batch: every file under a folder (recursively, in a stable order) whose name
 * matches the extensions or glob, or the paths listed in a text file, one per line. Listed lazily:
 * a corpus of thousands of files is never held as file contents, only as names.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, extname, isAbsolute, join, matchesGlob, relative, resolve, sep } from 'node:path';

export const DEFAULT_EXTENSIONS = ['pdf', 'png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff'];

export interface CorpusFilter {
  extensions: string[];
  /** Matched against the path relative to the input folder, e.g. `scans/**\/*.pdf`. */
  glob?: string;
}

export interface CorpusFile {
  /** Absolute path. */
  path: string;
  /** Its name in outputs and the manifest: relative to the input folder or list file, `/`-separated. */
  name: string;
}

function accepted(name: string, filter: CorpusFilter): boolean {
  if (filter.glob) return matchesGlob(name, filter.glob);
  return filter.extensions.includes(extname(name).slice(1).toLowerCase());
}

async function* walk(root: string, dir: string, filter: CorpusFilter, skip: string): AsyncGenerator<CorpusFile> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (path === skip || entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) yield* walk(root, path, filter, skip);
    else if (entry.isFile()) {
      const name = relative(root, path).split(sep).join('/');
      if (accepted(name, filter)) yield { path, name };
    }
  }
}

/** Files of `input` (a folder or a list file); `outDir` is skipped when it lies inside the folder. */
export async function* listCorpus(input: string, filter: CorpusFilter, outDir: string): AsyncGenerator<CorpusFile> {
  const root = resolve(input);
  if ((await stat(root)).isDirectory()) {
    yield* walk(root, root, filter, resolve(outDir));
    return;
  }
  // A list file: paths relative to the list's folder; names keep the path as listed.
  const base = dirname(root);
  for (const line of (await readFile(root, 'utf8')).split(/\r?\n/)) {
    const listed = line.trim();
    if (!listed || listed.startsWith('#')) continue;
    const name = listed.split(sep).join('/').replace(/^\/+/, '');
    yield { path: isAbsolute(listed) ? listed : join(base, listed), name };
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
