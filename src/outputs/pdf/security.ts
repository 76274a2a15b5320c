/**
 * The PDF standard security handler (ISO 32000-2 7.6.4), for reading: the file key from the user or
 * the owner password (revisions 2 to 6: RC4 40-128 bits, AES-128, AES-256), and the decryption of
 * every string and stream of every object. pdf-lib cannot decrypt and qpdf is not an npm package; this
 * runs in-process with node:crypto (RC4, which OpenSSL 3 no longer offers, is written out).
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { PDFArray, PDFDict, PDFHexString, PDFName, PDFNumber, PDFRawStream, PDFString, type PDFObject, type PDFRef } from 'pdf-lib';
import { OcrError } from '../../errors.ts';

export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  const s = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 255;
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  const out = Buffer.alloc(data.length);
  for (let k = 0, i = 0, j = 0; k < data.length; k++) {
    i = (i + 1) & 255;
    j = (j + s[i]!) & 255;
    [s[i], s[j]] = [s[j]!, s[i]!];
    out[k] = data[k]! ^ s[(s[i]! + s[j]!) & 255]!;
  }
  return out;
}

/** The 32 bytes a password is padded with (revisions 2 to 4). */
export const PASSWORD_PAD = Buffer.from('28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a', 'hex');
const md5 = (...parts: Uint8Array[]) => createHash('md5').update(Buffer.concat(parts)).digest();
const padded = (password: Buffer) => Buffer.concat([password, PASSWORD_PAD]).subarray(0, 32);

type Method = 'None' | 'RC4' | 'AES';

/** How strings and streams of a document are encrypted, and its file key. */
export interface FileKey {
  key: Buffer;
  /** AES-256 (revisions 5 and 6) uses the file key for every object; older revisions derive one per object. */
  perObject: boolean;
  strings: Method;
  streams: Method;
  /** Whether the document's XMP metadata stream is encrypted too. */
  metadata: boolean;
}

/** The bytes of a string object (literal with its escapes undone, or hex). */
export function stringBytes(value: PDFString | PDFHexString): Buffer {
  if (value instanceof PDFHexString) {
    const hex = value.asString().replace(/[^0-9a-fA-F]/g, '');
    return Buffer.from(hex.length % 2 ? `${hex}0` : hex, 'hex');
  }
  const raw = value.asString();
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const next = raw[++i];
    if (next === undefined) break;
    const octal = /^[0-7]{1,3}/.exec(raw.slice(i, i + 3));
    if (octal) {
      out.push(parseInt(octal[0], 8) & 0xff);
      i += octal[0].length - 1;
      continue;
    }
    if (next === '\r') {
      if (raw[i + 1] === '\n') i++;
      continue;
    }
    if (next === '\n') continue;
    const escapes: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, f: 12 };
    out.push(escapes[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(out);
}

function methodOf(encrypt: PDFDict, filterKey: 'StmF' | 'StrF', v: number): Method {
  if (v < 4) return 'RC4';
  const name = encrypt.get(PDFName.of(filterKey));
  if (!(name instanceof PDFName) || name === PDFName.of('Identity')) return 'None';
  const filters = encrypt.get(PDFName.of('CF'));
  const filter = filters instanceof PDFDict ? filters.get(name) : undefined;
  const cfm = filter instanceof PDFDict ? filter.get(PDFName.of('CFM')) : undefined;
  if (cfm === PDFName.of('V2')) return 'RC4';
  if (cfm === PDFName.of('AESV2') || cfm === PDFName.of('AESV3')) return 'AES';
  if (cfm === PDFName.of('None') || cfm === undefined) return 'None';
  throw new OcrError('PDF_ENCRYPTED', `The PDF is encrypted with a method this cannot read (${cfm.toString()})`);
}

const entryBytes = (dict: PDFDict, key: string): Buffer => {
  const v = dict.get(PDFName.of(key));
  return v instanceof PDFString || v instanceof PDFHexString ? stringBytes(v) : Buffer.alloc(0);
};
const entryNumber = (dict: PDFDict, key: string, fallback: number): number => {
  const v = dict.get(PDFName.of(key));
  return v instanceof PDFNumber ? v.asNumber() : fallback;
};

/** Algorithm 2: the file key of revisions 2 to 4 from a padded user password. */
function legacyKey(user: Buffer, encrypt: PDFDict, id: Buffer, r: number, length: number, metadata: boolean): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32LE(entryNumber(encrypt, 'P', 0) | 0);
  let key = md5(
    padded(user),
    entryBytes(encrypt, 'O').subarray(0, 32),
    p,
    id,
    r >= 4 && !metadata ? Buffer.from([255, 255, 255, 255]) : Buffer.alloc(0),
  ).subarray(0, length);
  if (r >= 3) for (let i = 0; i < 50; i++) key = md5(key).subarray(0, length);
  return key;
}

