/**
 * PDF/A-2b (ISO 19005-2, level B: the pages look the same forever) where the input allows it. What is
 * added: XMP metadata that claims part 2 level B and repeats the document information, and an sRGB
 * output intent. What is checked of the input (each found is a reason, and no PDF/A is written):
 * encryption, a header without its binary marker (an incremental update cannot change it; the file is
 * then written anew), PDF 2.0, fonts not embedded, DeviceCMYK (no CMYK output intent is written),
 * LZW streams, external streams, JavaScript and other actions, embedded files, /Interpolate true,
 * transfer functions, PostScript and reference XObjects, image alternates and OPI, annotations that
 * are hidden, not printed, without appearance or of kinds PDF/A forbids, forms that need appearances,
 * XFA, optional content, output intents of its own. What is not checked: the insides of embedded
 * font programs (glyph widths against the font dictionaries, .notdef use, embedding permission),
 * blend modes and transparency details, JPEG 2000 image details, the validity of XMP metadata
 * streams on pages or other objects, and everything a full validator (veraPDF) would check beyond
 * this list; the catalog's own XMP metadata is replaced (its other properties are lost).
 */
import {
  PDFArray,
  PDFBool,
  PDFDict,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFRawStream,
  PDFRef,
  PDFString,
  decodePDFRawStream,
  type PDFContext,
  type PDFObject,
} from 'pdf-lib';
import { deflateSync } from 'node:zlib';
import type { PdfEdit } from './pdf-edit.ts';
import { SRGB_PROFILE_NAME, srgbProfile } from './srgb-icc.ts';

const name = (v: string) => PDFName.of(v);
const FONT_FILES = ['FontFile', 'FontFile2', 'FontFile3'];
const FONT_TYPES = new Set(['Type1', 'MMType1', 'TrueType', 'CIDFontType0', 'CIDFontType2']);
const FORBIDDEN_KEYS: Record<string, string> = {
  JS: 'JavaScript',
  JavaScript: 'JavaScript',
  AA: 'additional actions',
  EmbeddedFiles: 'embedded files',
  OPI: 'OPI',
  Alternates: 'image alternates',
  OCProperties: 'optional content (not checked)',
  XFA: 'XFA forms',
  OutputIntents: 'output intents of its own (not checked)',
};
const FORBIDDEN_ACTIONS = new Set([
  'Launch',
  'Sound',
  'Movie',
  'ResetForm',
  'ImportData',
  'JavaScript',
  'Hide',
  'SetOCGState',
  'Rendition',
  'Trans',
  'GoTo3DView',
]);
const FORBIDDEN_ANNOTATIONS = new Set(['Sound', 'Movie', 'Screen', '3D', 'RichMedia', 'FileAttachment', 'TrapNet']);
// Annotation flags: invisible 1, hidden 2, print 4, noview 32.
const HIDING_FLAGS = 1 | 2 | 32;
const PRINT_FLAG = 4;

