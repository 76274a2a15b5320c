/** Reads one multipart/form-data upload: the `file` part and the text fields, within a size limit. */
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { OcrError } from '../errors.ts';

export interface Upload {
  filename: string;
  data: Buffer;
  fields: Record<string, string>;
}

export function readUpload(req: IncomingMessage, maxBytes: number, fileField = 'file'): Promise<Upload> {
  return new Promise((resolve, reject) => {
    if (!(req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      reject(new OcrError('MISSING_FILE', `Send the file as multipart/form-data in the field "${fileField}"`));
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
    let file: { filename: string; chunks: Buffer[]; truncated: boolean } | undefined;
    let failed = false;
    const fail = (err: OcrError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain the rest so the client can read the answer
      reject(err);
    };
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (name, stream, info) => {
      if (name !== fileField) {
        stream.resume();
        return;
      }
      const current = { filename: info.filename ?? 'upload', chunks: [] as Buffer[], truncated: false };
      file = current;
      stream.on('data', (chunk: Buffer) => current.chunks.push(chunk));
      stream.on('limit', () => {
        current.truncated = true;
        fail(new OcrError('UPLOAD_TOO_LARGE', `The file is larger than the limit of ${Math.round(maxBytes / 1048576)} MB (MAX_UPLOAD_MB)`));
      });
    });
    parser.on('error', () => fail(new OcrError('MISSING_FILE', 'Malformed multipart request')));
    parser.on('close', () => {
      if (failed) return;
      if (!file) return fail(new OcrError('MISSING_FILE', `No file in the field "${fileField}"`));
      const data = Buffer.concat(file.chunks);
      if (data.length === 0) return fail(new OcrError('EMPTY_UPLOAD', 'The uploaded file is empty'));
      resolve({ filename: file.filename, data, fields });
    });
    req.pipe(parser);
  });
}
