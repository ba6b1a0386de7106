// HTTP with Digest auth for the vendor APIs (Hikvision ISAPI, Dahua CGI). One client per device and
// pass. Both vendors lock the account for ~30 min after ~4–5 failed logins (Hikvision: public ISAPI
// userCheck answers with lockStatus/unlockTime; Dahua: rroller/dahua and the Dahua HTTP API guide
// warn about it), so a 401 after we sent credentials is final: no retry with the same password,
// and every later call of this client fails at once without touching the device.
// Digest math is lib/digest-response.ts via lib/onvif/http-digest.ts (MD5, SHA-256, -sess).
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from '../onvif/http-digest';
import { VendorError, WRONG_PASSWORD } from './errors';
import { errorMessage } from '../errors';
import type { Credentials } from '../credentials';

export interface VendorHttpOptions extends Partial<Credentials> {
  host: string;
  port: number;
  /** Whole request (headers and body) for API calls. Default 10 s. */
  timeoutMs?: number;
  /** Largest API answer we read into memory. Default 4 MB. */
  maxBodyBytes?: number;
  /** Streams: fail when no byte arrives for this long. Default 30 s. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  /** Speak HTTPS (default: on port 443, as HTTPS-only recorders serve their API there). */
  https?: boolean;
  /** HTTPS: accept a self-signed certificate (the source's opt-in; off: it must verify). */
  acceptSelfSigned?: boolean;
  /** Counts requests that carried credentials (specs check "exactly one login attempt"). */
  onCredentialedRequest?(): void;
}

/** VendorHttpOptions that can be sent to a worker thread. */
export type VendorConnection = Omit<VendorHttpOptions, 'signal' | 'onCredentialedRequest'>;

export interface VendorResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  body?: string | Buffer;
  contentType?: string;
  timeoutMs?: number;
  /** Statuses the caller handles itself (not turned into errors). */
  accept?: number[];
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BODY = 4 << 20;
const DEFAULT_IDLE_MS = 30_000;

export class VendorHttp {
  private challenge?: DigestChallenge;
  private basic = false;
  private nc = 0;
  /** Set by the first rejected login: this client never sends credentials again. */
  private authFailure?: VendorError;
  readonly base: string;
  private readonly tls: boolean;

