// A small SOAP 1.2 client for ONVIF services: WS-Security UsernameToken digest (using the device's
// clock, because devices reject a Created time outside their window), HTTP Digest when the device
// answers 401, timeouts on every request, and faults turned into OnvifError codes.
import * as http from 'node:http';
import * as https from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { OnvifError, fromSocketError } from './errors';
import { digestAuthorization, parseDigestChallenge } from './http-digest';
import { parseXml, path, text, child, XmlDtdError, type XmlNode, type XmlValue } from './xml';
import type { Credentials } from '../credentials';

// Re-exported for code that imported it from here before it moved to lib/credentials.ts.
export type { Credentials } from '../credentials';

export interface SoapOptions {
  credentials?: Credentials;
  /** Device clock minus ours (ms), from GetSystemDateAndTime. */
  clockOffsetMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Largest reply we accept (default MAX_REPLY_BYTES); guards against a device streaming garbage forever. */
  maxBytes?: number;
  /**
   * https: accept a self-signed (unverifiable) certificate. Off by default: it gives up the proof
   * that we talk to the right device; a per-source opt-in for HTTPS-only cameras/NVRs.
   */
  acceptSelfSigned?: boolean;
  /** false: no WS-Security header (HTTP Digest only, when challenged). Default true. */
  wsSecurity?: boolean;
  /** Filled in with the authentication that the device accepted (for the capability check). */
  authUsed?: { mode?: AuthMode };
}

/**
 * Largest SOAP reply read by default. Parsing costs ~0.1 s per MB on the main thread (measured on
 * the 2-core dev machine), and a 256-channel NVR's GetProfiles is ~0.5 MB: 2 MB bounds the stall.
 */
export const MAX_REPLY_BYTES = 2 * 1024 * 1024;

/** How a request got through: none needed, WS-Security alone, HTTP Digest (with WS-Security), or
 * HTTP Basic (only with the source's opt-in). */
export type AuthMode = 'none' | 'ws-security' | 'http-digest' | 'http-basic';

const NS = [
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope"',
  'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"',
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl"',
  'xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"',
  'xmlns:tse="http://www.onvif.org/ver10/search/wsdl"',
  'xmlns:trc="http://www.onvif.org/ver10/recording/wsdl"',
  'xmlns:trp="http://www.onvif.org/ver10/replay/wsdl"',
  'xmlns:tt="http://www.onvif.org/ver10/schema"',
].join(' ');

export function wsSecurityHeader(cred: Credentials, clockOffsetMs = 0): string {
  const nonce = randomBytes(16);
  const created = new Date(Date.now() + clockOffsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const digest = createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(cred.password)]))
    .digest('base64');
  const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string);
  return (
    '<s:Header><wsse:Security s:mustUnderstand="1" ' +
    'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ' +
    'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">' +
    `<wsse:UsernameToken><wsse:Username>${esc(cred.user)}</wsse:Username>` +
    '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">' +
    `${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>`
  );
}

