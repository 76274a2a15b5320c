/** Page bytes travel between services as streams: Moleculer cuts them into chunks under NATS's message limit. */
import { Readable } from 'node:stream';
import { OcrError } from '../errors.ts';

export function streamOf(bytes: Uint8Array): Readable {
  return Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)], { objectMode: false });
}

/** A text sent as it is made, piece by piece, in UTF-8. */
export function streamOfPieces(pieces: Iterable<string>): Readable {
  return Readable.from(
    (function* () {
      for (const piece of pieces) yield Buffer.from(piece);
    })(),
    { objectMode: false },
  );
}

/** Reads a whole stream, refusing more than `maxBytes`. */
export async function readAll(stream: AsyncIterable<Buffer | Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > maxBytes) throw new OcrError('UPLOAD_TOO_LARGE', `The page is larger than ${Math.round(maxBytes / 1048576)} MB`);
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
