// Raw SOAP over HTTP for the simulator specs: independent of our ONVIF client, so the specs check
// the wire format itself. WS-Security and HTTP Digest are computed here from first principles.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { XMLParser } from 'fast-xml-parser';

export type Xml = Record<string, unknown>;

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseTagValue: false });

export function parseXml(xml: string): Xml {
  return parser.parse(xml) as Xml;
}

/** Every element with this local name anywhere below `node`, in document order. */
export function findAll(node: unknown, name: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    for (const [k, c] of Object.entries(v as Xml)) {
      if (k === name) (Array.isArray(c) ? c : [c]).forEach((x) => out.push(x));
      walk(c);
    }
  };
  walk(node);
  return out;
}

export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Xml)['#text'] === 'string') return (v as Xml)['#text'] as string;
  return '';
}

/** Text of the first element with this local name (or ''). */
export function first(node: unknown, name: string): string {
  return textOf(findAll(node, name)[0]);
}

export function attrOf(v: unknown, name: string): string | undefined {
  if (v && typeof v === 'object') {
    const a = (v as Xml)[`@_${name}`];
    return typeof a === 'string' ? a : undefined;
  }
  return undefined;
}

export interface WsseOptions {
  user: string;
  password: string;
  /** Override the Created time (to test clock checks). */
  created?: Date;
  /** Override the nonce bytes (to test replay protection). */
  nonce?: Buffer;
}

export function wsseHeader(o: WsseOptions): string {
  const nonce = o.nonce ?? randomBytes(16);
  const created = (o.created ?? new Date()).toISOString();
  const digest = createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(o.password)]))
    .digest('base64');
  return (
    '<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ' +
    'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>' +
    `<wsse:Username>${o.user}</wsse:Username>` +
    `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

export function soapEnvelope(body: string, header = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:tt="http://www.onvif.org/ver10/schema">' +
    `<s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`
  );
}

export interface SoapReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  xml: string;
  doc: Xml;
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<SoapReply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'Content-Type': 'application/soap+xml; charset=utf-8', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const xml = Buffer.concat(chunks).toString('utf8');
          let doc: Xml = {};
          try {
            doc = parseXml(xml);
          } catch {
            // Non-XML bodies (404 text) stay visible through `xml`.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, xml, doc });
        });
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error(`timeout waiting for ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface CallOptions {
  wsse?: WsseOptions;
  /** Answer a 401 challenge with HTTP Digest using these credentials. */
  digest?: { user: string; password: string };
  /** Raw extra HTTP headers. */
  headers?: Record<string, string>;
}

/** POST a SOAP body (already namespaced) to a service URL. */
export async function soapCall(url: string, body: string, o: CallOptions = {}): Promise<SoapReply> {
  const xml = soapEnvelope(body, o.wsse ? wsseHeader(o.wsse) : '');
  const reply = await post(url, xml, o.headers);
  if (reply.status !== 401 || !o.digest) return reply;
  const challenge = String(reply.headers['www-authenticate'] ?? '');
  return post(url, xml, { ...o.headers, Authorization: digestAuthorization(challenge, o.digest, 'POST', new URL(url).pathname) });
}

export function digestAuthorization(challenge: string, cred: { user: string; password: string }, method: string, uri: string): string {
  const p: Record<string, string> = {};
  for (const m of challenge.matchAll(/(\w+)="?([^",]*)"?/g)) p[m[1]] = m[2];
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
  const nc = '00000001';
  const cnonce = randomBytes(8).toString('hex');
  const ha1 = md5(`${cred.user}:${p.realm}:${cred.password}`);
  const ha2 = md5(`${method}:${uri}`);
  const response = md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${cred.user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", algorithm=MD5`;
}

export function serviceUrlOf(xaddr: string, service: 'device' | 'media' | 'media2' | 'search' | 'recording' | 'replay'): string {
  return xaddr.replace('/onvif/device_service', `/onvif/${service}_service`);
}

export function faultSubcodes(doc: Xml): string[] {
  const fault = findAll(doc, 'Fault')[0];
  return findAll(findAll(fault, 'Code')[0], 'Value').map(textOf);
}
