/**
 * PDFs written object by object, for inputs no PDF library would produce: page trees that loop,
 * deep nesting, broken cross-reference offsets, and RC4 encryption (standard security handler,
 * revision 2) with a user password.
 */
import { createHash } from 'node:crypto';
import { PASSWORD_PAD, rc4 } from '../../src/outputs/pdf/security.ts';

/** Objects 1..n in order; object 1 must be the catalog. */
export function rawPdf(objects: (string | Buffer)[], options: { trailer?: string; xrefShift?: number } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((body, i) => {
    offsets.push(length);
    const chunk = Buffer.concat([
      Buffer.from(`${i + 1} 0 obj\n`),
      Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'),
      Buffer.from('\nendobj\n'),
    ]);
    parts.push(chunk);
    length += chunk.length;
  });
  const shift = options.xrefShift ?? 0;
  const xref = [
    `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`,
    ...offsets.map((o) => `${String(o + shift).padStart(10, '0')} 00000 n \n`),
  ].join('');
  parts.push(
    Buffer.from(
      `${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${options.trailer ?? ''} >>\nstartxref\n${length + shift}\n%%EOF\n`,
      'latin1',
    ),
  );
  return Buffer.concat(parts);
}

/** A one-page PDF showing `text` in Helvetica on a page of `size` points. */
export function textPagePdf(text: string, size: [number, number] = [600, 200], fontSize = 36): Buffer {
  const content = `BT /F1 ${fontSize} Tf 40 ${size[1] / 2 - fontSize / 3} Td (${text}) Tj ET`;
  return rawPdf(pageObjects(content, size));
}

function pageObjects(content: string | Buffer, size: [number, number]): (string | Buffer)[] {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'latin1');
  return [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${size[0]} ${size[1]}] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>`,
    Buffer.concat([Buffer.from(`<< /Length ${data.length} >>\nstream\n`), data, Buffer.from('\nendstream')]),
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
}

const md5 = (...parts: Buffer[]) => createHash('md5').update(Buffer.concat(parts)).digest();
const padded = (password: string) => Buffer.concat([Buffer.from(password, 'latin1'), PASSWORD_PAD]).subarray(0, 32);

/** `textPagePdf`, encrypted with 40-bit RC4 so that it opens only with `password`. */
export function encryptedTextPagePdf(text: string, password: string): Buffer {
  const id = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const permissions = Buffer.alloc(4);
  permissions.writeInt32LE(-4);
  const owner = rc4(md5(padded(`${password}-owner`)).subarray(0, 5), padded(password));
  const fileKey = md5(padded(password), owner, permissions, id).subarray(0, 5);
  const user = rc4(fileKey, PASSWORD_PAD);
  const objectKey = (n: number) => md5(fileKey, Buffer.from([n & 255, (n >> 8) & 255, (n >> 16) & 255, 0, 0])).subarray(0, 10);
  const objects = pageObjects(rc4(objectKey(4), Buffer.from(`BT /F1 36 Tf 40 88 Td (${text}) Tj ET`, 'latin1')), [600, 200]);
  objects.push(`<< /Filter /Standard /V 1 /R 2 /O <${owner.toString('hex')}> /U <${user.toString('hex')}> /P -4 >>`);
  return rawPdf(objects, { trailer: `/Encrypt 6 0 R /ID [<${id.toString('hex')}> <${id.toString('hex')}>]` });
}
