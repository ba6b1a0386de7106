// The vendor HTTP client against hand-written servers: answer size and time limits, a stale nonce
// (re-challenge, not a failed login), a Basic-only device (no password sent in clear), lock answers.
import { strict as assert } from 'node:assert';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { VendorHttp, isBusyAnswer, lockoutOf } from '../lib/vendors/http';
import { VendorError } from '../lib/vendors/errors';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('vendor HTTP client', function () {
  this.timeout(20_000);
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });
  const start = async (h: (req: IncomingMessage, res: ServerResponse) => void) => {
    const s = await serve(h);
    servers.push(s.server);
    return s.port;
  };

  it('speaks HTTPS on port 443 or when asked; a self-signed certificate only with the source opt-in', async () => {
    assert.match(new VendorHttp({ host: '192.0.2.1', port: 443 }).base, /^https:\/\/192\.0\.2\.1:443$/);
    assert.match(new VendorHttp({ host: '192.0.2.1', port: 80 }).base, /^http:\/\//);
    // A throw-away self-signed certificate for 127.0.0.1 (test/fixtures/tls).
    const tls = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');
    const server = createTlsServer({ key: readFileSync(path.join(tls, 'selfsigned.key')), cert: readFileSync(path.join(tls, 'selfsigned.crt')) }, (_req, res) =>
      res.end('isapi'),
    );
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    await assert.rejects(
      new VendorHttp({ host: '127.0.0.1', port, https: true }).request('GET', '/ISAPI/System/deviceInfo'),
      (e: unknown) => e instanceof VendorError && /TLS certificate is not trusted.*accept self-signed certificate/.test(e.message),
    );
    const ok = await new VendorHttp({ host: '127.0.0.1', port, https: true, acceptSelfSigned: true }).request('GET', '/ISAPI/System/deviceInfo');
    assert.equal(ok.body.toString(), 'isapi');
  });

  it("a download worker's client is built with every setting of the session's (HTTPS and the self-signed opt-in too)", async () => {
    const tls = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');
    const server = createTlsServer({ key: readFileSync(path.join(tls, 'selfsigned.key')), cert: readFileSync(path.join(tls, 'selfsigned.crt')) }, (_req, res) =>
      res.end('isapi'),
    );
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const session = new VendorHttp({
      host: '127.0.0.1',
      port,
      https: true,
      acceptSelfSigned: true,
      signal: new AbortController().signal,
      onCredentialedRequest: () => undefined,
    });
    // What crosses to the worker thread: a structured clone (a function or a signal would throw here).
    const conn = structuredClone(session.connectionOptions());
    assert.deepEqual(conn, { host: '127.0.0.1', port, https: true, acceptSelfSigned: true });
    const ok = await new VendorHttp(conn).request('GET', '/ISAPI/System/deviceInfo');
    assert.equal(ok.body.toString(), 'isapi');
  });

  it('refuses an answer larger than its limit', async () => {
    const port = await start((_req, res) => res.end(Buffer.alloc(200_000, 0x41)));
    const http = new VendorHttp({ host: '127.0.0.1', port, maxBodyBytes: 100_000 });
    await assert.rejects(http.request('GET', '/x'), (e: unknown) => e instanceof VendorError && e.kind === 'protocol' && /larger than 100000/.test(e.message));
  });

  it('gives up on a device that does not answer in time', async () => {
    const port = await start(() => undefined);
    const http = new VendorHttp({ host: '127.0.0.1', port, timeoutMs: 300 });
    await assert.rejects(http.request('GET', '/x'), (e: unknown) => e instanceof VendorError && e.kind === 'timeout');
  });

  it('a stale nonce is answered with the new one, not treated as a wrong password', async () => {
    let n = 0;
    let credentialed = 0;
    const port = await start((req, res) => {
      n++;
      const auth = req.headers.authorization;
      if (auth) credentialed++;
      // 1: challenge; 2: ok; 3: stale (our nonce expired); 4: ok with the new nonce.
      if (!auth || n === 3) {
        res.writeHead(401, { 'WWW-Authenticate': `Digest realm="r", qop="auth", nonce="n${n}", algorithm=MD5${n === 3 ? ', stale=TRUE' : ''}` });
        return res.end();
      }
      res.end('ok');
    });
    let counted = 0;
    const http = new VendorHttp({ host: '127.0.0.1', port, user: 'u', password: 'p', onCredentialedRequest: () => counted++ });
    assert.equal((await http.request('GET', '/a')).body.toString(), 'ok');
    assert.equal((await http.request('GET', '/b')).body.toString(), 'ok');
    assert.equal(credentialed, 3);
    assert.equal(counted, 3);
  });

  it('a Basic-only device gets no password (clear text over HTTP) and a clear error', async () => {
    let sawAuth = false;
    const port = await start((req, res) => {
      if (req.headers.authorization) sawAuth = true;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"' });
      res.end();
    });
    const http = new VendorHttp({ host: '127.0.0.1', port, user: 'u', password: 'p' });
    await assert.rejects(http.request('GET', '/x'), (e: unknown) => e instanceof VendorError && e.kind === 'auth' && /only HTTP Basic/.test(e.message));
    assert.equal(sawAuth, false);
  });

  it('with the Basic opt-in, a Basic-only device gets the login once (and a rejection is final)', async () => {
    let seen = 0;
    const port = await start((req, res) => {
      const a = req.headers.authorization;
      if (a) seen++;
      if (a === `Basic ${Buffer.from('u:p').toString('base64')}`) return res.end('ok');
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"' });
      res.end();
    });
    assert.equal(
      (await new VendorHttp({ host: '127.0.0.1', port, user: 'u', password: 'p', allowBasicAuth: true }).request('GET', '/x')).body.toString(),
      'ok',
    );
    const wrong = new VendorHttp({ host: '127.0.0.1', port, user: 'u', password: 'bad', allowBasicAuth: true });
    await assert.rejects(wrong.request('GET', '/x'), (e: unknown) => e instanceof VendorError && e.kind === 'auth');
    await assert.rejects(wrong.request('GET', '/y'), (e: unknown) => e instanceof VendorError && e.kind === 'auth');
    assert.equal(seen, 2, 'one good login, one rejected, nothing after the rejection');
  });

  it('prefers a SHA-256 challenge when both are offered', async () => {
    let alg = '';
    const port = await start((req, res) => {
      const a = req.headers.authorization;
      if (!a) {
        res.writeHead(401, {
          'WWW-Authenticate': ['Digest realm="r", qop="auth", nonce="x", algorithm=MD5', 'Digest realm="r", qop="auth", nonce="x", algorithm=SHA-256'],
        });
        return res.end();
      }
      alg = /algorithm=([\w-]+)/.exec(a)?.[1] ?? '';
      res.end('ok');
    });
    await new VendorHttp({ host: '127.0.0.1', port, user: 'u', password: 'p' }).request('GET', '/x');
    assert.equal(alg, 'SHA-256');
  });

  it('reads lock answers: Hikvision userCheck with unlockTime, a Dahua-style text, and not an ordinary 401', () => {
    const now = new Date('2026-12-02T06:00:00Z');
    const hik = lockoutOf(401, '<userCheck><statusValue>401</statusValue><lockStatus>lock</lockStatus><unlockTime>210</unlockTime></userCheck>', now);
    assert.equal(hik?.kind, 'locked');
    assert.equal(hik?.details.unlockAt?.toISOString(), '2026-12-02T06:03:30.000Z');
    assert.equal(lockoutOf(401, 'Error\r\nAccount locked, unlock after 1800 seconds', now)?.details.unlockInSec, 1800);
    assert.equal(
      lockoutOf(401, '<userCheck><statusValue>401</statusValue><lockStatus>unlock</lockStatus><retryLoginTime>4</retryLoginTime></userCheck>', now),
      undefined,
    );
    assert.equal(lockoutOf(401, 'Error\r\nInvalid Authority!', now), undefined);
  });

  it('tells a busy answer (sessions taken: retried with fewer) from other errors', async () => {
    const busyXml = '<ResponseStatus><statusCode>2</statusCode><statusString>Device Busy</statusString></ResponseStatus>';
    assert.deepEqual(
      [isBusyAnswer(503, ''), isBusyAnswer(429, ''), isBusyAnswer(400, busyXml), isBusyAnswer(500, 'Error'), isBusyAnswer(400, '<statusCode>4</statusCode>')],
      [true, true, true, false, false],
    );
    const { server, port } = await serve((_req, res) => {
      res.statusCode = 503;
      res.end(busyXml);
    });
    servers.push(server);
    await assert.rejects(new VendorHttp({ host: '127.0.0.1', port }).stream('GET', '/download'), (e: unknown) => e instanceof VendorError && e.kind === 'busy');
  });
});
