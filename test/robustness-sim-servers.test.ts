// Robustness of the simulator's servers against bad clients: the SOAP server (oversized bodies,
// half-sent requests, bad XML, deep nesting) and the RTSP server (garbage, bad CSeq and
// Content-Length, PLAY before SETUP, huge lines, pipelined floods) answer with an error or close
// the socket, keep serving everyone else, and let nothing escape. Loopback only.
import { strict as assert } from 'node:assert';
import { connect, type Socket } from 'node:net';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { soapCall } from '../lib/onvif/soap';
import { EscapeWatch, settleWithin, sleep } from './support/hostile-peers';

const watch = new EscapeWatch();

/** Sends raw bytes and collects what comes back until the server closes or `ms` pass. */
function exchange(port: number, data: Buffer | string | Array<Buffer | string>, ms = 1000): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(done, ms);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('connect', () => {
      for (const d of Array.isArray(data) ? data : [data]) if (!sock.destroyed) sock.write(d);
    });
  });
}

const soapPost = (path: string, body: string | Buffer, extraHeaders = '') => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return [
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/soap+xml\r\nContent-Length: ${b.length}\r\nConnection: close\r\n${extraHeaders}\r\n`,
    b,
  ];
};

describe('robustness: simulator servers against bad clients (loopback)', function () {
  this.timeout(10_000);
  let sim: RunningSimulator;
  let soapPort: number;
  let rtspPort: number;
  const device = () => `http://127.0.0.1:${soapPort}/onvif/device_service`;
  /** The server still answers a normal client. */
  const stillServes = async () => {
    const r = await settleWithin(3000, soapCall(device(), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000 }));
    assert.ok(r.ok, r.ok ? '' : `SOAP server stopped serving: ${r.error.message}`);
    const o = await exchange(rtspPort, 'OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 9\r\n\r\n', 500);
    assert.match(o.reply, /^RTSP\/1\.0 200 OK\r\nCSeq: 9/, 'RTSP server stopped serving');
  };

  before(async () => {
    watch.install();
    sim = await startSimulator({ preset: 'seed', basePort: 0, discovery: false });
    soapPort = sim.devices[0].port;
    rtspPort = sim.devices[0].rtspPort;
  });
  after(async () => {
    await sim.stop();
    watch.uninstall();
  });
  afterEach(() => watch.assertNone());

  describe('SOAP server', () => {
    it('an oversized body (2 MB) is cut off, not buffered', async () => {
      const r = await exchange(soapPort, soapPost('/onvif/device_service', Buffer.alloc(2 * 1024 * 1024, '<')), 3000);
      assert.ok(r.closed, 'the connection is closed');
      assert.doesNotMatch(r.reply, /^HTTP\/1\.1 200/);
      await stillServes();
    });

    it('malformed XML and deep nesting → 400 with a SOAP fault naming the problem', async () => {
      for (const body of [
        '<s:Envelope><s:Body><unclosed',
        '<a>'.repeat(60_000) + '</a>'.repeat(60_000),
        '\u0000\u0001binary',
        '<s:Envelope xmlns:s="x"><s:Body/></s:Envelope>',
      ]) {
        const r = await exchange(soapPort, soapPost('/onvif/device_service', body), 2000);
        assert.match(r.reply, /^HTTP\/1\.1 400 /, `400 for ${body.slice(0, 30)}…`);
        assert.match(r.reply, /<s:Fault>/);
      }
      await stillServes();
    });

    it('a wrong method or an unknown path gets 405 / 404', async () => {
      const get = await exchange(soapPort, 'GET /onvif/device_service HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(get.reply, /^HTTP\/1\.1 405 /);
      const nowhere = await exchange(soapPort, soapPost('/../../etc/passwd', '<x/>'));
      assert.match(nowhere.reply, /^HTTP\/1\.1 404 /);
    });

    it('garbage instead of HTTP → 400 and close', async () => {
      const r = await exchange(soapPort, Buffer.from('\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003 TLS hello\r\n\r\n'));
      assert.ok(r.closed);
      assert.match(r.reply, /^$|^HTTP\/1\.1 400 /);
      await stillServes();
    });

    it('twenty slowloris connections (half a request each, then silence) do not stop it serving others', async () => {
      const slow: Socket[] = [];
      try {
        for (let i = 0; i < 20; i++) {
          const s = connect({ host: '127.0.0.1', port: soapPort });
          s.on('error', () => undefined);
          s.write('POST /onvif/device_service HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\nX-Slow: ');
          slow.push(s);
        }
        await sleep(100);
        await stillServes();
      } finally {
        for (const s of slow) s.destroy();
      }
    });
  });

  describe('RTSP server', () => {
    const base = () => `rtsp://127.0.0.1:${rtspPort}`;

    it('a request with a non-numeric Content-Length → 400 and close (used to re-read the same request forever)', async () => {
      const r = await settleWithin(3000, exchange(rtspPort, `OPTIONS ${base()}/ RTSP/1.0\r\nCSeq: 1\r\nContent-Length: abc\r\n\r\n`), 'RTSP exchange');
      if (!r.ok) throw r.error;
      assert.match(r.value.reply, /^RTSP\/1\.0 400 Bad Request\r\nCSeq: 1/);
      assert.ok(r.value.closed);
      await stillServes();
    });

    it('a negative Content-Length → 400 and close, the server does not spin', async () => {
      const r = await settleWithin(3000, exchange(rtspPort, 'OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 2\r\nContent-Length: -60\r\n\r\n'), 'RTSP exchange');
      if (!r.ok) throw r.error;
      assert.match(r.value.reply, /^RTSP\/1\.0 400 /);
      await stillServes();
    });

    it('an absurd Content-Length → 400 and close instead of buffering the body', async () => {
      const r = await exchange(rtspPort, 'ANNOUNCE rtsp://x/ RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 99999999999\r\n\r\n');
      assert.match(r.reply, /^RTSP\/1\.0 400 /);
      assert.ok(r.closed);
    });

    it('a missing or malformed CSeq → 400', async () => {
      for (const h of ['', 'CSeq: abc\r\n', 'CSeq: -1\r\n']) {
        const r = await exchange(rtspPort, `OPTIONS ${base()}/ RTSP/1.0\r\n${h}\r\n`);
        assert.match(r.reply, /^RTSP\/1\.0 400 Bad Request\r\nCSeq: 0/, JSON.stringify(h));
      }
    });

    it('garbage with a header terminator, and a request line without a URL → 400, not a 500 from a TypeError', async () => {
      const a = await exchange(rtspPort, 'HELLO\r\n\r\n');
      assert.match(a.reply, /^RTSP\/1\.0 400 /);
      const b = await exchange(rtspPort, Buffer.from([0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]));
      assert.match(b.reply, /^RTSP\/1\.0 400 |^$/);
      await stillServes();
    });

    it('PLAY before SETUP → 454 Session Not Found', async () => {
      const r = await exchange(
        rtspPort,
        `PLAY ${base()}/replay/0 RTSP/1.0\r\nCSeq: 4\r\nSession: nope\r\nRequire: onvif-replay\r\nRange: clock=20260101T000000Z-\r\n\r\n`,
      );
      assert.match(r.reply, /^RTSP\/1\.0 (454 Session Not Found|404 Not Found)/);
    });

    it('a line that never ends → the connection is closed after 64 KB', async () => {
      const r = await exchange(rtspPort, ['OPTIONS ', Buffer.alloc(70 * 1024, 'a')], 2000);
      assert.ok(r.closed, 'closed');
      assert.equal(r.reply, '');
    });

    it('a client that pipelines 200 000 requests without reading the replies does not take the server down', async () => {
      const burst = `OPTIONS ${base()}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n`.repeat(20_000);
      const sock = connect({ host: '127.0.0.1', port: rtspPort });
      sock.on('error', () => undefined);
      sock.pause(); // never read
      await new Promise<void>((r) => sock.on('connect', () => r()));
      for (let i = 0; i < 10 && !sock.destroyed; i++) sock.write(burst);
      await sleep(300);
      await stillServes();
      sock.destroy();
    });
  });
});
