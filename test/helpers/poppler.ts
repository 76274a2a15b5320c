/** poppler-utils and qpdf, run on PDFs written to a temporary folder. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { allElements, parseXml } from './xml.ts';

const run = promisify(execFile);

/** Runs `work` with the PDF saved as a file in a fresh folder, removed afterwards. */
async function withFile<T>(pdf: Uint8Array, work: (path: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ocr-pdf-'));
  try {
    const path = join(dir, 'doc.pdf');
    await writeFile(path, pdf);
    return await work(path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const passwordArgs = (password?: string) => (password === undefined ? [] : ['-upw', password]);

/** pdftotext's text of each page (split at form feeds); `raw`: in content-stream order, not pdftotext's own reading order. */
export function pdfToText(pdf: Uint8Array, options: { password?: string; raw?: boolean } = {}): Promise<string[]> {
  return withFile(pdf, async (path) => {
    const { stdout } = await run(
      'pdftotext',
      [...passwordArgs(options.password), ...(options.raw ? ['-raw'] : []), '-enc', 'UTF-8', path, '-'],
      { maxBuffer: 1 << 28 },
    );
    return stdout.split('\f').slice(0, -1);
  });
}

export interface PdfWord {
  text: string;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** pdftotext -bbox -cropbox: each page's (unrotated) size in points and its words with their boxes, in points from the top-left of the page as shown. */
export function pdfWordBoxes(pdf: Uint8Array): Promise<{ width: number; height: number; words: PdfWord[] }[]> {
  return withFile(pdf, async (path) => {
    const { stdout } = await run('pdftotext', ['-bbox', '-cropbox', '-enc', 'UTF-8', path, '-'], { maxBuffer: 1 << 28 });
    const pages = allElements(parseXml(stdout)).filter((e) => e.name === 'page');
    return pages.map((page) => ({
      width: Number(page.attributes.width),
      height: Number(page.attributes.height),
      words: page.children
        .filter((w) => w.name === 'word')
        .map((w) => ({
          text: w.text,
          x0: Number(w.attributes.xMin),
          y0: Number(w.attributes.yMin),
          x1: Number(w.attributes.xMax),
          y1: Number(w.attributes.yMax),
        })),
    }));
  });
}

/** pdftoppm's rendering of every page at `dpi`, grey (PGM files' bytes) or in colour (PPM). */
export function renderPages(pdf: Uint8Array, dpi: number, options: { password?: string; colour?: boolean } = {}): Promise<Buffer[]> {
  return withFile(pdf, async (path, dir) => {
    await run('pdftoppm', [
      ...passwordArgs(options.password),
      '-r',
      String(dpi),
      ...(options.colour ? [] : ['-gray']),
      path,
      join(dir, 'page'),
    ]);
    const files = (await readdir(dir)).filter((f) => f.endsWith(options.colour ? '.ppm' : '.pgm')).sort();
    return Promise.all(files.map((f) => readFile(join(dir, f))));
  });
}

/** pdfimages -png: every image of the PDF, decoded, as PNG files' bytes in order. */
export function extractImages(pdf: Uint8Array): Promise<Buffer[]> {
  return withFile(pdf, async (path, dir) => {
    await run('pdfimages', ['-png', path, join(dir, 'image')]);
    const files = (await readdir(dir)).filter((f) => f.startsWith('image') && f.endsWith('.png')).sort();
    return Promise.all(files.map((f) => readFile(join(dir, f))));
  });
}

/** qpdf --check: its exit code (0 clean, 2 errors, 3 warnings) and what it printed. */
export function qpdfCheck(pdf: Uint8Array): Promise<{ code: number; output: string }> {
  return withFile(pdf, async (path) => {
    try {
      const { stdout, stderr } = await run('qpdf', ['--check', path]);
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  });
}

/** pdfinfo's fields (with -meta: the XMP metadata after them). */
export function pdfInfo(pdf: Uint8Array, meta = false): Promise<string> {
  return withFile(pdf, async (path) => (await run('pdfinfo', [...(meta ? ['-meta'] : []), path])).stdout);
}

/** The input encrypted by qpdf with AES-256 (`--encrypt user owner 256`). */
export function encryptWithQpdf(pdf: Uint8Array, user: string, owner: string): Promise<Buffer> {
  return withFile(pdf, async (path, dir) => {
    const out = join(dir, 'encrypted.pdf');
    await run('qpdf', ['--encrypt', user, owner, '256', '--', path, out]);
    return readFile(out);
  });
}
