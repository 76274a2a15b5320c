/**
 * An incremental update (ISO 32000 7.5.6): the changed and new objects, a cross-reference section
 * for them and a trailer pointing back at the original's, appended to the original file, whose bytes
 * stay as they were (page content, images, fonts, and any signature over them). It is only as sound
 * as the original's own cross-reference chain, which is checked first: a reader follows the chain
 * from the end of the file, and a broken one would hide the original objects from strict readers.
 */
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import {
  PDFArray,
  PDFContext,
  PDFDict,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFObjectParser,
  PDFRawStream,
  type PDFObject,
  type PDFRef,
} from 'pdf-lib';

/** What the update needs from the original's last cross-reference section. */
export interface CrossReferences {
  /** Offset of the last section (the original's startxref). */
  last: number;
  /** One more than the highest object number in any section. */
  size: number;
  /** Whether the last section is a cross-reference stream (the update then writes one too). */
  stream: boolean;
}

const latin1 = (bytes: Uint8Array, from: number, to: number) =>
  Buffer.from(bytes.buffer, bytes.byteOffset + from, Math.max(0, Math.min(to, bytes.length) - from)).toString('latin1');

/** Whether the object `num` starts exactly at `offset`, as its cross-reference entry says. */
function objectAt(bytes: Uint8Array, offset: number, num: number): boolean {
  const head = /^(\d+)\s+\d+\s+obj\b/.exec(latin1(bytes, offset, offset + 32));
  return head !== null && Number(head[1]) === num;
}

/** PNG predictors (the only kind cross-reference streams use), undone in place row by row. */
function unpredict(data: Buffer, columns: number): Buffer {
  const rows = Math.floor(data.length / (columns + 1));
  const out = Buffer.alloc(rows * columns);
  for (let r = 0; r < rows; r++) {
    const type = data[r * (columns + 1)]!;
    for (let c = 0; c < columns; c++) {
      const raw = data[r * (columns + 1) + 1 + c]!;
      const left = c > 0 ? out[r * columns + c - 1]! : 0;
      const above = r > 0 ? out[(r - 1) * columns + c]! : 0;
      const corner = r > 0 && c > 0 ? out[(r - 1) * columns + c - 1]! : 0;
      let predicted = 0;
      if (type === 1) predicted = left;
      else if (type === 2) predicted = above;
      else if (type === 3) predicted = (left + above) >> 1;
      else if (type === 4) {
        const p = left + above - corner,
          pa = Math.abs(p - left),
          pb = Math.abs(p - above),
          pc = Math.abs(p - corner);
        predicted = pa <= pb && pa <= pc ? left : pb <= pc ? above : corner;
      }
      out[r * columns + c] = (raw + predicted) & 0xff;
    }
  }
  return out;
}

const number = (dict: PDFDict, key: string) => {
  const v = dict.get(PDFName.of(key));
  return v instanceof PDFNumber ? v.asNumber() : undefined;
};

/** A cross-reference stream's in-use entries (type 1) as [object number, offset]; undefined when it cannot be read. */
function streamEntries(stream: PDFRawStream): [number, number][] | undefined {
  const { dict } = stream;
  const widths = dict.get(PDFName.of('W'));
  const size = number(dict, 'Size');
  if (!(widths instanceof PDFArray) || size === undefined) return undefined;
  const w = widths.asArray().map((v) => (v instanceof PDFNumber ? v.asNumber() : -1));
  if (w.length !== 3 || w.some((v) => v < 0 || v > 8)) return undefined;
  const filter = dict.get(PDFName.of('Filter'));
  let data: Buffer = Buffer.from(stream.contents);
  if (filter !== undefined) {
    if (filter !== PDFName.of('FlateDecode')) return undefined;
    data = inflateSync(data);
  }
  const rowWidth = w[0]! + w[1]! + w[2]!;
  const params = dict.get(PDFName.of('DecodeParms'));
  if (params instanceof PDFDict && (number(params, 'Predictor') ?? 1) >= 10) data = unpredict(data, number(params, 'Columns') ?? rowWidth);
  const index = dict.get(PDFName.of('Index'));
  const ranges = index instanceof PDFArray ? index.asArray().map((v) => (v as PDFNumber).asNumber()) : [0, size];
  const field = (at: number, width: number) => {
    let v = 0;
    for (let i = 0; i < width; i++) v = v * 256 + data[at + i]!;
    return v;
  };
  const entries: [number, number][] = [];
  let row = 0;
  for (let k = 0; k + 1 < ranges.length; k += 2) {
    for (let i = 0; i < ranges[k + 1]!; i++, row++) {
      const at = row * rowWidth;
      if (at + rowWidth > data.length) return undefined;
      const type = w[0] === 0 ? 1 : field(at, w[0]!);
      if (type === 1) entries.push([ranges[k]! + i, field(at + w[0]!, w[1]!)]);
    }
  }
  return entries;
}

