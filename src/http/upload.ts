/**
 * Reads one multipart/form-data upload: the `file` part and the text fields, within a size limit.
 * The file is kept in memory (`readUpload`, for single images) or streamed to a file in a directory
 * (`saveUpload`, for PDFs of any length), never both.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { OcrError } from '../errors.ts';

export interface UploadInfo {
  filename: string;
  fields: Record<string, string>;
  size: number;
  /** The first bytes of the file, to tell what it is. */
  head: Buffer;
}

const HEAD_BYTES = 1024;
const FILE_FIELD = 'file';

/** Parses the request; `consume` takes the file stream and resolves when it has read all of it. */
function parseUpload<T>(req: IncomingMessage, maxBytes: number, consume: (file: Readable) => Promise<T>): Promise<UploadInfo & { stored: T }> {
  return new Promise((resolve, reject) => {
    if (!(req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      reject(new OcrError('MISSING_FILE', `Send the file as multipart/form-data in the field "${FILE_FIELD}"`));
      return;
    }
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 1, fields: 20, fieldSize: 64 * 1024 } });
    } catch {
      reject(new OcrError('MISSING_FILE', 'Malformed multipart request'));
      return;
    }
    const fields: Record<string, string> = {};
    let stored: Promise<T> | undefined;
    let filename = 'upload';
    let size = 0;
    const head: Buffer[] = [];
    let headLength = 0;
    let failed = false;
    let fileStream: Readable | undefined;
    const fail = (err: OcrError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain the rest so the client reads the answer
      fileStream?.destroy();
      reject(err);
    };
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (name, stream, info) => {
      if (name !== FILE_FIELD || stored) {
        stream.resume();
        return;
      }
      filename = info.filename || 'upload';
      fileStream = stream;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (headLength < HEAD_BYTES) {
          head.push(chunk.subarray(0, HEAD_BYTES - headLength));
          headLength += Math.min(chunk.length, HEAD_BYTES - headLength);
        }
      });
      stream.on('limit', () => fail(new OcrError('UPLOAD_TOO_LARGE', `The file is larger than the limit of ${Math.round(maxBytes / 1048576)} MB (MAX_UPLOAD_MB)`)));
      stored = consume(stream);
      stored.catch(() => undefined); // reported on close
    });
    parser.on('error', () => fail(new OcrError('MISSING_FILE', 'Malformed multipart request')));
    parser.on('close', async () => {
      if (failed) return;
      if (!stored) return fail(new OcrError('MISSING_FILE', `No file in the field "${FILE_FIELD}"`));
      try {
        const value = await stored;
        if (size === 0) return fail(new OcrError('EMPTY_UPLOAD', 'The uploaded file is empty'));
        resolve({ filename, fields, size, head: Buffer.concat(head), stored: value });
      } catch {
        fail(new OcrError('MISSING_FILE', 'The upload was interrupted'));
      }
    });
    req.pipe(parser);
  });
}

/** The upload with the file in memory. */
export async function readUpload(req: IncomingMessage, maxBytes: number): Promise<UploadInfo & { data: Buffer }> {
  const upload = await parseUpload(req, maxBytes, async (file) => {
    const chunks: Buffer[] = [];
    for await (const chunk of file) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  });
  return { ...upload, data: upload.stored };
}

/** The upload with the file written to a new file in `dir` (removed again if the upload fails). */
export async function saveUpload(req: IncomingMessage, maxBytes: number, dir: string): Promise<UploadInfo & { path: string }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${randomUUID()}.upload`);
  try {
    const upload = await parseUpload(req, maxBytes, (file) => pipeline(file, createWriteStream(path)));
    return { ...upload, path };
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}