  constructor(readonly o: VendorHttpOptions) {
    this.tls = o.https ?? o.port === 443;
    this.base = `${this.tls ? 'https' : 'http'}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
  }

  /** The rejected or locked login that ended this client, if any. */
  get loginFailure(): VendorError | undefined {
    return this.authFailure;
  }

  /** Another client with the same credentials (a download worker's) had its login rejected or
   * locked: this one must not try again either (the lockout counter). */
  noteLoginFailure(e: VendorError): void {
    this.authFailure ??= e;
  }

  /** The options another thread's client needs: all but the signal and the callback, which cannot
   * cross (so an option added later, like https and acceptSelfSigned were, crosses too). */
  connectionOptions(): VendorConnection {
    const { signal: _signal, onCredentialedRequest: _onCredentialedRequest, ...conn } = this.o;
    return conn;
  }

  /** An API call whose answer is read into memory (bounded by maxBodyBytes). */
  async request(method: string, path: string, ro: RequestOptions = {}): Promise<VendorResponse> {
    const res = await this.send(method, path, ro);
    const body = await readBounded(res, this.o.maxBodyBytes ?? DEFAULT_MAX_BODY, `${method} ${path}`);
    return this.checkStatus({ status: res.statusCode ?? 0, headers: res.headers, body }, method, path, ro.accept);
  }

  /** A download: the response body as a stream, read at the caller's pace (its backpressure
   * pauses the socket). Fails when the device goes quiet for idleTimeoutMs. */
  async stream(method: string, path: string, ro: RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Readable }> {
    const res = await this.send(method, path, { ...ro, timeoutMs: ro.timeoutMs ?? this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS }, true);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const body = await readBounded(res, 64 << 10, `${method} ${path}`).catch(() => Buffer.alloc(0));
      this.checkStatus({ status, headers: res.headers, body }, method, path, []);
    }
    return { status, headers: res.headers, body: res };
  }

  private checkStatus(r: VendorResponse, method: string, path: string, accept: number[] = []): VendorResponse {
    if ((r.status >= 200 && r.status < 300) || accept.includes(r.status)) return r;
    if (r.status === 404) throw new VendorError('not-vendor', `${method} ${stripQuery(path)}: 404 (the device does not offer this API)`, { status: 404 });
    const text = r.body.toString('utf8');
    const locked = lockoutOf(r.status, text);
    if (locked) throw locked;
    if (isBusyAnswer(r.status, text))
      throw new VendorError('busy', `${method} ${stripQuery(path)}: the device is busy (HTTP ${r.status}${snippet(r.body)})`, { status: r.status });
    throw new VendorError('status', `${method} ${stripQuery(path)}: HTTP ${r.status}${snippet(r.body)}`, { status: r.status });
  }

  private async send(method: string, path: string, ro: RequestOptions, streaming = false): Promise<http.IncomingMessage> {
    if (this.authFailure) throw this.authFailure;
    let sentCredentials = false;
    let staleRetried = false;
    for (;;) {
      const auth =
        this.o.user === undefined
          ? undefined
          : this.challenge
            ? this.authorization(method, path)
            : this.basic
              ? `Basic ${Buffer.from(`${this.o.user}:${this.o.password ?? ''}`).toString('base64')}`
              : undefined;
      if (auth) {
        sentCredentials = true;
        this.o.onCredentialedRequest?.();
      }
      const res = await this.once(method, path, ro, auth, streaming);
      if (res.statusCode !== 401) return res;
      const body = (await readBounded(res, 64 << 10, `${method} ${path}`).catch(() => Buffer.alloc(0))).toString('utf8');
      const locked = lockoutOf(401, body);
      if (locked) {
        this.authFailure = locked;
        throw locked;
      }
      const challenges = res.headersDistinct['www-authenticate'] ?? [];
      const next = pickChallenge(challenges);
      if (this.o.user === undefined || this.o.password === undefined)
        throw new VendorError('auth', `${method} ${stripQuery(path)}: the device wants a login (none configured)`, { status: 401 });
      if (!next) {
        const basicOnly = challenges.some((c) => /^Basic/i.test(c));
        if (basicOnly && this.o.allowBasicAuth && !sentCredentials) {
          this.basic = true;
          continue;
        }
        if (basicOnly && sentCredentials) {
          this.authFailure = new VendorError('auth', WRONG_PASSWORD, { status: 401 });
          throw this.authFailure;
        }
        throw new VendorError(
          'auth',
          basicOnly
            ? 'the device offers only HTTP Basic authentication, which sends the password in clear text: enable Digest on the NVR, or turn on "allow Basic authentication" (allowBasicAuth) for this source'
            : `${method} ${stripQuery(path)}: 401 without a Digest challenge`,
          { status: 401 },
        );
      }
      const stale = challenges.some((c) => /stale\s*=\s*"?true/i.test(c));
      if (sentCredentials && !(stale && !staleRetried)) {
        // The password itself was rejected: final for this client (lockout counter).
        this.challenge = undefined;
        this.authFailure = new VendorError('auth', WRONG_PASSWORD, { status: 401 });
        throw this.authFailure;
      }
      // First contact, or our nonce expired (stale=true, RFC 7616 §3.3): not a failed login.
      if (sentCredentials) staleRetried = true;
      this.challenge = next;
      this.nc = 0;
    }
  }

  private authorization(method: string, path: string): string {
    const ch = this.challenge as DigestChallenge;
    return digestAuthorization(ch, { user: this.o.user ?? '', password: this.o.password ?? '' }, method, path, ++this.nc);
  }

  private once(method: string, path: string, ro: RequestOptions, auth: string | undefined, streaming: boolean): Promise<http.IncomingMessage> {
    const o = this.o;
    if (o.signal?.aborted) return Promise.reject(new VendorError('aborted', 'aborted'));
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { Accept: '*/*' };
      if (auth) headers.Authorization = auth;
      const body = ro.body === undefined ? undefined : Buffer.isBuffer(ro.body) ? ro.body : Buffer.from(ro.body, 'utf8');
      if (body) {
        headers['Content-Type'] = ro.contentType ?? 'application/xml';
        headers['Content-Length'] = body.length;
      }
      const req = this.tls
        ? https.request({ host: o.host, port: o.port, method, path, headers, agent: false, rejectUnauthorized: !o.acceptSelfSigned })
        : http.request({ host: o.host, port: o.port, method, path, headers, agent: false });
      const timeoutMs = ro.timeoutMs ?? o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      let settled = false;
      const fail = (e: VendorError) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new VendorError('timeout', `${method} ${stripQuery(path)}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => fail(new VendorError('aborted', 'aborted'));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
      };
      req.on('error', (e: NodeJS.ErrnoException) => fail(socketError(e, `${method} ${stripQuery(path)}`)));
      req.on('response', (res) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        clearTimeout(timer);
        if (streaming) {
          // A download: idle timeout instead of a total one; the abort signal still ends it.
          const idle = o.idleTimeoutMs ?? DEFAULT_IDLE_MS;
          res.socket.setTimeout(idle, () => res.destroy(new VendorError('timeout', `${method} ${stripQuery(path)}: the device sent nothing for ${idle} ms`)));
          o.signal?.removeEventListener('abort', onAbort);
          const onAbortStream = () => res.destroy(new VendorError('aborted', 'aborted'));
          o.signal?.addEventListener('abort', onAbortStream, { once: true });
          res.on('close', () => o.signal?.removeEventListener('abort', onAbortStream));
        } else {
          // API answers: the rest of the time budget covers the body too.
          const left = setTimeout(
            () => res.destroy(new VendorError('timeout', `${method} ${stripQuery(path)}: answer not complete within ${timeoutMs} ms`)),
            timeoutMs,
          );
          res.on('close', () => {
            clearTimeout(left);
            o.signal?.removeEventListener('abort', onAbort);
          });
        }
        resolve(res);
      });
      req.end(body);
    });
  }
}

