// RTSP authentication (RFC 2617 / RFC 7616 as used by RFC 2326): Digest (SHA-256 preferred over
// MD5, -sess variants, with or without qop=auth), answering the server's WWW-Authenticate
// challenge. Basic sends the password in clear: only when the source opts in.
import { randomBytes } from 'node:crypto';
import { digestResponse } from '../digest-response';

export interface Challenge {
  scheme: 'digest' | 'basic';
  params: Map<string, string>;
}

/** Parses one or more WWW-Authenticate header values (joined by "\n"); Digest first. */
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

const SUPPORTED = ['SHA-256', 'SHA-256-SESS', 'MD5', 'MD5-SESS'];

/** Lower is better: Digest SHA-256, then MD5 (servers offering both send two challenges), then Basic. */
function rank(c: Challenge): number {
  if (c.scheme === 'basic') return 10;
  const alg = (c.params.get('algorithm') ?? 'MD5').toUpperCase();
  const i = SUPPORTED.indexOf(alg);
  return i < 0 ? 9 : i;
}

/** The challenge to answer: the best Digest we support; Basic only when allowed. */
export function pickChallenge(challenges: readonly Challenge[], allowBasic = false): Challenge | undefined {
  return challenges.find((c) => (c.scheme === 'digest' ? SUPPORTED.includes((c.params.get('algorithm') ?? 'MD5').toUpperCase()) : allowBasic));
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
    if (!SUPPORTED.includes(algorithm)) throw new Error(`unsupported digest algorithm ${algorithm}`);
    const qop = (p.get('qop') ?? '').split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
    const nc = qop ? (++this.nc).toString(16).padStart(8, '0') : '';
    const response = digestResponse({ hash: algorithm.startsWith('SHA-256') ? 'sha256' : 'md5', sess: algorithm.endsWith('-SESS'), user: this.user, password: this.password, realm, nonce, method, uri, qop, nc, cnonce: this.cnonce });
    let h = `Digest username="${this.user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}"`;
    if (qop) h += `, qop=${qop}, nc=${nc}, cnonce="${this.cnonce}"`;
    if (p.has('opaque')) h += `, opaque="${p.get('opaque')}"`;
    if (p.has('algorithm')) h += `, algorithm=${p.get('algorithm')}`;
    return h;
  }
}