export function envelope(body: string, header = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${NS}>${header}<s:Body>${body}</s:Body></s:Envelope>`;
}

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every WWW-Authenticate header, one entry each (Node would join them with ", "). */
  authenticate: string[];
  body: string;
}

export function httpPost(url: string, payload: string, headers: Record<string, string>, o: SoapOptions): Promise<RawReply> {
  const where = safeUrl(url);
  // An already-aborted signal never fires 'abort': refuse before opening a request (e.g. a spent
  // discovery budget), which would otherwise run to its own timeout.
  if (o.signal?.aborted) return Promise.reject(new OnvifError('timeout', `${where}: aborted`));
  return new Promise((resolve, reject) => {
    const timeoutMs = o.timeoutMs ?? 10_000;
    const maxBytes = o.maxBytes ?? MAX_REPLY_BYTES;
    let settled = false;
    const finish = (err: Error | null, reply?: RawReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(reply as RawReply);
    };
    const reqOpts: https.RequestOptions = {
      method: 'POST',
      headers: { 'Content-Type': 'application/soap+xml; charset=utf-8', 'Content-Length': Buffer.byteLength(payload), ...headers },
      agent: false,
    };
    // https XAddrs (HTTPS-only devices): verified by default; self-signed only when the source opts in.
    const req = url.startsWith('https:') ? https.request(url, { ...reqOpts, rejectUnauthorized: !o.acceptSelfSigned }) : http.request(url, reqOpts);
    let connected = false;
    let responded = false;
    req.on('socket', (sock) => sock.once('connect', () => (connected = true)));
    // A certificate we refuse is a TLS error after connecting: say what to change.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(err.code ?? '')) {
        finish(
          new OnvifError(
            'auth',
            `${where}: the device's TLS certificate is not trusted (${err.code}); enable "accept self-signed certificate" for this source if you trust it`,
          ),
        );
      }
    });
    const timer = setTimeout(() => {
      req.destroy();
      // Something accepted the connection but never spoke HTTP: a vendor SDK port, not ONVIF.
      // Headers that arrived say it is HTTP, only stuck: that is a timeout.
      finish(
        responded
          ? new OnvifError('timeout', `${where}: the reply did not complete within ${timeoutMs} ms`)
          : connected
            ? new OnvifError('not-onvif', `${where}: accepted the connection but sent no HTTP reply within ${timeoutMs} ms (not an ONVIF service)`)
            : new OnvifError('timeout', `${where}: no answer within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const onAbort = () => {
      req.destroy();
      finish(new OnvifError('timeout', `${where}: aborted`));
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => finish(responded ? cutReply(where) : fromSocketError(err, where)));
    req.on('response', (res) => {
      responded = true;
      // A declared length over the limit is refused before reading any of it.
      if (Number(res.headers['content-length']) > maxBytes) {
        req.destroy();
        finish(new OnvifError('protocol', `${where}: reply larger than ${maxBytes} bytes (Content-Length ${res.headers['content-length']})`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy();
          finish(new OnvifError('protocol', `${where}: reply larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      // After the status line it is HTTP; a reset now is a cut reply, not a non-ONVIF port.
      res.on('error', () => finish(cutReply(where)));
      res.on('end', () =>
        finish(null, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          authenticate: res.headersDistinct['www-authenticate'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(payload);
  });
}

const cutReply = (where: string) => new OnvifError('protocol', `${where}: the device closed the connection in the middle of the reply`);

/** The URL without user info, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

function faultToError(fault: XmlValue, where: string, status: number): OnvifError {
  const codes: string[] = [];
  let code: XmlValue = child(fault, 'Code');
  while (code !== undefined) {
    const v = text(child(code, 'Value'));
    if (v) codes.push(v.replace(/^.*:/, ''));
    code = child(code, 'Subcode');
  }
  const reason = text(path(fault, 'Reason', 'Text')) ?? text(child(fault, 'faultstring')) ?? codes.join('/');
  const all = `${codes.join(' ')} ${reason}`;
  let kind: OnvifError['code'] = 'protocol';
  if (/time|clock|expired/i.test(reason) && /NotAuthorized|FailedAuthentication|Sender/i.test(all)) kind = 'clock-skew';
  else if (/NotAuthorized|FailedAuthentication|InvalidSecurity|authority|authoriz|authentic|password/i.test(all)) kind = 'auth';
  return new OnvifError(
    kind,
    `${where}: ${kind === 'auth' ? 'authentication failed — ' : kind === 'clock-skew' ? 'time check failed — ' : 'SOAP fault '}${reason}`,
    {
      fault: codes.join('/'),
      status,
    },
  );
}

/**
 * Call one ONVIF operation. `body` is the inner XML of s:Body (with prefixes from NS above).
 * Returns the parsed Body element.
 */
export async function soapCall(url: string, body: string, o: SoapOptions = {}): Promise<XmlNode> {
  const where = safeUrl(url);
  const useWsse = o.credentials !== undefined && o.wsSecurity !== false;
  const header = useWsse && o.credentials ? wsSecurityHeader(o.credentials, o.clockOffsetMs) : '';
  let reply = await httpPost(url, envelope(body, header), {}, o);
  if (o.authUsed) o.authUsed.mode = useWsse ? 'ws-security' : 'none';
  if (reply.status === 401) {
    if (!o.credentials) throw new OnvifError('auth', `${where}: the device requires a user name and password`, { status: 401 });
    const auth = httpAuthorization(reply.authenticate, o.credentials, new URL(url).pathname, where);
    // Both at once: devices that check WS-Security after Digest get what they need.
    reply = await httpPost(url, envelope(body, useWsse ? wsSecurityHeader(o.credentials, o.clockOffsetMs) : ''), { Authorization: auth }, o);
    if (reply.status === 401) throw new OnvifError('auth', `${where}: authentication failed — wrong user name or password (HTTP 401)`, { status: 401 });
    if (o.authUsed) o.authUsed.mode = auth.startsWith('Basic ') ? 'http-basic' : 'http-digest';
  }
  let doc: XmlNode;
  try {
    doc = parseXml(reply.body);
  } catch (e) {
    if (e instanceof XmlDtdError) throw new OnvifError('protocol', `${where}: ${e.message}`, { status: reply.status });
    throw new OnvifError('not-onvif', `${where}: HTTP ${reply.status} with a reply that is not XML`, { status: reply.status });
  }
  const env = child(doc, 'Envelope');
  const bodyNode = child(env, 'Body');
  if (bodyNode === undefined || typeof bodyNode !== 'object' || Array.isArray(bodyNode)) {
    if (reply.status === 403) throw new OnvifError('auth', `${where}: access denied (HTTP 403)`, { status: 403 });
    throw new OnvifError('not-onvif', `${where}: HTTP ${reply.status} without a SOAP envelope`, { status: reply.status });
  }
  const fault = child(bodyNode, 'Fault');
  if (fault !== undefined) throw faultToError(fault, where, reply.status);
  if (reply.status >= 400) throw new OnvifError('protocol', `${where}: HTTP ${reply.status}`, { status: reply.status });
  return bodyNode;
}

/**
 * The Authorization header answering a 401: Digest (SHA-256 preferred when offered next to MD5);
 * Basic only when the device offers nothing else and the source opted in.
 */
function httpAuthorization(authenticate: string[], cred: Credentials, uri: string, where: string): string {
  const digests = authenticate.map((h) => parseDigestChallenge(h)).filter((c): c is NonNullable<typeof c> => c !== undefined);
  const ch = digests.find((c) => /^SHA-256/i.test(c.algorithm ?? '')) ?? digests[0];
  if (ch) return digestAuthorization(ch, cred, 'POST', uri);
  if (authenticate.some((h) => /^\s*Basic\b/i.test(h))) {
    if (!cred.allowBasicAuth) {
      throw new OnvifError(
        'auth',
        `${where}: the device offers only HTTP Basic authentication, which sends the password in clear text; turn on "allow Basic authentication" (allowBasicAuth) for this source to use it`,
        { status: 401 },
      );
    }
    return 'Basic ' + Buffer.from(`${cred.user}:${cred.password}`).toString('base64');
  }
  throw new OnvifError('auth', `${where}: authentication failed (HTTP 401)`, { status: 401 });
}