/** Content-stream operators that set a DeviceCMYK colour. */
function usesCmykOperators(content: string): boolean {
  // Strings and comments are skipped; what is left is operands and operators.
  const stripped = content.replace(/\((?:\\.|[^\\()]|\((?:\\.|[^\\()])*\))*\)|<[0-9a-fA-F\s]*>|%[^\r\n]*/g, ' ');
  return /(^|[\s\]])(k|K)(?=[\s[/(<]|$)/.test(stripped) || /\/(DeviceCMYK|CMYK)\b/.test(stripped);
}

/** Why the document cannot be written as PDF/A-2b (empty when it can, as far as this checks). */
export function pdfaProblems(context: PDFContext, header: Uint8Array, contents: readonly PDFObject[]): string[] {
  const problems = new Set<string>();
  const firstLine = Buffer.from(header.subarray(0, 16)).toString('latin1');
  if (/^%PDF-2/.test(firstLine)) problems.add('it is PDF 2.0 (PDF/A-2 is based on PDF 1.7)');
  if (context.trailerInfo.Encrypt) problems.add('it is encrypted');
  const lookup = (v: PDFObject | undefined) => (v instanceof PDFRef ? context.lookup(v) : v);
  const drawn: PDFRawStream[] = [];
  const check = (dict: PDFDict, stream: boolean, key: string) => {
    const get = (k: string) => lookup(dict.get(name(k)));
    for (const [entryKey, entry] of dict.entries()) {
      const k = entryKey.decodeText();
      if (FORBIDDEN_KEYS[k]) problems.add(`it has ${FORBIDDEN_KEYS[k]}`);
      if (entry === name('DeviceCMYK')) problems.add('it uses DeviceCMYK colour');
      if (entry === name('LZWDecode')) problems.add('it has LZW-compressed streams');
      if (k === 'F' && stream) problems.add('it has streams kept in external files');
      if (k === 'Interpolate' && entry === PDFBool.True) problems.add('it asks for image interpolation');
      if ((k === 'TR' || k === 'TR2') && entry !== name('Default')) problems.add('it has transfer functions');
    }
    const type = get('Type'),
      subtype = get('Subtype'),
      action = get('S');
    if (
      (type === name('Action') || key === 'A' || key === 'OpenAction') &&
      action instanceof PDFName &&
      FORBIDDEN_ACTIONS.has(action.decodeText())
    ) {
      problems.add(`it has ${action.decodeText()} actions`);
    }
    if (subtype === name('PS') || (subtype === name('Form') && get('Ref') !== undefined))
      problems.add('it has PostScript or reference XObjects');
    if (get('NeedAppearances') === PDFBool.True) problems.add('its form needs appearances generated');
    if (type === name('Font') && subtype instanceof PDFName && FONT_TYPES.has(subtype.decodeText())) {
      const descriptor = get('FontDescriptor');
      if (!(descriptor instanceof PDFDict && FONT_FILES.some((f) => descriptor.get(name(f)) !== undefined)))
        problems.add(`its font ${get('BaseFont')?.toString() ?? ''} is not embedded`);
    }
    const annotations = get('Annots');
    if (annotations instanceof PDFArray) for (const a of annotations.asArray().map(lookup)) if (a instanceof PDFDict) checkAnnotation(a);
  };
  const checkAnnotation = (a: PDFDict) => {
    const kind = lookup(a.get(name('Subtype')));
    const kindName = kind instanceof PDFName ? kind.decodeText() : '';
    if (FORBIDDEN_ANNOTATIONS.has(kindName)) problems.add(`it has ${kindName} annotations`);
    if (kindName === 'Popup') return;
    const flags = lookup(a.get(name('F')));
    const f = flags instanceof PDFNumber ? flags.asNumber() : 0;
    if (!(f & PRINT_FLAG) || f & HIDING_FLAGS) problems.add('it has annotations that are hidden or not printed');
    const appearance = lookup(a.get(name('AP')));
    if (kindName !== 'Link' && !(appearance instanceof PDFDict && appearance.get(name('N')) !== undefined))
      problems.add('it has annotations without an appearance');
  };
  // Every object the document reaches from its catalog, once (objects nothing refers to are not part of it).
  const seen = new Set<PDFRef>();
  const pending: [PDFObject, string][] = context.trailerInfo.Root ? [[context.trailerInfo.Root, '']] : [];
  while (pending.length > 0) {
    const [item, key] = pending.pop()!;
    if (item instanceof PDFRef) {
      if (seen.has(item)) continue;
      seen.add(item);
    }
    const value = lookup(item);
    if (value instanceof PDFArray) {
      pending.push(...value.asArray().map((v): [PDFObject, string] => [v, key]));
      continue;
    }
    const dict = value instanceof PDFRawStream ? value.dict : value;
    if (!(dict instanceof PDFDict)) continue;
    check(dict, value instanceof PDFRawStream, key);
    if (value instanceof PDFRawStream && dict.get(name('Subtype')) === name('Form')) drawn.push(value);
    // A page's /Parent leads back up the tree: every page is reached from the root anyway.
    for (const [k, entry] of dict.entries()) if (k.decodeText() !== 'Parent') pending.push([entry, k.decodeText()]);
  }
  for (const content of contents) {
    const stream = lookup(content);
    if (stream instanceof PDFRawStream) drawn.push(stream);
  }
  for (const stream of drawn) {
    try {
      if (usesCmykOperators(Buffer.from(decodePDFRawStream(stream).decode()).toString('latin1'))) problems.add('it uses DeviceCMYK colour');
    } catch {
      problems.add('a content stream could not be decoded to check it');
    }
  }
  return [...problems];
}

/** A PDF date (D:YYYYMMDDHHmmSSOHH'mm) as an instant, or undefined. */
export function parsePdfDate(text: string): Date | undefined {
  const m = /^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([Zz+-])(?:(\d{2})'?(\d{2})?'?)?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', zone, zh = '00', zm = '00'] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const offset = zone === '+' || zone === '-' ? (zone === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) : 0;
  const date = new Date(utc - offset * 60_000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const escapeXml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/** XMP metadata claiming PDF/A-2b and saying what the information dictionary says. */
function xmp(info: Record<string, string>, dates: { CreationDate: Date; ModDate: Date }): string {
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const prop = (tag: string, value: string | undefined) => (value === undefined ? [] : [`   <${tag}>${escapeXml(value)}</${tag}>`]);
  const alt = (tag: string, value: string | undefined) =>
    value === undefined ? [] : [`   <${tag}><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(value)}</rdf:li></rdf:Alt></${tag}>`];
  const seq = (tag: string, value: string | undefined) =>
    value === undefined ? [] : [`   <${tag}><rdf:Seq><rdf:li>${escapeXml(value)}</rdf:li></rdf:Seq></${tag}>`];
  return [
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"' +
      ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
    '   <pdfaid:part>2</pdfaid:part>',
    '   <pdfaid:conformance>B</pdfaid:conformance>',
    ...prop('pdf:Producer', info.Producer),
    ...prop('pdf:Keywords', info.Keywords),
    ...prop('xmp:CreatorTool', info.Creator),
    ...prop('xmp:CreateDate', iso(dates.CreationDate)),
    ...prop('xmp:ModifyDate', iso(dates.ModDate)),
    ...prop('xmp:MetadataDate', iso(dates.ModDate)),
    ...alt('dc:title', info.Title),
    ...seq('dc:creator', info.Author),
    ...alt('dc:description', info.Subject),
    '  </rdf:Description>',
    ' </rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="w"?>',
  ].join('\n');
}

/**
 * Makes the document PDF/A-2b: its information dictionary's dates in one form, XMP metadata saying the
 * same, and the sRGB output intent, on the catalog. `info` is the (already updated) information dictionary.
 */
export function addPdfA(edit: PdfEdit, infoRef: PDFRef, now: Date): void {
  const { context } = edit;
  const info = context.lookup(infoRef, PDFDict);
  const text: Record<string, string> = {};
  for (const key of ['Title', 'Author', 'Subject', 'Keywords', 'Creator', 'Producer']) {
    const value = info.get(name(key));
    if (value instanceof PDFString || value instanceof PDFHexString) text[key] = value.decodeText();
  }
  const date = (key: 'CreationDate' | 'ModDate') => {
    const value = info.get(name(key));
    const parsed = value instanceof PDFString || value instanceof PDFHexString ? parsePdfDate(value.decodeText()) : undefined;
    const instant = parsed ?? now;
    // Written again in UTC, the form the XMP dates take.
    info.set(name(key), PDFString.fromDate(instant));
    return instant;
  };
  const dates = { CreationDate: date('CreationDate'), ModDate: date('ModDate') };
  edit.touch(infoRef);
  const metadata = edit.add(PDFRawStream.of(context.obj({ Type: 'Metadata', Subtype: 'XML' }), Buffer.from(xmp(text, dates), 'utf8')));
  const profile = edit.add(PDFRawStream.of(context.obj({ N: 3, Filter: 'FlateDecode' }), deflateSync(srgbProfile())));
  const intent = context.obj({
    Type: 'OutputIntent',
    S: 'GTS_PDFA1',
    OutputConditionIdentifier: PDFString.of(SRGB_PROFILE_NAME),
    Info: PDFString.of(SRGB_PROFILE_NAME),
    DestOutputProfile: profile,
  });
  const root = context.trailerInfo.Root;
  const catalog = context.lookup(root, PDFDict);
  catalog.set(name('Metadata'), metadata);
  catalog.set(name('OutputIntents'), context.obj([intent]));
  edit.touch(root as PDFRef);
}
