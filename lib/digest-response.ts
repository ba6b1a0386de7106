// The response hash of HTTP/RTSP Digest authentication (RFC 7616 §3.4.1, RFC 2617 §3.2.2), shared by
// the SOAP client (onvif/http-digest.ts) and the RTSP client (rtsp/auth.ts); each keeps its own
// challenge parsing and header layout.
import { createHash } from 'node:crypto';
import type { Credentials } from './credentials';

export interface DigestResponseInput extends Pick<Credentials, 'user' | 'password'> {
  hash: 'md5' | 'sha256';
  /** The "-sess" variants: HA1 also covers the nonce and cnonce. */
  sess?: boolean;
  realm: string;
  nonce: string;
  method: string;
  uri: string;
  /** With qop=auth, nc (8 hex digits) and cnonce enter the hash too. */
  qop?: 'auth';
  nc: string;
  cnonce: string;
}

export function digestResponse(i: DigestResponseInput): string {
  const h = (s: string) => createHash(i.hash).update(s).digest('hex');
  let ha1 = h(`${i.user}:${i.realm}:${i.password}`);
  if (i.sess) ha1 = h(`${ha1}:${i.nonce}:${i.cnonce}`);
  const ha2 = h(`${i.method}:${i.uri}`);
  return i.qop ? h(`${ha1}:${i.nonce}:${i.nc}:${i.cnonce}:${i.qop}:${ha2}`) : h(`${ha1}:${i.nonce}:${ha2}`);
}
