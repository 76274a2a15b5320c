/**
 * Reads one multipart/form-data upload: the `file` part and the text fields, within a size limit.
 * The file is kept in memory (`readUpload`, for single images) or streamed to a file in a directory
 * (`saveUpload`, for PDFs of any length), never both.
 *
 * An upload is refused as cheaply as possible: a declared length over the limit before a byte is read,
 * and a body that grows past it, stalls (UPLOAD_IDLE_TIMEOUT) or breaks the form's rules as soon as it
 * does. The rest of the body is then never read: the answer closes the connection (src/http/reply.ts).
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

export interface UploadLimits {
  /** Largest file, in bytes. */
  maxBytes: number;
  /** Longest wait for the next byte of the body, in ms. */
  idleTimeoutMs: number;
}

const HEAD_BYTES = 1024;
const FILE_FIELD = 'file';
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;
/** What a form may add to its file: part headers and the text fields. */
const FORM_OVERHEAD_BYTES = MAX_FIELDS * MAX_FIELD_BYTES + 64 * 1024;

function tooLarge(maxBytes: number): OcrError {
  return new OcrError('UPLOAD_TOO_LARGE', `The file is larger than the limit of ${Math.round(maxBytes / 1048576)} MB (MAX_UPLOAD_MB)`);
}

/** Parses the request; `consume` takes the file stream and resolves when it has read all of it. */
function parseUpload<T>(
  req: IncomingMessage,
  limits: UploadLimits,
  consume: (file: Readable) => Promise<T>,
  stop: AbortSignal | undefined,
): Promise<UploadInfo & { stored: T }> {
  return new Promise((resolve, reject) => {
    const { maxBytes } = limits;
    if (!(req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      reject(new OcrError('MISSING_FILE', `Send the file as multipart/form-data in the field "${FILE_FIELD}"`));
      return;
    }
    if (Number(req.headers['content-length']) > maxBytes + FORM_OVERHEAD_BYTES) {
      reject(tooLarge(maxBytes));
      return;
    }
    let parser: busboy.Busboy;
    try {
      // One file more than allowed, to tell the client it sent two.
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 2, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES } });
    } catch {
      reject(new OcrError('MISSING_FILE', 'Malformed multipart request'));
      return;
    }
    const fields: Record<string, string> = {};
    const fileFields: string[] = [];
    let stored: Promise<T> | undefined;
    let filename = 'upload';
    let size = 0;
    const head: Buffer[] = [];
    let headLength = 0;
    let settled = false;
    let fileStream: Readable | undefined;
    let idle: NodeJS.Timeout | undefined;
    const stopWaiting = () => {
      clearTimeout(idle);
      req.off('data', waitForMore);
      stop?.removeEventListener('abort', stopping);
    };
    // Stops reading: the request is left unread, and the answer closes the connection.
    const fail = (err: OcrError) => {
      if (settled) return;
      settled = true;
      stopWaiting();
      req.unpipe(parser);
      req.pause();
      fileStream?.destroy();
      reject(err);
    };
    const waitForMore = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          fail(new OcrError('UPLOAD_TIMEOUT', `No byte of the upload arrived for ${limits.idleTimeoutMs / 1000} s (UPLOAD_IDLE_TIMEOUT)`)),
        limits.idleTimeoutMs,
      );
    };
    // The node is stopping: it would wait for this upload up to a page's time limit, for a job it cannot run.
    function stopping() {
      fail(new OcrError('SERVICE_UNAVAILABLE', 'This node is stopping: send the file again (to another node)', undefined, 5));
    }
    if (stop?.aborted) return stopping();
    stop?.addEventListener('abort', stopping);
    waitForMore();
    req.on('data', waitForMore);
    req.once('end', stopWaiting);
    // A client gone mid-body frees its slot at once, not at the idle timeout.
    req.once('close', () => req.complete || fail(new OcrError('MISSING_FILE', 'The upload was interrupted')));
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('fieldsLimit', () => fail(new OcrError('TOO_MANY_FIELDS', `A form may have at most ${MAX_FIELDS} text fields`)));
    parser.on('file', (name, stream, info) => {
      fileFields.push(name);
      if (fileFields.length > 1) {
        stream.resume();
        fail(
          new OcrError(
            'TOO_MANY_FILES',
            `Send one file, in the field "${FILE_FIELD}"; this request has files in ${fileFields.map((f) => `"${f}"`).join(' and ')}`,
          ),
        );
        return;
      }
      if (name !== FILE_FIELD) {
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
      stream.on('limit', () => fail(tooLarge(maxBytes)));
      stored = consume(stream);
      stored.catch(() => undefined); // reported on close
    });
    parser.on('filesLimit', () => fail(new OcrError('TOO_MANY_FILES', `Send one file, in the field "${FILE_FIELD}"`)));
    parser.on('error', () => fail(new OcrError('MISSING_FILE', 'Malformed multipart request')));
    const finish = async () => {
      if (settled) return;
      if (!stored) {
        const elsewhere = fileFields.length ? ` (the file came in the field "${fileFields[0]}")` : '';
        return fail(new OcrError('MISSING_FILE', `No file in the field "${FILE_FIELD}"${elsewhere}`));
      }
      try {
        const value = await stored;
        if (size === 0) return fail(new OcrError('EMPTY_UPLOAD', 'The uploaded file is empty'));
        settled = true;
        stopWaiting();
        resolve({ filename, fields, size, head: Buffer.concat(head), stored: value });
      } catch {
        fail(new OcrError('MISSING_FILE', 'The upload was interrupted'));
      }
    };
    parser.on('close', () => void finish());
    req.pipe(parser);
  });
}

/** The upload with the file in memory. */
export async function readUpload(req: IncomingMessage, limits: UploadLimits, stop?: AbortSignal): Promise<UploadInfo & { data: Buffer }> {
  const upload = await parseUpload(
    req,
    limits,
    async (file) => {
      const chunks: Buffer[] = [];
      for await (const chunk of file) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    stop,
  );
  return { ...upload, data: upload.stored };
}

/**
 * The upload with the file written to a new file in `dir` (removed again if the upload fails).
 * `started` is told the file's first bytes as they arrive, while the rest is still on its way.
 */
export async function saveUpload(
  req: IncomingMessage,
  limits: UploadLimits,
  dir: string,
  stop?: AbortSignal,
  started?: (head: Buffer) => void,
): Promise<UploadInfo & { path: string }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${randomUUID()}.upload`);
  const consume = (file: Readable) => {
    if (started) file.once('data', started);
    return pipeline(file, createWriteStream(path));
  };
  try {
    const upload = await parseUpload(req, limits, consume, stop);
    return { ...upload, path };
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}

/**
 * At most `max` uploads read at once by this node (MAX_CONCURRENT_UPLOADS): past it, a new one is
 * refused before its body is read, with 503 TOO_MANY_UPLOADS and Retry-After.
 */
export class UploadSlots {
  private reading = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  async read<T>(upload: () => Promise<T>): Promise<T> {
    if (this.reading >= this.max) {
      throw new OcrError(
        'TOO_MANY_UPLOADS',
        `This node is reading ${this.max} uploads already (MAX_CONCURRENT_UPLOADS): try again shortly`,
        undefined,
        2,
      );
    }
    this.reading += 1;
    try {
      return await upload();
    } finally {
      this.reading -= 1;
    }
  }
}
