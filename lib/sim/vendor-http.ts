// HTTP Digest for the vendor simulators (Hikvision ISAPI, Dahua CGI), with the account lockout both
// vendors have: after `lockAfter` rejected logins the account is locked for `lockMs`, and every
// request gets the vendor's lock answer until then. Counts what specs check (logins attempted).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDigestParams } from './soap-auth';
import type { SimAuth } from './types';

export interface VendorGateOptions {
  auth?: SimAuth;
  realm: string;
  /** Challenges offered, in order (Hikvision offers SHA-256 and MD5 on newer firmware). */
  algorithms: Array<'MD5' | 'SHA-256'>;
  lockAfter: number;
  lockMs: number;
  /** The body (and content type) of a 401 while locked, for `secondsLeft`. */
  lockedAnswer(secondsLeft: number): { contentType: string; body: string };
  /** The body of a plain 401. */
  unauthorizedBody: string;
}

export interface VendorGateStats {
  /** Requests that carried an Authorization header. */
  credentialed: number;
  /** Of those, rejected (wrong password). */
  rejected: number;
}

const NONCE_TTL_MS = 5 * 60_000;

export class VendorDigestGate {
  readonly stats: VendorGateStats = { credentialed: 0, rejected: 0 };
  private readonly nonces = new Map<string, number>();
  private failures = 0;
  private lockedUntil = 0;

  constructor(private readonly o: VendorGateOptions) {}

  /** True when the request may proceed; otherwise the 401 has been sent. */
  check(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.o.auth) return true;
    const now = Date.now();
    const header = req.headers.authorization;
    if (header) this.stats.credentialed++;
    if (now < this.lockedUntil) {
      const a = this.o.lockedAnswer(Math.ceil((this.lockedUntil - now) / 1000));
      this.send401(res, a.contentType, a.body, false);
      return false;
    }
    if (!header || !/^Digest\s/i.test(header)) {
      this.send401(res, 'application/xml', this.o.unauthorizedBody, false);
      return false;
    }
    const p = parseDigestParams(header.slice(header.indexOf(' ') + 1));
    for (const [k, exp] of this.nonces) if (exp <= now) this.nonces.delete(k);
    if (!p.nonce || !this.nonces.has(p.nonce)) {
      // Unknown or expired nonce: not a failed login (RFC 7616 stale).
      this.send401(res, 'application/xml', this.o.unauthorizedBody, true);
      return false;
    }
    if (this.valid(p, req.method ?? 'GET')) {
      this.failures = 0;
      return true;
    }
    this.stats.rejected++;
    if (++this.failures >= this.o.lockAfter) {
      this.lockedUntil = now + this.o.lockMs;
      this.failures = 0;
      const a = this.o.lockedAnswer(Math.ceil(this.o.lockMs / 1000));
      this.send401(res, a.contentType, a.body, false);
      return false;
    }
    this.send401(res, 'application/xml', this.o.unauthorizedBody, false);
    return false;
  }

  private valid(p: Record<string, string>, method: string): boolean {
    const auth = this.o.auth as SimAuth;
    const alg = (p.algorithm ?? 'MD5').toUpperCase();
    if (!this.o.algorithms.some((a) => a === alg) || p.username !== auth.user || p.realm !== this.o.realm || !p.uri || !p.response) return false;
    const h = (s: string) =>
      createHash(alg === 'SHA-256' ? 'sha256' : 'md5')
        .update(s)
        .digest('hex');
    const ha1 = h(`${auth.user}:${this.o.realm}:${auth.password}`);
    const ha2 = h(`${method}:${p.uri}`);
    const expected = p.qop === 'auth' ? h(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`) : h(`${ha1}:${p.nonce}:${ha2}`);
    const a = Buffer.from(p.response.toLowerCase());
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private send401(res: ServerResponse, contentType: string, body: string, stale: boolean): void {
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, Date.now() + NONCE_TTL_MS);
    const challenges = this.o.algorithms.map(
      (alg) => `Digest realm="${this.o.realm}", qop="auth", nonce="${nonce}", algorithm=${alg}, stale=${stale ? 'TRUE' : 'FALSE'}`,
    );
    res.writeHead(401, { 'Content-Type': contentType, 'WWW-Authenticate': challenges, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** Writes a body in pieces with backpressure (a slow client pauses the simulator, as a real NVR). */
export async function writeAll(res: ServerResponse, chunks: Iterable<Buffer>, isClosed: () => boolean): Promise<void> {
  for (const c of chunks) {
    if (isClosed()) return;
    if (!res.write(c)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
}