/** Algorithms 4 and 5: the /U value the key gives, compared on the bytes that matter. */
function userMatches(key: Buffer, encrypt: PDFDict, id: Buffer, r: number): boolean {
  const u = entryBytes(encrypt, 'U');
  if (r === 2) return rc4(key, PASSWORD_PAD).equals(u.subarray(0, 32));
  let value = rc4(key, md5(PASSWORD_PAD, id));
  for (let i = 1; i <= 19; i++)
    value = rc4(
      key.map((b) => b ^ i),
      value,
    );
  return value.equals(u.subarray(0, 16));
}

/** Algorithm 7: the user password an owner password unlocks. */
function userFromOwner(owner: Buffer, encrypt: PDFDict, r: number, length: number): Buffer {
  let hash = md5(padded(owner));
  if (r >= 3) for (let i = 0; i < 50; i++) hash = md5(hash);
  const key = hash.subarray(0, r === 2 ? 5 : length);
  let value = entryBytes(encrypt, 'O').subarray(0, 32);
  if (r === 2) return rc4(key, value);
  for (let i = 19; i >= 0; i--)
    value = rc4(
      key.map((b) => b ^ i),
      value,
    );
  return value;
}

/** Algorithm 2.B (revision 6), or plain SHA-256 (revision 5). */
function hash256(password: Buffer, salt: Buffer, user: Buffer, r: number): Buffer {
  let k = createHash('sha256')
    .update(Buffer.concat([password, salt, user]))
    .digest();
  if (r === 5) return k;
  for (let round = 0; ; round++) {
    const k1 = Buffer.concat(Array.from({ length: 64 }, () => Buffer.concat([password, k, user])));
    const cipher = createCipheriv('aes-128-cbc', k.subarray(0, 16), k.subarray(16, 32)).setAutoPadding(false);
    const e = Buffer.concat([cipher.update(k1), cipher.final()]);
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += e[i]!;
    k = createHash(['sha256', 'sha384', 'sha512'][sum % 3]!)
      .update(e)
      .digest();
    // At least 64 rounds, then until the last byte of E is at most the rounds done minus 32.
    if (round + 1 >= 64 && e[e.length - 1]! <= round + 1 - 32) return k.subarray(0, 32);
  }
}

function aes256Key(password: string, encrypt: PDFDict, r: number): Buffer | undefined {
  const pw = Buffer.from(password.normalize('NFKC'), 'utf8').subarray(0, 127);
  const u = entryBytes(encrypt, 'U').subarray(0, 48),
    o = entryBytes(encrypt, 'O').subarray(0, 48);
  const unwrap = (k: Buffer, wrapped: Buffer) => {
    const d = createDecipheriv('aes-256-cbc', k, Buffer.alloc(16)).setAutoPadding(false);
    return Buffer.concat([d.update(wrapped), d.final()]);
  };
  if (hash256(pw, u.subarray(32, 40), Buffer.alloc(0), r).equals(u.subarray(0, 32)))
    return unwrap(hash256(pw, u.subarray(40, 48), Buffer.alloc(0), r), entryBytes(encrypt, 'UE'));
  if (hash256(pw, o.subarray(32, 40), u, r).equals(o.subarray(0, 32)))
    return unwrap(hash256(pw, o.subarray(40, 48), u, r), entryBytes(encrypt, 'OE'));
  return undefined;
}