/** A cross-reference table's in-use entries, the object numbers it spans, and where its trailer dictionary starts. */
function tableEntries(
  bytes: Uint8Array,
  from: number,
  window = 1 << 16,
): { entries: [number, number][]; size: number; end: number } | undefined {
  // Read as text a window at a time: the first section of a linearised file sits at its very start.
  const text = latin1(bytes, from, from + window);
  const retry = () => (from + window < bytes.length ? tableEntries(bytes, from, window * 8) : undefined);
  const header = /\s*(\d+)[ \t]+(\d+)[ \t]*(?:\r\n|\r|\n)/y;
  // Entries are meant to be 20 bytes, but one-byte line ends are common enough to accept.
  const entry = /(\d{10})[ \t](\d{5})[ \t]([nf])[ \t]?(?:\r\n|\r|\n)?/y;
  const entries: [number, number][] = [];
  let pos = 0,
    size = 0;
  for (let h = header.exec(text); h; header.lastIndex = pos, h = header.exec(text)) {
    pos = header.lastIndex;
    const first = Number(h[1]),
      count = Number(h[2]);
    for (let i = 0; i < count; i++) {
      entry.lastIndex = pos;
      const e = entry.exec(text);
      if (!e) return retry();
      pos = entry.lastIndex;
      if (e[3] === 'n') entries.push([first + i, Number(e[1])]);
    }
    size = Math.max(size, first + count);
  }
  const trailer = /\s*trailer\s*/y;
  trailer.lastIndex = pos;
  return trailer.exec(text) ? { entries, size, end: from + trailer.lastIndex } : retry();
}

/**
 * The original's cross-reference chain, when every section (tables and streams, /Prev and /XRefStm)
 * is where the file says and every in-use entry points at its object; undefined otherwise.
 */
export function soundCrossReferences(bytes: Uint8Array): CrossReferences | undefined {
  const tail = latin1(bytes, Math.max(0, bytes.length - 1024), bytes.length);
  const found = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail);
  if (!found) return undefined;
  const last = Number(found[1]);
  const context = PDFContext.create();
  const pending = [last],
    seen = new Set<number>();
  let size = 0,
    stream: boolean | undefined;
  try {
    while (pending.length > 0) {
      const offset = pending.pop()!;
      if (seen.has(offset) || offset >= bytes.length) return undefined;
      seen.add(offset);
      let trailer: PDFDict;
      if (latin1(bytes, offset, offset + 4) === 'xref') {
        const table = tableEntries(bytes, offset + 4);
        if (!table || !table.entries.every(([num, at]) => objectAt(bytes, at, num))) return undefined;
        size = Math.max(size, table.size);
        trailer = PDFObjectParser.forBytes(bytes.subarray(table.end), context).parseObject() as PDFDict;
        const xrefStream = number(trailer, 'XRefStm');
        if (xrefStream !== undefined) pending.push(xrefStream);
        stream ??= false;
      } else {
        const head = /^(\d+)\s+\d+\s+obj\s*/.exec(latin1(bytes, offset, offset + 32));
        if (!head) return undefined;
        const object = PDFObjectParser.forBytes(bytes.subarray(offset + head[0].length), context).parseObject();
        if (!(object instanceof PDFRawStream) || object.dict.get(PDFName.of('Type')) !== PDFName.of('XRef')) return undefined;
        const entries = streamEntries(object);
        if (!entries || !entries.every(([num, at]) => objectAt(bytes, at, num))) return undefined;
        trailer = object.dict;
        stream ??= true;
      }
      if (!(trailer instanceof PDFDict)) return undefined;
      size = Math.max(size, number(trailer, 'Size') ?? 0);
      const prev = number(trailer, 'Prev');
      if (prev !== undefined) pending.push(prev);
    }
  } catch {
    return undefined;
  }
  return stream === undefined ? undefined : { last, size, stream };
}

