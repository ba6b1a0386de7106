// SOAP 1.2 envelope parsing and building for the simulator. Clients pick their own namespace
// prefixes, so requests are read by local element names only; responses always use the prefixes
// declared once on the Envelope below.
import { XMLParser } from 'fast-xml-parser';
import { errorMessage } from '../errors';

export const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  tt: 'http://www.onvif.org/ver10/schema',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tr2: 'http://www.onvif.org/ver20/media/wsdl',
  tse: 'http://www.onvif.org/ver10/search/wsdl',
  trc: 'http://www.onvif.org/ver10/recording/wsdl',
  trp: 'http://www.onvif.org/ver10/replay/wsdl',
  ter: 'http://www.onvif.org/ver10/error',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  tns1: 'http://www.onvif.org/ver10/topics',
  xs: 'http://www.w3.org/2001/XMLSchema',
} as const;

/** A parsed XML element: attributes as "@_name", text as "#text", children by local name. */
export type XmlNode = { [key: string]: XmlValue };
export type XmlValue = string | XmlNode | XmlValue[];

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
});

export interface SoapRequest {
  /** Local name of the first Body child, e.g. "GetProfiles". */
  operation: string;
  /** That Body child. */
  body: XmlNode;
  /** The Header element (empty object when absent). */
  header: XmlNode;
}

export class SoapParseError extends Error {}

/** Parse a SOAP request; throws SoapParseError when it is not a SOAP envelope with a body. */
export function parseSoapRequest(xml: string): SoapRequest {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new SoapParseError(`malformed XML: ${errorMessage(err)}`);
  }
  const env = asNode(asNode(doc).Envelope);
  const bodyNode = env.Body;
  if (bodyNode === undefined) throw new SoapParseError('not a SOAP envelope (no Envelope/Body)');
  const body = asNode(bodyNode);
  const operation = Object.keys(body).find((k) => !k.startsWith('@_') && k !== '#text');
  if (!operation) throw new SoapParseError('empty SOAP Body');
  return { operation, body: asNode(first(body[operation])), header: asNode(env.Header) };
}

function first(v: XmlValue | undefined): XmlValue | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function asNode(v: unknown): XmlNode {
  const f = Array.isArray(v) ? v[0] : v;
  return f !== null && typeof f === 'object' ? (f as XmlNode) : {};
}

/** First child element by local name (or undefined). */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node) return undefined;
  const v = first(node[name]);
  if (v === undefined) return undefined;
  return typeof v === 'string' ? { '#text': v } : (v as XmlNode);
}

/** All child elements by local name. */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const v = node?.[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === 'string' ? { '#text': x } : (x as XmlNode)));
}

/** Text content of an element, trimmed; '' when absent. */
export function text(node: XmlNode | undefined): string {
  if (!node) return '';
  const t = node['#text'];
  return typeof t === 'string' ? t.trim() : '';
}

/** Text of a nested path of local names, e.g. textAt(body, 'StreamSetup', 'Stream'). */
export function textAt(node: XmlNode | undefined, ...path: string[]): string {
  let cur = node;
  for (const p of path) cur = child(cur, p);
  return text(cur);
}

export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** xs:dateTime in UTC, without a fractional part when it is zero. */
export function xsDateTime(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}

/** xs:duration (PnDTnHnMnS subset, as ONVIF clients send it) → milliseconds, or undefined. */
export function parseXsDuration(s: string): number | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(s.trim());
  if (!m || s.trim() === 'P' || s.trim().endsWith('T')) return undefined;
  const [, d, h, min, sec] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(sec ?? 0) * 1000;
}

export function parseXsDateTime(s: string): Date | undefined {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function envelope(bodyXml: string): string {
  const decls = Object.entries(NS)
    .map(([p, uri]) => `xmlns:${p}="${uri}"`)
    .join(' ');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope ${decls}><s:Body>${bodyXml}</s:Body></s:Envelope>`;
}

/** A SOAP fault to throw from an operation; the server turns it into the HTTP reply. */
export class SoapFault extends Error {
  constructor(
    readonly code: 'Sender' | 'Receiver',
    /** Subcode chain, outermost first, e.g. ['ter:InvalidArgVal', 'ter:NoProfile']. */
    readonly subcodes: string[],
    readonly reason: string,
    /** HTTP status; SOAP 1.2 says 400 for Sender and 500 for Receiver faults. */
    readonly httpStatus: number = code === 'Sender' ? 400 : 500,
  ) {
    super(reason);
  }
}

export function faultXml(f: SoapFault): string {
  let sub = '';
  for (let i = f.subcodes.length - 1; i >= 0; i--) {
    sub = `<s:Subcode><s:Value>${esc(f.subcodes[i])}</s:Value>${sub}</s:Subcode>`;
  }
  return envelope(
    `<s:Fault><s:Code><s:Value>s:${f.code}</s:Value>${sub}</s:Code>` + `<s:Reason><s:Text xml:lang="en">${esc(f.reason)}</s:Text></s:Reason></s:Fault>`,
  );
}

export const invalidArg = (what: string, subcode: string): SoapFault => new SoapFault('Sender', ['ter:InvalidArgVal', subcode], what);
