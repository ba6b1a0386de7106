// RTSP authentication (issue 11, issue 9): Digest SHA-256 preferred over MD5, and Basic (the
// password in clear) only when the caller opted in. Raw RTSP servers on loopback.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { replay } from '../lib/rtsp/replay-session';
import { RtspError } from '../lib/rtsp/errors';
import { Authenticator, chooseChallenge, parseChallenges } from '../lib/rtsp/auth';
import { settleWithin, startHostileServer, type HostileServer, type RawRequest } from './support/hostile-peers';

function rtspReply(req: RawRequest, status: string, headers: Array<[string, string]> = []): string {
  let s = `RTSP/1.0 ${status}\r\nCSeq: ${req.headers.get('cseq') ?? '0'}\r\n`;
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s + '\r\n';
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Digest parameters of an Authorization header. */
function params(h: string): Map<string, string> {
  return new Map([...h.matchAll(/([\w-]+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1], m[2] ?? m[3]]));
}

describe('RTSP authentication: Digest SHA-256, Basic only by opt-in', function () {
  this.timeout(15_000);
  let server: HostileServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** Runs one replay against a server that answers every unauthenticated request with `challenges`. */
  async function replayAgainst(challenges: string[], allowBasicAuth?: boolean) {
    server = await startHostileServer((sock: Socket, req: RawRequest) => {
      if (!req.headers.has('authorization'))
        return void sock.write(
          rtspReply(
            req,
            '401 Unauthorized',
            challenges.map((c) => ['WWW-Authenticate', c]),
          ),
        );
      sock.write(rtspReply(req, '404 Not Found')); // authenticated: the rest does not matter here
    });
    const r = await settleWithin(
      10_000,
      replay({
        url: `rtsp://127.0.0.1:${server.port}/rec/`,
        user: 'admin',
        password: 'clear-secret',
        allowBasicAuth,
        from: new Date('2026-01-01T00:00:00Z'),
        to: new Date('2026-01-01T00:01:00Z'),
        timeouts: { connectMs: 1000, responseMs: 1000 },
        onFrame: () => undefined,
      }),
      'replay',
    );
    if (r.ok) throw new Error('expected the replay to fail');
    assert.ok(r.error instanceof RtspError, r.error.message);
    return { error: r.error, requests: server.requests };
  }

  it('refuses a Basic-only server by default: the password is never sent, and the error names the opt-in', async () => {
    const { error, requests } = await replayAgainst(['Basic realm="nvr"']);
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /only RTSP Basic.*in clear text.*allowBasicAuth/);
    assert.equal(requests.length, 1);
    assert.ok(!requests.some((r) => r.headers.has('authorization')));
  });

  it('answers Basic when the caller opted in', async () => {
    const { error, requests } = await replayAgainst(['Basic realm="nvr"'], true);
    assert.notEqual(error.kind, 'auth', 'got past authentication');
    assert.equal(requests[1].headers.get('authorization'), 'Basic ' + Buffer.from('admin:clear-secret').toString('base64'));
  });

  it('uses Digest SHA-256 when offered beside MD5 and Basic (two challenges), with a response the RFC 7616 computation accepts', async () => {
    const { requests } = await replayAgainst(
      ['Basic realm="nvr"', 'Digest realm="nvr", nonce="abc", qop="auth", algorithm=MD5', 'Digest realm="nvr", nonce="def", qop="auth", algorithm=SHA-256'],
      true,
    );
    const auth = requests[1].headers.get('authorization') ?? '';
    assert.match(auth, /^Digest /);
    const p = params(auth);
    assert.equal(p.get('algorithm'), 'SHA-256');
    assert.equal(p.get('nonce'), 'def');
    const ha1 = sha256('admin:nvr:clear-secret');
    const ha2 = sha256(`DESCRIBE:${p.get('uri')}`);
    assert.equal(p.get('response'), sha256(`${ha1}:def:${p.get('nc')}:${p.get('cnonce')}:auth:${ha2}`));
  });

  it('computes SHA-256-sess (HA1 over the nonce and cnonce)', () => {
    const [ch] = parseChallenges('Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256-sess');
    const p = params(new Authenticator('u', 'pw', ch).header('PLAY', 'rtsp://h/x'));
    const ha1 = sha256(`${sha256('u:r:pw')}:n:${p.get('cnonce')}`);
    assert.equal(p.get('response'), sha256(`${ha1}:n:${p.get('nc')}:${p.get('cnonce')}:auth:${sha256('PLAY:rtsp://h/x')}`));
  });

  it('orders challenges SHA-256, MD5, unknown Digest algorithms, then Basic', () => {
    const order = parseChallenges(
      ['Basic realm="a"', 'Digest nonce="1", algorithm=SHA-512-256', 'Digest nonce="2"', 'Digest nonce="3", algorithm=SHA-256'].join('\n'),
    ).map((c) => c.params.get('nonce') ?? c.scheme);
    assert.deepEqual(order, ['3', '2', '1', 'basic']);
    assert.equal(chooseChallenge('Basic realm="a"\nDigest nonce="2"', false, 'x')?.scheme, 'digest', 'Digest beside Basic needs no opt-in');
    assert.equal(chooseChallenge('Negotiate abc', false, 'x'), undefined);
  });
});