/** Prefer SHA-256 when the device offers both (Hikvision sends one challenge per algorithm). */
function pickChallenge(headers: string[]): DigestChallenge | undefined {
  const digests = headers.map((h) => parseDigestChallenge(h)).filter((c): c is DigestChallenge => c !== undefined);
  return digests.find((c) => /^SHA-256/i.test(c.algorithm ?? '')) ?? digests[0];
}

/**
 * A lockout answer. Hikvision: a `userCheck` body with `<lockStatus>lock</lockStatus>` and
 * `<unlockTime>` seconds (the shape many public ISAPI clients test for, e.g. the hikvision_next and
 * centreon ISAPI integrations' users' logs). Dahua: we found no public capture of its wording; any
 * 401/403 body that says "lock" is taken as one (an unlock time in seconds is read if present).
 */
/** "All sessions taken": HTTP 503 / 429, or an ISAPI ResponseStatus with statusCode 2, which
 * Hikvision documents as "Device Busy" (open.hikvision.com, DEVICE_RESPONSE_STATUS). */
export function isBusyAnswer(status: number, body: string): boolean {
  return status === 503 || status === 429 || /<statusCode>\s*2\s*<\/statusCode>/.test(body);
}

export function lockoutOf(status: number, body: string, now = new Date()): VendorError | undefined {
  if (status !== 401 && status !== 403) return undefined;
  if (/<lockStatus>\s*lock\s*<\/lockStatus>/i.test(body)) {
    const m = /<unlockTime>\s*(\d+)\s*<\/unlockTime>/i.exec(body);
    return locked(m ? Number(m[1]) : undefined, now, status);
  }
  if (!/<lockStatus>/i.test(body) && /\block(ed)?\b/i.test(body)) {
    const m = /(\d+)\s*(?:s\b|sec|second)/i.exec(body);
    return locked(m ? Number(m[1]) : undefined, now, status);
  }
  return undefined;
}

function locked(sec: number | undefined, now: Date, status: number): VendorError {
  const unlockAt = sec !== undefined ? new Date(now.getTime() + sec * 1000) : undefined;
  const when = unlockAt ? ` until ${unlockAt.toISOString()} (${Math.ceil((sec ?? 0) / 60)} min)` : '';
  return new VendorError('locked', `the NVR has locked this account after failed logins${when}; not retrying before then`, {
    status,
    unlockAt,
    unlockInSec: sec,
  });
}

function socketError(e: NodeJS.ErrnoException, where: string): VendorError {
  if (e instanceof VendorError) return e;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(e.code ?? ''))
    return new VendorError(
      'protocol',
      `${where}: the device's TLS certificate is not trusted (${e.code}); enable "accept self-signed certificate" for this source if you trust it`,
    );
  switch (e.code) {
    case 'ECONNREFUSED':
      return new VendorError('unreachable', `${where}: connection refused`);
    case 'ETIMEDOUT':
      return new VendorError('timeout', `${where}: timed out`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new VendorError('unreachable', `${where}: host unreachable (${e.code})`);
    default:
      if (e.code?.startsWith('HPE_')) return new VendorError('not-vendor', `${where}: the port answered, but not with HTTP (${e.code})`);
      return new VendorError('unreachable', `${where}: ${errorMessage(e)}`);
  }
}

async function readBounded(res: http.IncomingMessage, max: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > max) {
        res.destroy();
        throw new VendorError('protocol', `${stripQuery(where)}: answer larger than ${max} bytes`);
      }
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof VendorError) throw e;
    throw socketError(e as NodeJS.ErrnoException, where);
  }
  return Buffer.concat(chunks);
}

/** The path for messages: the query left out (it may hold times and object ids), except a CGI action. */
function stripQuery(p: string): string {
  const i = p.indexOf('?');
  if (i < 0) return p;
  const action = /action=([\w.]+)/.exec(p)?.[1];
  return p.slice(0, i) + (action ? `?action=${action}` : '');
}

function snippet(b: Buffer): string {
  const t = b.toString('utf8', 0, Math.min(b.length, 200)).replace(/\s+/g, ' ').trim();
  return t ? ` (${t})` : '';
}
