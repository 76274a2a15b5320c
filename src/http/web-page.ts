/**
 * The web page for people (`GET /`): the files of `web/` at the project's root, plain HTML, CSS and
 * JavaScript modules served as they are (no build step), read once when the gateway starts. The page
 * calls the REST API like any other client and loads nothing from anywhere else; its
 * Content-Security-Policy holds it to that.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OcrError } from '../errors.ts';

export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const HEADERS = {
  // Everything from this server; page images and downloads are fetched with the API key and shown as blob: URLs.
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // Revalidated each time (cheap, by ETag): a new version of the page is never mixed with an old script.
  'Cache-Control': 'no-cache',
};

interface WebFile {
  type: string;
  body: Buffer;
  etag: string;
}

export class WebPage {
  private readonly files = new Map<string, WebFile>();

  /** Reads the served files of `dir`: only these names are ever served, whatever a request asks. */
  constructor(dir = WEB_DIR) {
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(join(dir, name));
      this.files.set(name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }

  /** Answers with the file `name` of the page, or 304 when the browser has it already. */
  send(req: IncomingMessage, res: ServerResponse, name: string): void {
    const file = this.files.get(name);
    if (!file) throw new OcrError('NOT_FOUND', `No file ${name}`);
    const headers = { ...HEADERS, ETag: file.etag };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': file.type, 'Content-Length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }
}
