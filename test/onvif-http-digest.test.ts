import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { digestAuthorization, parseDigestChallenge } from '../lib/onvif/http-digest';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function fields(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.replace(/^Digest\s+/, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) out[m[1]] = m[2] ?? m[3];
  return out;
}

describe('HTTP Digest for SOAP (lib/onvif/http-digest)', () => {
  const cred = { user: 'admin', password: 'pw' };

  it('answers an MD5 challenge with qop=auth as RFC 2617 computes it', () => {
    const ch = parseDigestChallenge('Digest realm="cam", nonce="n1", qop="auth,auth-int", opaque="o"')!;
    const f = fields(digestAuthorization(ch, cred, 'POST', '/onvif/device_service'));
    const expected = md5(`${md5('admin:cam:pw')}:n1:${f.nc}:${f.cnonce}:auth:${md5('POST:/onvif/device_service')}`);
    assert.equal(f.response, expected);
    assert.equal(f.opaque, 'o');
    assert.equal(f.qop, 'auth');
  });

  it('folds the nonce and cnonce into HA1 for MD5-sess', () => {
    const ch = parseDigestChallenge('Digest realm="nvr", nonce="n2", qop="auth", algorithm=MD5-sess')!;
    const f = fields(digestAuthorization(ch, cred, 'POST', '/onvif/search_service'));
    const ha1 = md5(`${md5('admin:nvr:pw')}:n2:${f.cnonce}`);
    assert.equal(f.response, md5(`${ha1}:n2:${f.nc}:${f.cnonce}:auth:${md5('POST:/onvif/search_service')}`));
    assert.equal(f.algorithm, 'MD5-sess');
  });

  it('uses SHA-256 when the device asks for it, and no qop when it offers none', () => {
    const ch = parseDigestChallenge('Digest realm="r", nonce="n3", algorithm=SHA-256')!;
    const f = fields(digestAuthorization(ch, cred, 'POST', '/x'));
    assert.equal(f.response, sha256(`${sha256('admin:r:pw')}:n3:${sha256('POST:/x')}`));
    assert.equal(f.qop, undefined);
  });

  it('is not a Digest challenge without a nonce, or for Basic', () => {
    assert.equal(parseDigestChallenge('Digest realm="r"'), undefined);
    assert.equal(parseDigestChallenge('Basic realm="r"'), undefined);
  });
});
