/**
 * The input PDF's objects, parsed by pdf-lib, decrypted with the standard security handler when the
 * file is encrypted and its password was given, and its pages in page-tree order.
 */
import {
  PDFArray,
  PDFDict,
  PDFHexString,
  PDFName,
  PDFObjectStreamParser,
  PDFParser,
  PDFRawStream,
  PDFRef,
  PDFString,
  PDFXRefStreamParser,
  type PDFContext,
  type PDFObject,
} from 'pdf-lib';
import { OcrError } from '../../errors.ts';
import { decryptObject, openFileKey, stringBytes, type FileKey } from './security.ts';

/** The parts of pdf-lib's parser (1.17.1) that a decrypting parse replaces or calls. */
interface ParserInternals {
  context: PDFContext;
  shouldWaitForTick: () => boolean;
  parseIndirectObjectHeader(): PDFRef;
  skipWhitespaceAndComments(): void;
  parseObject(): PDFObject;
  matchKeyword(keyword: number[]): boolean;
  parseIndirectObject(): Promise<PDFRef>;
  parseDocument(): Promise<PDFContext>;
}

const ENDOBJ = [...Buffer.from('endobj', 'latin1')];

/** pdf-lib declares these steps private: checked here rather than cast, so another version fails plainly. */
function hasParserInternals(parser: object): parser is ParserInternals {
  return ['parseIndirectObjectHeader', 'skipWhitespaceAndComments', 'parseObject', 'matchKeyword', 'parseIndirectObject'].every(
    (step) => typeof Reflect.get(parser, step) === 'function',
  );
}

/**
 * pdf-lib's parse, the same steps as PDFParser.parseIndirectObject, with two changes it cannot be
 * asked for: every object decrypted as it is read (an object stream must be decrypted before the
 * objects in it can be parsed, so this cannot wait for the parsed document), and object streams left
 * unopened (to read an encrypted file's trailer without parsing its still encrypted object streams).
 */
function parse(input: Uint8Array, options: { file?: FileKey; encryptRef?: PDFObject; objectStreams: boolean }): Promise<PDFContext> {
  const parser: object = PDFParser.forBytesWithOptions(input, Infinity);
  if (!hasParserInternals(parser)) throw new Error('pdf-lib is not 1.17.1: its parser lacks the steps a decrypting parse replaces');
  const { file, encryptRef, objectStreams } = options;
  parser.parseIndirectObject = async function (this: ParserInternals) {
    const ref = this.parseIndirectObjectHeader();
    this.skipWhitespaceAndComments();
    const parsed = this.parseObject();
    this.skipWhitespaceAndComments();
    this.matchKeyword(ENDOBJ);
    const object = file && ref !== encryptRef ? decryptObject(file, ref, parsed) : parsed;
    const type = object instanceof PDFRawStream ? object.dict.get(PDFName.of('Type')) : undefined;
    if (type === PDFName.of('ObjStm') && objectStreams)
      await PDFObjectStreamParser.forStream(object as PDFRawStream, this.shouldWaitForTick).parseIntoContext();
    else if (type === PDFName.of('XRef')) PDFXRefStreamParser.forStream(object as PDFRawStream).parseIntoContext();
    else this.context.assign(ref, object);
    return ref;
  };
  return parser.parseDocument();
}

export interface ParsedPdf {
  context: PDFContext;
  /** Whether the input was encrypted (its objects are now decrypted). */
  decrypted: boolean;
}

/** Parses the input; an encrypted one needs `password` (user or owner) and comes out decrypted. */
export async function parsePdf(input: Uint8Array, password: string | undefined): Promise<ParsedPdf> {
  try {
    // Only a file that names /Encrypt somewhere can be encrypted: others are parsed once.
    const named = Buffer.from(input.buffer, input.byteOffset, input.length).includes('/Encrypt');
    const outline = await parse(input, { objectStreams: !named });
    const { Encrypt, ID } = outline.trailerInfo;
    if (Encrypt === undefined) return { context: named ? await parse(input, { objectStreams: true }) : outline, decrypted: false };
    if (!password) throw new OcrError('PDF_ENCRYPTED', 'A searchable copy of an encrypted PDF needs its password');
    const encrypt = Encrypt instanceof PDFRef ? outline.lookup(Encrypt) : Encrypt;
    const first = ID instanceof PDFArray ? ID.get(0) : undefined;
    if (!(encrypt instanceof PDFDict)) throw new OcrError('PDF_UNREADABLE', "The PDF's encryption dictionary could not be read");
    const id = first instanceof PDFString || first instanceof PDFHexString ? stringBytes(first) : Buffer.alloc(0);
    const clear = await parse(input, { file: openFileKey(encrypt, id, password), encryptRef: Encrypt, objectStreams: true });
    clear.trailerInfo.Encrypt = undefined;
    if (Encrypt instanceof PDFRef) clear.delete(Encrypt);
    return { context: clear, decrypted: true };
  } catch (err) {
    if (err instanceof OcrError) throw err;
    throw new OcrError('PDF_UNREADABLE', 'The PDF could not be read to add its text layer');
  }
}

/** Pages walked at most: a page tree holding more nodes than this is a loop or a bomb. */
const MAX_TREE_NODES = 1_000_000;

/** The pages in page-tree order, as pdfjs numbers them; a node seen twice (a loop) is skipped. */
export function pageList(context: PDFContext): { ref: PDFRef; dict: PDFDict }[] {
  const catalog = context.lookup(context.trailerInfo.Root);
  const root = catalog instanceof PDFDict ? catalog.get(PDFName.of('Pages')) : undefined;
  const pages: { ref: PDFRef; dict: PDFDict }[] = [];
  const seen = new Set<PDFRef>();
  const stack: PDFObject[] = root ? [root] : [];
  while (stack.length > 0 && seen.size < MAX_TREE_NODES) {
    const ref = stack.pop()!;
    if (!(ref instanceof PDFRef) || seen.has(ref)) continue;
    seen.add(ref);
    const node = context.lookup(ref);
    if (!(node instanceof PDFDict)) continue;
    const kids = node.get(PDFName.of('Kids'));
    const list = kids instanceof PDFRef ? context.lookup(kids) : kids;
    if (list instanceof PDFArray) stack.push(...list.asArray().reverse());
    else if (node.get(PDFName.of('Type')) !== PDFName.of('Pages')) pages.push({ ref, dict: node });
  }
  return pages;
}
