/**
 * A small strict XML 1.0 reader for the tests: it throws on anything not well-formed (unclosed or
 * crossed tags, a bad name, an unquoted or repeated attribute, an unknown entity, a bare & or <,
 * a character XML forbids, text outside the root) and returns the element tree.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text, entities resolved (not its descendants'). */
  text: string;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

function resolve(text: string, at: number): string {
  if (FORBIDDEN.test(text)) throw new Error(`a character XML forbids near ${at}`);
  return text.replace(/&([^;&<]*);|&/g, (whole, name: string | undefined) => {
    if (name === undefined) throw new Error(`a bare & near ${at}`);
    if (/^#x[0-9a-fA-F]+$/.test(name)) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (/^#[0-9]+$/.test(name)) return String.fromCodePoint(parseInt(name.slice(1), 10));
    const value = ENTITIES[name];
    if (value === undefined) throw new Error(`unknown entity ${whole} near ${at}`);
    return value;
  });
}

export function parseXml(source: string): XmlElement {
  let pos = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at ${pos}: ${JSON.stringify(source.slice(pos, pos + 40))}`);
  };
  const name = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(source);
    if (!m) fail('a name expected');
    pos = NAME.lastIndex;
    return m![0];
  };
  const space = () => {
    while (/\s/.test(source[pos] ?? '')) pos++;
  };
  // Prolog: the declaration, comments, a DOCTYPE without an internal subset.
  if (source.startsWith('<?xml')) pos = source.indexOf('?>') + 2;
  for (;;) {
    space();
    if (source.startsWith('<!--', pos)) pos = source.indexOf('-->', pos) + 3;
    else if (source.startsWith('<!DOCTYPE', pos)) {
      const end = source.indexOf('>', pos);
      if (source.slice(pos, end).includes('[')) fail('an internal DTD subset');
      pos = end + 1;
    } else break;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (pos < source.length) {
    if (stack.length === 0) {
      space();
      if (pos >= source.length) break;
      if (root) fail('content after the root element');
    }
    if (source.startsWith('<!--', pos)) {
      const end = source.indexOf('-->', pos);
      if (end < 0) fail('an unclosed comment');
      pos = end + 3;
    } else if (source.startsWith('</', pos)) {
      pos += 2;
      const closing = name();
      space();
      if (source[pos] !== '>') fail('> expected');
      pos++;
      const open = stack.pop();
      if (!open || open.name !== closing) fail(`</${closing}> closes <${open?.name}>`);
    } else if (source[pos] === '<') {
      pos++;
      const element: XmlElement = { name: name(), attributes: {}, children: [], text: '' };
      for (;;) {
        const before = pos;
        space();
        if (source[pos] === '>' || source.startsWith('/>', pos)) break;
        if (pos === before) fail('white space expected before an attribute');
        const key = name();
        space();
        if (source[pos] !== '=') fail('= expected');
        pos++;
        space();
        const quote = source[pos];
        if (quote !== '"' && quote !== "'") fail('a quoted value expected');
        const end = source.indexOf(quote!, pos + 1);
        if (end < 0) fail('an unclosed attribute value');
        const raw = source.slice(pos + 1, end);
        if (raw.includes('<')) fail('< in an attribute value');
        if (Object.hasOwn(element.attributes, key)) fail(`attribute ${key} repeated`);
        element.attributes[key] = resolve(raw, pos);
        pos = end + 1;
      }
      if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
      else if (!root) root = element;
      if (source.startsWith('/>', pos)) pos += 2;
      else {
        pos++;
        stack.push(element);
      }
    } else {
      const end = source.indexOf('<', pos);
      const text = source.slice(pos, end < 0 ? source.length : end);
      if (text.includes(']]>')) fail(']]> in text');
      stack[stack.length - 1]!.text += resolve(text, pos);
      pos = end < 0 ? source.length : end;
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]!.name}> not closed`);
  if (!root) fail('no root element');
  return root!;
}

/** Every element of the tree, depth first. */
export function allElements(root: XmlElement): XmlElement[] {
  return [root, ...root.children.flatMap(allElements)];
}