/** The file key `password` (user or owner) opens; a PDF_ENCRYPTED error when it opens nothing. */
export function openFileKey(encrypt: PDFDict, id: Buffer, password: string): FileKey {
  if (encrypt.get(PDFName.of('Filter')) !== PDFName.of('Standard'))
    throw new OcrError('PDF_ENCRYPTED', 'The PDF is encrypted with a security handler other than the standard one');
  const v = entryNumber(encrypt, 'V', 0),
    r = entryNumber(encrypt, 'R', 2);
  const metadata = String(encrypt.get(PDFName.of('EncryptMetadata')) ?? 'true') !== 'false';
  const methods = { strings: methodOf(encrypt, 'StrF', v), streams: methodOf(encrypt, 'StmF', v), metadata };
  if (r >= 5) {
    const key = aes256Key(password, encrypt, r);
    if (!key) throw new OcrError('PDF_ENCRYPTED', 'The password does not open this PDF');
    return { key, perObject: false, ...methods };
  }
  const length = r === 2 ? 5 : entryNumber(encrypt, 'Length', 40) / 8;
  const typed = Buffer.from(password, 'latin1');
  for (const user of [typed, userFromOwner(typed, encrypt, r, length)]) {
    const key = legacyKey(user, encrypt, id, r, length, metadata);
    if (userMatches(key, encrypt, id, r)) return { key, perObject: true, ...methods };
  }
  throw new OcrError('PDF_ENCRYPTED', 'The password does not open this PDF');
}

function decrypt(file: FileKey, method: Method, ref: PDFRef, data: Uint8Array): Buffer {
  if (method === 'None') return Buffer.from(data);
  let key = file.key;
  if (file.perObject) {
    const n = ref.objectNumber,
      g = ref.generationNumber;
    const salt = method === 'AES' ? Buffer.from('sAlT', 'latin1') : Buffer.alloc(0);
    key = md5(file.key, Buffer.from([n & 255, (n >> 8) & 255, (n >> 16) & 255, g & 255, (g >> 8) & 255]), salt).subarray(
      0,
      Math.min(file.key.length + 5, 16),
    );
  }
  if (method === 'RC4') return rc4(key, data);
  if (data.length < 32 || data.length % 16 !== 0) return Buffer.alloc(0);
  const decipher = createDecipheriv(key.length === 32 ? 'aes-256-cbc' : 'aes-128-cbc', key, data.subarray(0, 16));
  try {
    return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]);
  } catch {
    return Buffer.alloc(0);
  }
}

/** The object with its strings (and, for a stream, its data) decrypted; objects inside object streams are not encrypted on their own. */
export function decryptObject(file: FileKey, ref: PDFRef, object: PDFObject): PDFObject {
  const visit = (value: PDFObject): PDFObject => {
    if (value instanceof PDFString || value instanceof PDFHexString)
      return PDFHexString.of(decrypt(file, file.strings, ref, stringBytes(value)).toString('hex'));
    if (value instanceof PDFArray) {
      for (let i = 0; i < value.size(); i++) value.set(i, visit(value.get(i)));
      return value;
    }
    if (value instanceof PDFDict) {
      for (const [key, entry] of value.entries()) value.set(key, visit(entry));
      return value;
    }
    return value;
  };
  if (object instanceof PDFRawStream) {
    const type = object.dict.get(PDFName.of('Type'));
    // Cross-reference streams are never encrypted; XMP metadata is left clear when EncryptMetadata is false.
    if (type === PDFName.of('XRef')) return object;
    visit(object.dict);
    if (type === PDFName.of('Metadata') && !file.metadata) return object;
    return PDFRawStream.of(object.dict, decrypt(file, file.streams, ref, object.contents));
  }
  return visit(object);
}
