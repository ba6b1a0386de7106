// Authentication like real ONVIF devices: WS-Security UsernameToken (digest checked against the
// device clock, nonces not reusable) or HTTP Digest (RFC 7616, MD5, qop=auth).
// A bad WS-Security token gets HTTP 400 + ter:NotAuthorized; a missing/bad Digest gets 401.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SoapFault, child, text, textAt, attr, type XmlNode } from './soap-envelope';
import type { SimAuth } from './types';

export const REALM = 'VTrack Simulator';
/** Allowed difference between a token's Created time and the device clock. */
export const CREATED_WINDOW_MS = 30_000;
const DIGEST_NONCE_TTL_MS = 5 * 60_000;
const PASSWORD_DIGEST_TYPE = '#PasswordDigest';

export type AuthOutcome =
  | { ok: true; method: 'none' | 'ws-security' | 'http-digest' | 'http-basic' }
  | { ok: false; status: 400; fault: SoapFault }
  | { ok: false; status: 401; challenge: string };

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SoapAuthenticator {
  private readonly usedNonces = new Map<string, number>();
  private readonly digestNonces = new Map<string, number>();

  constructor(
    private readonly auth: SimAuth | undefined,
    /** Device clock (real clock + configured offset). */
    private readonly deviceNow: () => Date,
    /** Quirk basic-auth: only HTTP Basic opens the device (WS-Security and Digest are ignored). */
    private readonly basicOnly = false,
  ) {}

  get required(): boolean {
    return this.auth !== undefined;
  }

  check(req: IncomingMessage, header: XmlNode): AuthOutcome {
    if (!this.auth) return { ok: true, method: 'none' };
    if (this.basicOnly) {
      const h = req.headers.authorization ?? '';
      const given = /^basic /i.test(h) ? Buffer.from(h.slice(6).trim(), 'base64').toString() : undefined;
      if (given !== undefined && sameText(given, `${this.auth.user}:${this.auth.password}`)) return { ok: true, method: 'http-basic' };
      return { ok: false, status: 401, challenge: `Basic realm="${REALM}"` };
    }
    const token = child(child(header, 'Security'), 'UsernameToken');
    let wsFault: SoapFault | undefined;
    if (token) {
      wsFault = this.checkUsernameToken(token, this.auth);
      if (!wsFault) return { ok: true, method: 'ws-security' };
    }
    const authorization = req.headers.authorization;
    if (authorization && this.checkDigest(authorization, req.method ?? 'POST', this.auth)) return { ok: true, method: 'http-digest' };
    if (wsFault && !authorization) return { ok: false, status: 400, fault: wsFault };
    return { ok: false, status: 401, challenge: this.challenge() };
  }

  /** WWW-Authenticate value with a fresh server nonce. */
  challenge(): string {
    const nonce = randomBytes(16).toString('hex');
    this.prune(this.digestNonces);
    this.digestNonces.set(nonce, Date.now() + DIGEST_NONCE_TTL_MS);
    return `Digest realm="${REALM}", qop="auth", nonce="${nonce}", algorithm=MD5, stale=FALSE`;
  }

  private prune(m: Map<string, number>): void {
    const now = Date.now();
    for (const [k, exp] of m) if (exp <= now) m.delete(k);
  }

  private checkUsernameToken(token: XmlNode, auth: SimAuth): SoapFault | undefined {
    const notAuthorized = (why: string): SoapFault => new SoapFault('Sender', ['ter:NotAuthorized'], `Sender not authorized: ${why}`);
    const user = textAt(token, 'Username');
    const pw = child(token, 'Password');
    const nonceB64 = textAt(token, 'Nonce');
    const created = textAt(token, 'Created');
    const type = attr(pw, 'Type') ?? '';
    if (user !== auth.user) return notAuthorized('the security token could not be authenticated');
    if (!type.endsWith(PASSWORD_DIGEST_TYPE)) {
      // PasswordText: accepted as many devices do, compared in constant time.
      return sameText(text(pw), auth.password) ? undefined : notAuthorized('the security token could not be authenticated');
    }
    if (!nonceB64 || !created) return notAuthorized('UsernameToken without Nonce or Created');
    const createdAt = new Date(created).getTime();
    if (Number.isNaN(createdAt)) return notAuthorized('Created is not a valid time');
    const skew = createdAt - this.deviceNow().getTime();
    if (Math.abs(skew) > CREATED_WINDOW_MS) {
      return notAuthorized(
        `time check failed: Created ${created} differs from the device clock by ${Math.round(skew / 1000)} s (allowed ±${CREATED_WINDOW_MS / 1000} s)`,
      );
    }
    const nonce = Buffer.from(nonceB64, 'base64');
    const expected = createHash('sha1')
      .update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(auth.password)]))
      .digest('base64');
    if (!sameText(text(pw), expected)) return notAuthorized('the security token could not be authenticated');
    this.prune(this.usedNonces);
    if (this.usedNonces.has(nonceB64)) return notAuthorized('nonce already used (replayed request)');
    this.usedNonces.set(nonceB64, Date.now() + 2 * CREATED_WINDOW_MS);
    return undefined;
  }

  private checkDigest(header: string, method: string, auth: SimAuth): boolean {
    if (!/^Digest\s/i.test(header)) return false;
    const p = parseDigestParams(header.slice(header.indexOf(' ') + 1));
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
    if (!username || !nonce || !uri || !response || username !== auth.user || realm !== REALM) return false;
    this.prune(this.digestNonces);
    if (!this.digestNonces.has(nonce)) return false;
    const alg = (p.algorithm ?? 'MD5').toUpperCase();
    if (alg !== 'MD5') return false;
    const ha1 = md5(`${auth.user}:${REALM}:${auth.password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected = qop === 'auth' && nc && cnonce ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    return sameText(response.toLowerCase(), expected);
  }
}

/** key=value / key="value" pairs of a Digest header. */
export function parseDigestParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return out;
}
