/**
 * The protobuf wire format, as far as rewriting an ONNX model needs: a message is an ordered list of
 * fields, each kept as its raw bytes, so that everything not touched is written back unchanged.
 */

export const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;
export type Wire = (typeof Wire)[keyof typeof Wire];

export interface Field {
  no: number;
  wire: Wire;
  /** Varint: the value. Others: the bytes (for Bytes, the payload without its length). */
  value: bigint | Uint8Array;
}

export type Message = Field[];

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n,
    shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('protobuf: truncated varint');
    const byte = buf[pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [result, pos];
    shift += 7n;
    if (shift > 63n) throw new Error('protobuf: varint too long');
  }
}

export function decodeMessage(buf: Uint8Array): Message {
  const fields: Message = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    pos = afterKey;
    const no = Number(key >> 3n),
      wire = Number(key & 7n);
    if (wire === Wire.Varint) {
      const [value, next] = readVarint(buf, pos);
      fields.push({ no, wire, value: BigInt.asIntN(64, value) });
      pos = next;
      continue;
    }
    let length: number;
    if (wire === Wire.Fixed64) length = 8;
    else if (wire === Wire.Fixed32) length = 4;
    else if (wire === Wire.Bytes) {
      const [len, next] = readVarint(buf, pos);
      length = Number(len);
      pos = next;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
    if (pos + length > buf.length) throw new Error('protobuf: field runs past the end');
    fields.push({ no, wire: wire, value: buf.subarray(pos, pos + length) });
    pos += length;
  }
  return fields;
}

function varintBytes(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function encodeMessage(fields: Message): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    size += part.length;
  };
  for (const f of fields) {
    push(Uint8Array.from(varintBytes(BigInt((f.no << 3) | f.wire))));
    if (f.wire === Wire.Varint) push(Uint8Array.from(varintBytes(f.value as bigint)));
    else {
      const bytes = f.value as Uint8Array;
      if (f.wire === Wire.Bytes) push(Uint8Array.from(varintBytes(BigInt(bytes.length))));
      push(bytes);
    }
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

export const bytesField = (no: number, value: Uint8Array): Field => ({ no, wire: Wire.Bytes, value });
export const stringField = (no: number, value: string): Field => bytesField(no, utf8Encoder.encode(value));
export const messageField = (no: number, message: Message): Field => bytesField(no, encodeMessage(message));
export const varintField = (no: number, value: number | bigint): Field => ({ no, wire: Wire.Varint, value: BigInt(value) });

export function floatField(no: number, value: number): Field {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return { no, wire: Wire.Fixed32, value: bytes };
}

/** Packed repeated varints (int64 dims, ints attributes). */
export function packedVarintsField(no: number, values: readonly number[]): Field {
  return bytesField(no, Uint8Array.from(values.flatMap((v) => varintBytes(BigInt(v)))));
}

export const fieldsOf = (message: Message, no: number): Field[] => message.filter((f) => f.no === no);

export function stringsOf(message: Message, no: number): string[] {
  return fieldsOf(message, no).map((f) => utf8.decode(f.value as Uint8Array));
}

export const stringOf = (message: Message, no: number): string | undefined => stringsOf(message, no)[0];

export function varintOf(message: Message, no: number): bigint | undefined {
  const f = fieldsOf(message, no)[0];
  return f && f.wire === Wire.Varint ? (f.value as bigint) : undefined;
}

export function floatOf(message: Message, no: number): number | undefined {
  const f = fieldsOf(message, no)[0];
  if (!f || f.wire !== Wire.Fixed32) return undefined;
  const bytes = f.value as Uint8Array;
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
}

/** Repeated varints, packed or not. */
export function varintsOf(message: Message, no: number): number[] {
  const out: number[] = [];
  for (const f of fieldsOf(message, no)) {
    if (f.wire === Wire.Varint) out.push(Number(BigInt.asIntN(64, f.value as bigint)));
    else if (f.wire === Wire.Bytes) {
      const bytes = f.value as Uint8Array;
      for (let pos = 0; pos < bytes.length;) {
        const [v, next] = readVarint(bytes, pos);
        out.push(Number(BigInt.asIntN(64, v)));
        pos = next;
      }
    }
  }
  return out;
}

/** Repeated float32, packed or not. */
export function floatsOf(message: Message, no: number): number[] {
  const out: number[] = [];
  for (const f of fieldsOf(message, no)) {
    const bytes = f.value as Uint8Array;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let pos = 0; pos + 4 <= bytes.length; pos += 4) out.push(view.getFloat32(pos, true));
  }
  return out;
}