/** The trailer entries an update writes (Size and Prev it works out itself). */
export interface UpdateTrailer {
  Root: PDFObject;
  Info?: PDFObject;
  Encrypt?: PDFObject;
  ID: PDFArray;
}

/** A new /ID: the original's first string kept (the file's permanent identity), the second new. */
export function updatedId(context: PDFContext, original: PDFObject | undefined, content: string): PDFArray {
  const fresh = PDFHexString.of(createHash('md5').update(content).digest('hex'));
  const first = original instanceof PDFArray && original.size() === 2 ? original.get(0) : fresh;
  return context.obj([first, fresh]);
}

function serialise(object: PDFObject): Buffer {
  const out = Buffer.alloc(object.sizeInBytes());
  object.copyBytesInto(out, 0);
  return out;
}

/** Consecutive object numbers as cross-reference subsections: [first, count] pairs. */
function subsections(numbers: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const n of numbers) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === n) last[1]++;
    else out.push([n, 1]);
  }
  return out;
}

/** The original's bytes followed by the objects `refs` (as `context` holds them now), their cross-references and a trailer. */
export function appendUpdate(
  original: Uint8Array,
  xref: CrossReferences,
  context: PDFContext,
  refs: readonly PDFRef[],
  trailer: UpdateTrailer,
): Buffer {
  const parts: Buffer[] = [Buffer.from(original.buffer, original.byteOffset, original.length)];
  let length = original.length;
  const push = (b: Buffer) => {
    parts.push(b);
    length += b.length;
  };
  const last = original[original.length - 1];
  if (last !== 0x0a && last !== 0x0d) push(Buffer.from('\n'));
  const offsets = new Map<number, number>();
  for (const ref of [...refs].sort((a, b) => a.objectNumber - b.objectNumber)) {
    offsets.set(ref.objectNumber, length);
    push(
      Buffer.concat([
        Buffer.from(`${ref.objectNumber} ${ref.generationNumber} obj\n`),
        serialise(context.lookup(ref)!),
        Buffer.from('\nendobj\n'),
      ]),
    );
  }
  // /Size is one more than the highest number in the file (a number reserved but never written does not count).
  const highest = Math.max(xref.size - 1, ...offsets.keys());
  const entries = {
    Root: trailer.Root,
    ...(trailer.Info ? { Info: trailer.Info } : {}),
    ...(trailer.Encrypt ? { Encrypt: trailer.Encrypt } : {}),
    ID: trailer.ID,
    Prev: xref.last,
  };
  const start = length;
  if (!xref.stream) {
    const numbers = [...offsets.keys()].sort((a, b) => a - b);
    const table = subsections(numbers).map(
      ([first, count]) =>
        `${first} ${count}\n${numbers
          .slice(numbers.indexOf(first), numbers.indexOf(first) + count)
          .map((n) => `${String(offsets.get(n)).padStart(10, '0')} 00000 n \n`)
          .join('')}`,
    );
    const dict = context.obj({ Size: highest + 1, ...entries });
    push(Buffer.concat([Buffer.from(`xref\n${table.join('')}trailer\n`), serialise(dict), Buffer.from(`\nstartxref\n${start}\n%%EOF\n`)]));
  } else {
    // The stream lists itself too: it is the newest object.
    const self = highest + 1;
    offsets.set(self, start);
    const numbers = [...offsets.keys()].sort((a, b) => a - b);
    const rows = Buffer.alloc(numbers.length * 7);
    numbers.forEach((n, i) => {
      rows[i * 7] = 1;
      rows.writeUInt32BE(offsets.get(n)!, i * 7 + 1);
    });
    const dict = context.obj({ Type: 'XRef', Size: self + 1, W: [1, 4, 2], Index: subsections(numbers).flat(), ...entries });
    const body = serialise(PDFRawStream.of(dict, rows));
    push(Buffer.concat([Buffer.from(`${self} 0 obj\n`), body, Buffer.from(`\nendobj\nstartxref\n${start}\n%%EOF\n`)]));
  }
  return Buffer.concat(parts, length);
}
