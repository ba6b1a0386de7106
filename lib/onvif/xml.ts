// XML parsing for SOAP replies. Namespace prefixes differ between vendors, so we strip them and
// match on local names; attributes are kept under "@_" (e.g. token="...").
import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false, // keep "0001" and "true" as strings; we convert where we know the type
  parseAttributeValue: false,
  trimValues: true,
});

export type XmlNode = { [key: string]: XmlValue };
export type XmlValue = string | XmlNode | XmlValue[] | undefined;

/** A reply carrying a DTD: refused before parsing (see parseXml). */
export class XmlDtdError extends Error {
  constructor() {
    super('XML with a document type declaration (DTD) is refused: SOAP forbids DTDs, and their entities could expand without bound');
    this.name = 'XmlDtdError';
  }
}

export function parseXml(text: string): XmlNode {
  // SOAP 1.2 (part 1, 5) forbids a DTD in a message, and fast-xml-parser expands entities declared
  // in one (within its own limits). Refusing any "<!D..." (DOCTYPE; the parser's trigger) or
  // "<!ENTITY" first means a reply can carry no entity of its own: only the five XML built-ins
  // are ever replaced.
  if (/<!\s*(?:D|ENTITY)/i.test(text)) throw new XmlDtdError();
  return parser.parse(text) as XmlNode;
}

/** Child element by local name (first one if repeated). */
export function child(node: XmlValue, name: string): XmlValue {
  if (node === undefined || typeof node === 'string') return undefined;
  if (Array.isArray(node)) return child(node[0], name);
  return node[name];
}

/** Follow a path of local names. */
export function path(node: XmlValue, ...names: string[]): XmlValue {
  let cur = node;
  for (const n of names) cur = child(cur, n);
  return cur;
}

/** Every element with this name under node, as an array (absent → []). */
export function all(node: XmlValue, name: string): XmlValue[] {
  const v = child(node, name);
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Text content of an element (handles elements that also carry attributes). */
export function text(node: XmlValue): string | undefined {
  if (node === undefined) return undefined;
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return text(node[0]);
  const t = node['#text'];
  return typeof t === 'string' ? t : t === undefined ? undefined : String(t);
}

export function attr(node: XmlValue, name: string): string | undefined {
  if (node === undefined || typeof node === 'string') return undefined;
  if (Array.isArray(node)) return attr(node[0], name);
  const v = node[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

export function num(node: XmlValue): number | undefined {
  const t = text(node);
  if (t === undefined || t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}
