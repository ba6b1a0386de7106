// HTTP Digest (RFC 7616 / 2617, MD5 and SHA-256, qop=auth) for devices that want it instead of
// (or besides) WS-Security. Shared by the SOAP client; the RTSP client has its own request flow.
import { createHash, randomBytes } from 'node:crypto';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
}

/** Parse a `WWW-Authenticate: Digest ...` header; undefined if it is not a Digest challenge. */
export function parseDigestChallenge(header: string | undefined): DigestChallenge | undefined {
  if (!header) return undefined;
  const m = /Digest\s+(.*)$/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)=(?:"([^"]*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[1]))) params[p[1].toLowerCase()] = p[2] ?? p[3];
  if (!params.nonce) return undefined;
  return { realm: params.realm ?? '', nonce: params.nonce, qop: params.qop, opaque: params.opaque, algorithm: params.algorithm };
}

export function digestAuthorization(
  ch: DigestChallenge,
  cred: { user: string; password: string },
  method: string,
  uri: string,
  nc = 1,
): string {
  const alg = (ch.algorithm ?? 'MD5').toUpperCase();
  const hashName = alg.startsWith('SHA-256') ? 'sha256' : 'md5';
  const h = (s: string) => createHash(hashName).update(s).digest('hex');
  const ha1 = h(`${cred.user}:${ch.realm}:${cred.password}`);
  const ha2 = h(`${method}:${uri}`);
  const qop = ch.qop?.split(',').map((s) => s.trim()).find((q) => q === 'auth');
  const ncHex = nc.toString(16).padStart(8, '0');
  const cnonce = randomBytes(8).toString('hex');
  const response = qop ? h(`${ha1}:${ch.nonce}:${ncHex}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${ch.nonce}:${ha2}`);
  const parts = [
    `username="${cred.user}"`,
    `realm="${ch.realm}"`,
    `nonce="${ch.nonce}"`,
    `uri="${uri}"`,
    `response="${response}"`,
  ];
  if (ch.algorithm) parts.push(`algorithm=${ch.algorithm}`);
  if (ch.opaque !== undefined) parts.push(`opaque="${ch.opaque}"`);
  if (qop) parts.push(`qop=${qop}`, `nc=${ncHex}`, `cnonce="${cnonce}"`);
  return `Digest ${parts.join(', ')}`;
}
