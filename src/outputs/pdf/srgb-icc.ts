/**
 * An sRGB ICC profile (version 2, display class, matrix/TRC), built here because no package on this
 * machine ships one: the PDF/A output intent needs it. The colorants are sRGB's primaries adapted to
 * the D50 connection space (Bradford), the tone curve IEC 61966-2-1's, sampled at 1,024 points.
 */

const s15Fixed16 = (v: number) => Math.round(v * 65536) | 0;

function tag(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  const data = Buffer.concat([head, body]);
  return Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
}

function xyz(x: number, y: number, z: number): Buffer {
  const b = Buffer.alloc(12);
  [x, y, z].forEach((v, i) => b.writeInt32BE(s15Fixed16(v), i * 4));
  return tag('XYZ ', b);
}

function description(text: string): Buffer {
  const ascii = Buffer.from(`${text}\0`, 'latin1');
  const count = Buffer.alloc(4);
  count.writeUInt32BE(ascii.length);
  // Then no Unicode text (language and count 0) and no ScriptCode text (code, count, 67 bytes).
  return tag('desc', Buffer.concat([count, ascii, Buffer.alloc(8), Buffer.alloc(3), Buffer.alloc(67)]));
}

function toneCurve(points: number): Buffer {
  const b = Buffer.alloc(4 + 2 * points);
  b.writeUInt32BE(points);
  for (let i = 0; i < points; i++) {
    const x = i / (points - 1);
    const linear = x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    b.writeUInt16BE(Math.round(linear * 65535), 4 + 2 * i);
  }
  return tag('curv', b);
}

export const SRGB_PROFILE_NAME = 'sRGB IEC61966-2.1';

function buildProfile(): Buffer {
  const curve = toneCurve(1024);
  const tags: [string, Buffer][] = [
    ['desc', description(SRGB_PROFILE_NAME)],
    ['cprt', tag('text', Buffer.from('No copyright, use freely\0', 'latin1'))],
    ['wtpt', xyz(0.9504559, 1, 1.0890578)],
    ['rXYZ', xyz(0.4360747, 0.2225045, 0.0139322)],
    ['gXYZ', xyz(0.3850649, 0.7168786, 0.0971045)],
    ['bXYZ', xyz(0.1430804, 0.0606169, 0.7141733)],
    ['rTRC', curve],
    ['gTRC', curve],
    ['bTRC', curve],
  ];
  const table = Buffer.alloc(4 + 12 * tags.length);
  table.writeUInt32BE(tags.length);
  const bodies: Buffer[] = [];
  const placed = new Map<Buffer, number>();
  let offset = 128 + table.length;
  tags.forEach(([signature, body], i) => {
    // The three tone curves share one element.
    let at = placed.get(body);
    if (at === undefined) {
      at = offset;
      placed.set(body, at);
      bodies.push(body);
      offset += body.length;
    }
    table.write(signature, 4 + 12 * i, 'latin1');
    table.writeUInt32BE(at, 8 + 12 * i);
    table.writeUInt32BE(body.length, 12 + 12 * i);
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write('mntrRGB XYZ ', 12, 'latin1');
  [2024, 1, 1, 0, 0, 0].forEach((v, i) => header.writeUInt16BE(v, 24 + 2 * i));
  header.write('acsp', 36, 'latin1');
  // The connection space's illuminant, D50.
  [0.9642, 1, 0.8249].forEach((v, i) => header.writeInt32BE(s15Fixed16(v), 68 + 4 * i));
  return Buffer.concat([header, table, ...bodies]);
}

let profile: Buffer | undefined;

/** The profile's bytes, built once. */
export function srgbProfile(): Buffer {
  profile ??= buildProfile();
  return profile;
}
