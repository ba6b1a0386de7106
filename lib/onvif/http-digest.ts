// HTTP Digest (RFC 7616 / 2617, MD5 and SHA-256, qop=auth) for devices that want it instead of
// (or besides) WS-Security. Shared by the SOAP client; the RTSP client has its own request flow.
import { randomBytes } from 'node:crypto';
import { digestResponse } from '../digest-response';
import type { Credentials } from '../credentials';

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

export function digestAuthorization(ch: DigestChallenge, cred: Pick<Credentials, 'user' | 'password'>, method: string, uri: string, nc = 1): string {
  const alg = (ch.algorithm ?? 'MD5').toUpperCase();
  const qop = ch.qop?.split(',').some((s) => s.trim() === 'auth') ? 'auth' : undefined;
  const ncHex = nc.toString(16).padStart(8, '0');
  const cnonce = randomBytes(8).toString('hex');
  const response = digestResponse({
    hash: alg.startsWith('SHA-256') ? 'sha256' : 'md5',
    sess: alg.endsWith('-SESS'),
    user: cred.user,
    password: cred.password,
    realm: ch.realm,
    nonce: ch.nonce,
    method,
    uri,
    qop,
    nc: ncHex,
    cnonce,
  });
  const parts = [`username="${cred.user}"`, `realm="${ch.realm}"`, `nonce="${ch.nonce}"`, `uri="${uri}"`, `response="${response}"`];
  if (ch.algorithm) parts.push(`algorithm=${ch.algorithm}`);
  if (ch.opaque !== undefined) parts.push(`opaque="${ch.opaque}"`);
  if (qop) parts.push(`qop=${qop}`, `nc=${ncHex}`, `cnonce="${cnonce}"`);
  return `Digest ${parts.join(', ')}`;
}
