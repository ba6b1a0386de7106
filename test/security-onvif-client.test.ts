// Security of the ONVIF client against hostile devices (issue 11): replies are cut at the size
// limit, DTDs (entity expansion) are refused, and the password never goes out with HTTP Basic
// unless the source opted in. Every peer is a raw server on loopback.
import { strict as assert } from 'node:assert';
import type { Socket } from 'node:net';
import { soapCall, MAX_REPLY_BYTES } from '../lib/onvif/soap';
import { OnvifError } from '../lib/onvif/errors';
import { parseXml, XmlDtdError } from '../lib/onvif/xml';
import {
  EscapeWatch,
  clockReply,
  httpReply,
  settleWithin,
  soapEnvelope,
  startHostileServer,
  type HostileServer,
  type RawRequest,
} from './support/hostile-peers';

const watch = new EscapeWatch();
let servers: HostileServer[] = [];
const url = (s: HostileServer) => `http://127.0.0.1:${s.port}/onvif/device_service`;

async function serve(respond: (sock: Socket, req: RawRequest, n: number) => void): Promise<HostileServer> {
  const s = await startHostileServer(respond);
  servers.push(s);
  return s;
}

async function soapError(p: Promise<unknown>): Promise<OnvifError> {
  const r = await settleWithin(15_000, p, 'soapCall');
  if (r.ok) throw new Error('expected the call to fail');
  assert.ok(r.error instanceof OnvifError, `${r.error.name}: ${r.error.message}`);
  return r.error;
}

describe('ONVIF client security (hostile devices on loopback)', function () {
  this.timeout(30_000);
  beforeEach(() => watch.install());
  afterEach(async () => {
    watch.uninstall();
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    watch.assertNone();
  });

  describe('reply size', () => {
    it('cuts a 50 MB SOAP reply at the limit: the client stops reading and the sender is left with most of it', async () => {
      const total = 50 * 1024 * 1024;
      let written = 0;
      let closedEarly = false;
      const s = await serve((sock) => {
        // Chunked, so no Content-Length announces the size: the cut must come from counting.
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = Buffer.alloc(64 * 1024, 'a');
        const head = Buffer.from(`${chunk.length.toString(16)}\r\n`);
        const pump = () => {
          while (written < total) {
            if (sock.destroyed) return;
            written += chunk.length;
            const ok = sock.write(Buffer.concat([head, chunk, Buffer.from('\r\n')]));
            if (!ok) return void sock.once('drain', pump);
          }
          sock.end('0\r\n\r\n');
        };
        sock.on('close', () => (closedEarly = written < total));
        pump();
      });
      const before = process.memoryUsage().rss;
      const e = await soapError(soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 10_000 }));
      assert.equal(e.code, 'protocol');
      assert.match(e.message, new RegExp(`reply larger than ${MAX_REPLY_BYTES} bytes`));
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(closedEarly, 'the connection was closed before the server could send it all');
      // Loopback socket buffers hold a few MB; anything near 50 MB would mean the client kept reading.
      assert.ok(written < MAX_REPLY_BYTES + 16 * 1024 * 1024, `server wrote ${written} bytes`);
      console.log(
        `      (limit ${MAX_REPLY_BYTES} B; server managed to write ${(written / 1048576).toFixed(1)} MB of 50 MB; RSS +${((process.memoryUsage().rss - before) / 1048576).toFixed(1)} MB)`,
      );
    });

    it('refuses a reply whose Content-Length is over the limit before reading its body', async () => {
      const s = await serve(
        (sock) => void sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n<s:Envelope`),
      );
      const e = await soapError(soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 5000 }));
      assert.match(e.message, /reply larger than .*Content-Length 52428800/);
    });

    it('gives a reply that trickles forever no more than its time limit', async () => {
      const s = await serve((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n');
        const t = setInterval(() => (sock.destroyed ? clearInterval(t) : sock.write('1\r\na\r\n')), 50);
      });
      const e = await soapError(soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 600 }));
      assert.equal(e.code, 'timeout');
      assert.match(e.message, /did not complete within 600 ms/);
    });
  });

  describe('XML entities', () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' +
      '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&c;&c;&c;</x></s:Body></s:Envelope>';

    it('refuses any document type declaration, so no entity of the reply is ever expanded', () => {
      assert.throws(() => parseXml(laughs), XmlDtdError);
      assert.throws(() => parseXml('<!ENTITY x "y"><a/>'), XmlDtdError);
      assert.throws(() => parseXml('<?xml version="1.0"?><!doctype a SYSTEM "file:///etc/passwd"><a/>'), XmlDtdError);
    });

    it('still decodes the XML built-in entities', () => {
      assert.deepEqual(parseXml('<a>Front &amp; Back &lt;1&gt; &quot;x&quot;</a>'), { a: 'Front & Back <1> "x"' });
    });

    it('turns a reply with a DTD into a protocol error naming the reason', async () => {
      const s = await serve((sock) => void sock.end(httpReply(200, laughs)));
      const e = await soapError(soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000 }));
      assert.equal(e.code, 'protocol');
      assert.match(e.message, /document type declaration \(DTD\) is refused/);
    });
  });

  describe('HTTP Basic only with the opt-in', () => {
    const basicOnly = (sock: Socket, req: RawRequest) => {
      if (/^Basic /.test(req.headers.get('authorization') ?? '')) return void sock.end(httpReply(200, clockReply()));
      sock.end(httpReply(401, 'no', { 'WWW-Authenticate': 'Basic realm="cam"' }));
    };
    const creds = { user: 'admin', password: 'secret-pw' };

    it('never sends the password with Basic by default, and names the opt-in', async () => {
      const s = await serve(basicOnly);
      const e = await soapError(soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000, credentials: creds }));
      assert.equal(e.code, 'auth');
      assert.match(e.message, /only HTTP Basic.*in clear text.*allowBasicAuth/);
      assert.equal(s.requests.length, 1, 'no second request');
      assert.ok(!s.requests.some((r) => r.headers.has('authorization')));
      assert.ok(!s.requests.some((r) => r.body.includes('secret-pw')), 'the password itself never travels (WS-Security sends a digest)');
    });

    it('answers Basic when the source opted in', async () => {
      const s = await serve(basicOnly);
      await soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000, credentials: { ...creds, allowBasicAuth: true } });
      assert.equal(s.requests[1].headers.get('authorization'), 'Basic ' + Buffer.from('admin:secret-pw').toString('base64'));
    });

    it('prefers Digest (SHA-256 over MD5) when offered beside Basic', async () => {
      const s = await serve((sock, req) => {
        if (/^Digest /.test(req.headers.get('authorization') ?? '')) return void sock.end(httpReply(200, soapEnvelope('<tds:GetSystemDateAndTimeResponse/>')));
        sock.write('HTTP/1.1 401 X\r\nContent-Length: 0\r\nConnection: close\r\n');
        sock.write('WWW-Authenticate: Basic realm="cam"\r\nWWW-Authenticate: Digest realm="cam", nonce="n1", qop="auth", algorithm=MD5\r\n');
        sock.end('WWW-Authenticate: Digest realm="cam", nonce="n2", qop="auth", algorithm=SHA-256\r\n\r\n');
      });
      await soapCall(url(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000, credentials: { ...creds, allowBasicAuth: true } });
      const auth = s.requests[1].headers.get('authorization') ?? '';
      assert.match(auth, /^Digest /);
      assert.match(auth, /algorithm=SHA-256/);
      assert.match(auth, /nonce="n2"/);
    });
  });
});
