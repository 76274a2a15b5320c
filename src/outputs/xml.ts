/** Text made safe for XML 1.0 content and attribute values. */

// Characters XML 1.0 does not allow at all: C0 controls other than tab, line feed and carriage
// return, lone surrogates, U+FFFE and U+FFFF (a PDF's text layer can hold any of them).
const NOT_XML =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(text: string): string {
  return text.replace(NOT_XML, '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
