// RTSP authentication (RFC 2617 / RFC 7616 as used by RFC 2326): Digest with MD5, MD5-sess,
// SHA-256 or SHA-256-sess (with or without qop=auth), answering the server's WWW-Authenticate
// challenge. Basic sends the password in clear, so it is used only when the server offers nothing
// else and the caller opted in (allowBasicAuth).
import { randomBytes } from 'node:crypto';
import { digestResponse } from '../digest-response';
import { RtspError } from './errors';

export interface Challenge {
  scheme: 'digest' | 'basic';
  params: Map<string, string>;
}

const DIGEST_ALGORITHMS = ['SHA-256', 'SHA-256-SESS', 'MD5', 'MD5-SESS'];

/** Preference: Digest SHA-256, then Digest MD5, then Digest with an algorithm we lack, then Basic. */
function rank(c: Challenge): number {
  if (c.scheme === 'basic') return 4;
  const alg = (c.params.get('algorithm') ?? 'MD5').toUpperCase();
  return alg.startsWith('SHA-256') ? 0 : alg.startsWith('MD5') ? 1 : 3;
}

/** Parses one or more WWW-Authenticate header values (joined by "\n"), most preferred first. */
export function parseChallenges(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const line of (header ?? '').split('\n')) {
    const m = /^\s*(\w+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const scheme = m[1].toLowerCase();
    if (scheme !== 'digest' && scheme !== 'basic') continue;
    const params = new Map<string, string>();
    for (const p of m[2].matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) params.set(p[1].toLowerCase(), p[2] ?? p[3]);
    out.push({ scheme, params });
  }
  return out.sort((a, b) => rank(a) - rank(b));
}

/**
 * The challenge to answer, or undefined when the reply offers none we know. A Basic-only server
 * is refused with an auth error naming the opt-in, unless `allowBasic`.
 */
export function chooseChallenge(header: string | undefined, allowBasic: boolean | undefined, where: string): Challenge | undefined {
  const ch = parseChallenges(header)[0];
  if (ch?.scheme === 'basic' && !allowBasic) {
    throw new RtspError(
      'auth',
      `${where}: the server offers only RTSP Basic authentication, which sends the password in clear text; turn on "allow Basic authentication" (allowBasicAuth) for this source to use it`,
      401,
    );
  }
  return ch;
}

export class Authenticator {
  private nc = 0;
  private readonly cnonce = randomBytes(8).toString('hex');

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly challenge: Challenge,
  ) {}

  header(method: string, uri: string): string {
    if (this.challenge.scheme === 'basic') {
      return 'Basic ' + Buffer.from(`${this.user}:${this.password}`).toString('base64');
    }
    const p = this.challenge.params;
    const realm = p.get('realm') ?? '';
    const nonce = p.get('nonce') ?? '';
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
    if (!DIGEST_ALGORITHMS.includes(algorithm)) throw new RtspError('auth', `unsupported digest algorithm ${algorithm}`, 401);
    const qop = (p.get('qop') ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes('auth')
      ? 'auth'
      : undefined;
    const nc = qop ? (++this.nc).toString(16).padStart(8, '0') : '';
    const hash = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
    const response = digestResponse({
      hash,
      sess: algorithm.endsWith('-SESS'),
      user: this.user,
      password: this.password,
      realm,
      nonce,
      method,
      uri,
      qop,
      nc,
      cnonce: this.cnonce,
    });
    let h = `Digest username="${this.user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}"`;
    if (qop) h += `, qop=${qop}, nc=${nc}, cnonce="${this.cnonce}"`;
    if (p.has('opaque')) h += `, opaque="${p.get('opaque')}"`;
    if (p.has('algorithm')) h += `, algorithm=${p.get('algorithm')}`;
    return h;
  }
}
