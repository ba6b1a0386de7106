// Robustness of the ONVIF replay client (lib/rtsp: replay-session, connection, frame-assembler,
// stream-parser) against hostile RTSP servers on loopback: every broken server makes replay()
// reject with a clear RtspError within its timeouts (or, for damaged media, resolve with the damage
// counted); nothing escapes; header and frame sizes are capped so memory cannot grow without bound.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { replay, type ReplayOptions, type ReplayStats } from '../lib/rtsp/replay-session';
import { RtspError } from '../lib/rtsp/errors';
import { RtspStreamParser } from '../lib/rtsp/stream-parser';
import { H264Depacketizer } from '../lib/rtsp/depacketize';
import { MAX_FRAME_BYTES } from '../lib/rtsp/replay-session';
import { EscapeWatch, settleWithin, startHostileServer, type HostileServer, type Outcome, type RawRequest } from './support/hostile-peers';

const watch = new EscapeWatch();
let server: HostileServer | undefined;

const SDP = [
  'v=0',
  'o=- 0 0 IN IP4 127.0.0.1',
  's=hostile',
  't=0 0',
  'm=video 0 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 packetization-mode=1',
  'a=control:trackID=0',
  '',
].join('\r\n');

function rtspReply(req: RawRequest, status = '200 OK', headers: Record<string, string> = {}, body = ''): string {
  let s = `RTSP/1.0 ${status}\r\nCSeq: ${req.headers.get('cseq') ?? '0'}\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  if (body) s += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return s + '\r\n' + body;
}

/** One interleaved RTP packet (H.264, PT 96). */
function rtp(o: { seq: number; ts: number; marker?: boolean; payload: Buffer; first?: number; channel?: number }): Buffer {
  const h = Buffer.alloc(12);
  h[0] = o.first ?? 0x80;
  h[1] = (o.marker === false ? 0 : 0x80) | 96;
  h.writeUInt16BE(o.seq & 0xffff, 2);
  h.writeUInt32BE(o.ts >>> 0, 4);
  h.writeUInt32BE(0x1234, 8);
  return interleave(o.channel ?? 0, Buffer.concat([h, o.payload]));
}

function interleave(channel: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(4);
  f[0] = 0x24;
  f[1] = channel;
  f.writeUInt16BE(payload.length, 2);
  return Buffer.concat([f, payload]);
}

const BYE = interleave(1, Buffer.from('81cb000100001234', 'hex'));
const IDR = Buffer.from([0x65, 0x88, 0x84, 0x00, 0x33]);

type Play = (sock: Socket) => void;

/** A well-behaved server up to PLAY; `onPlay` decides what the media looks like. `override` can break any reply. */
function scripted(onPlay: Play, override?: (sock: Socket, req: RawRequest) => boolean) {
  return (sock: Socket, req: RawRequest) => {
    if (override?.(sock, req)) return;
    switch (req.method) {
      case 'DESCRIBE':
        return void sock.write(rtspReply(req, '200 OK', { 'Content-Type': 'application/sdp', 'Content-Base': 'rtsp://127.0.0.1/rec/' }, SDP));
      case 'SETUP':
        return void sock.write(rtspReply(req, '200 OK', { Session: 'S1;timeout=60', Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }));
      case 'PLAY':
        sock.write(rtspReply(req, '200 OK', { Session: 'S1' }));
        return onPlay(sock);
      default:
        return void sock.write(rtspReply(req));
    }
  };
}

const from = new Date('2026-01-01T10:00:00Z');
const to = new Date('2026-01-01T11:00:00Z');

async function run(
  respond: (sock: Socket, req: RawRequest) => void,
  o: Partial<ReplayOptions> = {},
  withinMs = 5000,
): Promise<Outcome<ReplayStats> & { frames: number }> {
  server = await startHostileServer(respond);
  let frames = 0;
  const r = await settleWithin(
    withinMs,
    replay({
      url: `rtsp://127.0.0.1:${server.port}/rec/`,
      from,
      to,
      timeouts: { connectMs: 1000, responseMs: 800, idleMs: 800, endGraceMs: 200 },
      onFrame: () => {
        frames++;
      },
      ...o,
    }),
    'replay',
  );
  return { ...r, frames };
}

function expectRtspError(r: Outcome<ReplayStats>, kind: RtspError['kind'], message: RegExp): RtspError {
  assert.equal(r.ok, false, 'the replay must fail');
  if (r.ok) throw new Error('unreachable');
  assert.ok(r.error instanceof RtspError, `expected an RtspError, got ${r.error.name}: ${r.error.message}`);
  assert.equal(r.error.kind, kind, r.error.message);
  assert.match(r.error.message, message);
  return r.error;
}

/** Writes `chunk` until the peer hangs up or `max` bytes went out (bounded by itself). */
function flood(sock: Socket, chunk: Buffer, max: number): void {
  let sent = 0;
  const pump = () => {
    while (!sock.destroyed && sent < max) {
      sent += chunk.length;
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
  };
  pump();
}

describe('robustness: RTSP replay client against hostile servers (loopback)', function () {
  this.timeout(10_000);
  before(() => watch.install());
  after(() => watch.uninstall());
  afterEach(async () => {
    await server?.close();
    server = undefined;
    watch.assertNone();
  });

  it('binary garbage instead of a reply → timeout naming the request', async () => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 151 + 7) & 0xff).filter((b) => b !== 0x24 && b !== 0x52));
    const r = await run((sock) => sock.write(junk));
    expectRtspError(r, 'timeout', /no reply to DESCRIBE within 800 ms/);
  });

  it('an endless header line → protocol error as soon as the head passes 64 KB, not at the timeout', async () => {
    const r = await run(
      (sock) => {
        sock.write('RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Junk: ');
        flood(sock, Buffer.alloc(16 * 1024, 'R'), 32 * 1024 * 1024);
      },
      { timeouts: { responseMs: 4000 } },
    );
    expectRtspError(r, 'protocol', /header .*larger than 65536 bytes/);
    assert.ok(r.ms < 2000, `failed early (${r.ms} ms)`);
  });

  it('an absurd Content-Length → protocol error at once, the body is not buffered', async () => {
    const r = await run(
      (sock, req) => {
        sock.write(`RTSP/1.0 200 OK\r\nCSeq: ${req.headers.get('cseq')}\r\nContent-Length: 999999999\r\n\r\n`);
        flood(sock, Buffer.alloc(64 * 1024, 'v'), 32 * 1024 * 1024);
      },
      { timeouts: { responseMs: 4000 } },
    );
    expectRtspError(r, 'protocol', /Content-Length 999999999/);
    assert.ok(r.ms < 2000, `failed early (${r.ms} ms)`);
  });

  it('a negative or non-numeric Content-Length → protocol error', async () => {
    const r = await run((sock, req) => sock.write(`RTSP/1.0 200 OK\r\nCSeq: ${req.headers.get('cseq')}\r\nContent-Length: -20\r\n\r\nv=0\r\n`));
    expectRtspError(r, 'protocol', /Content-Length -20/);
  });

  it('a Content-Length that would move the parser backwards does not loop forever', async () => {
    const r = await run((sock) => sock.write('RTSP/1.0 200 OK\r\nContent-Length: -40\r\n\r\n'));
    expectRtspError(r, 'protocol', /Content-Length -40/);
  });

  it('a 200 to SETUP without a Session header → protocol error', async () => {
    const r = await run(
      scripted(
        () => undefined,
        (sock, req) => {
          if (req.method !== 'SETUP') return false;
          sock.write(rtspReply(req, '200 OK', { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }));
          return true;
        },
      ),
    );
    expectRtspError(r, 'protocol', /SETUP reply has no Session header/);
  });

  it('a server that accepts and never answers → timeout', async () => {
    const r = await run(() => undefined);
    expectRtspError(r, 'timeout', /no reply to DESCRIBE within 800 ms/);
  });

  it('a server that closes in the middle of a reply → network error, at once', async () => {
    const r = await run((sock) => {
      sock.write('RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Le');
      setTimeout(() => sock.destroy(), 20);
    });
    expectRtspError(r, 'network', /closed by the server/);
    assert.ok(r.ms < 700, `${r.ms} ms`);
  });

  it('a 401 with an unusable challenge → auth error', async () => {
    const r = await run((sock, req) => sock.write(rtspReply(req, '401 Unauthorized', { 'WWW-Authenticate': 'Negotiate abc' })), { user: 'u', password: 'p' });
    expectRtspError(r, 'auth', /401 without a usable challenge/);
  });

  it('a reply with an SDP that has no video → a clear error, not a TypeError', async () => {
    const r = await run((sock, req) => sock.write(rtspReply(req, '200 OK', { 'Content-Type': 'application/sdp' }, 'v=0\r\nm=audio 0 RTP/AVP 0\r\n')));
    expectRtspError(r, 'protocol', /DESCRIBE .*: unusable SDP: /);
  });

  it('interleaved frames with bogus channels and lengths between replies are skipped; the replay completes', async () => {
    const bogus = Buffer.concat([interleave(200, Buffer.alloc(65_535, 1)), interleave(7, Buffer.alloc(0)), interleave(0, Buffer.from([1, 2, 3]))]);
    const r = await run(
      scripted((sock) => sock.write(Buffer.concat([bogus, rtp({ seq: 1, ts: 0, payload: IDR }), bogus, rtp({ seq: 2, ts: 3000, payload: IDR }), BYE]))),
      {},
    );
    if (!r.ok) throw r.error;
    assert.equal(r.value.endReason, 'bye');
    assert.equal(r.frames, 2);
  });

  it('RTP with a wrong version, bad padding or an extension longer than the packet is dropped; good frames still arrive', async () => {
    const badVersion = rtp({ seq: 2, ts: 3000, payload: IDR, first: 0x40 });
    const badPadding = (() => {
      const p = rtp({ seq: 3, ts: 6000, payload: Buffer.from([0x65, 1, 2, 250]), first: 0xa0 }); // padding count 250 > packet
      return p;
    })();
    const badExtension = rtp({ seq: 4, ts: 9000, payload: Buffer.from([0xab, 0xac, 0xff, 0xff, 0x65]), first: 0x90 }); // 65535 words
    const manyCsrc = rtp({ seq: 5, ts: 12000, payload: Buffer.alloc(8), first: 0x8f }); // 15 CSRCs, too short
    const r = await run(
      scripted((sock) =>
        sock.write(
          Buffer.concat([rtp({ seq: 1, ts: 0, payload: IDR }), badVersion, badPadding, badExtension, manyCsrc, rtp({ seq: 6, ts: 15000, payload: IDR }), BYE]),
        ),
      ),
    );
    if (!r.ok) throw r.error;
    assert.equal(r.frames, 2, 'the two good frames');
    assert.ok(r.value.droppedFrames >= 1, `damage is counted (${r.value.droppedFrames})`);
  });

  it('a frame that never ends (fragments forever, no marker) is dropped at the frame size cap; memory stays bounded', async () => {
    // Watch how much the depacketizer holds for one frame (white-box: it is where a frame collects).
    const proto = H264Depacketizer.prototype;
    const { push, reset, finish } = proto;
    let held = 0;
    let peak = 0;
    proto.push = function (this: H264Depacketizer, p: Buffer) {
      held += p.length;
      peak = Math.max(peak, held);
      return push.call(this, p);
    };
    proto.reset = function (this: H264Depacketizer) {
      held = 0;
      return reset.call(this);
    };
    proto.finish = function (this: H264Depacketizer) {
      held = 0;
      return finish.call(this);
    };
    const fuStart = Buffer.concat([Buffer.from([0x7c, 0x85]), Buffer.alloc(60_000, 1)]);
    const fuMiddle = Buffer.concat([Buffer.from([0x7c, 0x05]), Buffer.alloc(60_000, 2)]);
    const r = await run(
      scripted((sock) => {
        let seq = 1;
        sock.write(rtp({ seq: seq++, ts: 0, marker: false, payload: fuStart }));
        const chunk = () => Buffer.concat(Array.from({ length: 16 }, () => rtp({ seq: seq++, ts: 0, marker: false, payload: fuMiddle })));
        // 40 MB of one frame, then a good frame and BYE: bounded by itself.
        let left = 42;
        const pump = () => {
          while (!sock.destroyed && left-- > 0) if (!sock.write(chunk())) return void sock.once('drain', pump);
          if (!sock.destroyed) sock.write(Buffer.concat([rtp({ seq: seq++, ts: 90000, payload: IDR }), BYE]));
        };
        pump();
      }),
      { timeouts: { idleMs: 3000, responseMs: 2000, endGraceMs: 200 } },
      8000,
    ).finally(() => Object.assign(proto, { push, reset, finish }));
    if (!r.ok) throw r.error;
    assert.ok(peak <= MAX_FRAME_BYTES, `one frame held at most ${MAX_FRAME_BYTES} bytes (peak ${peak})`);
    assert.ok(peak > MAX_FRAME_BYTES / 2, 'the cap, not something earlier, cut the frame');
    assert.ok(r.value.droppedFrames >= 1, 'the oversized frame is dropped');
    assert.equal(r.frames, 1, 'the stream goes on after it');
  });

  describe('ONVIF interop (real-device replay behaviours)', () => {
    const require551 = (sock: Socket, req: RawRequest) => {
      if (!/onvif-replay/i.test(req.headers.get('require') ?? '')) return false;
      sock.write(rtspReply(req, '551 Option not supported', { Unsupported: 'onvif-replay' }));
      return true;
    };
    /** An RTP packet carrying the 0xABAC extension with this wall time. */
    const withTime = (seq: number, ts: number, ms: number) => {
      const ext = Buffer.alloc(16);
      ext.writeUInt16BE(0xabac, 0);
      ext.writeUInt16BE(3, 2);
      ext.writeUInt32BE(Math.floor(ms / 1000) + 2208988800, 4);
      ext[12] = 0x80;
      return rtp({ seq, ts, first: 0x90, payload: Buffer.concat([ext, IDR]) });
    };

    it('551 to Require: onvif-replay → once without it; live frames (outside the asked range) are refused as permanent', async () => {
      const asked: string[] = [];
      const r = await run(
        scripted(
          (sock) => sock.write(Buffer.concat([withTime(1, 1000, Date.now()), withTime(2, 4000, Date.now() + 33), BYE])),
          (sock, req) => (asked.push(`${req.method} ${req.headers.get('require') ?? '-'}`), require551(sock, req)),
        ),
      );
      const e = expectRtspError(r, 'permanent', /refused onvif-replay \(551\) and, without it, streamed .* instead of the asked range/);
      assert.equal(e.status, 551);
      assert.deepEqual(asked.slice(0, 3), ['DESCRIBE onvif-replay', 'DESCRIBE -', 'SETUP -']);
      assert.equal(r.frames, 0);
    });

    it('551 and a stream without any frame times → permanent: the range cannot be proven', async () => {
      const r = await run(scripted((sock) => sock.write(Buffer.concat([rtp({ seq: 1, ts: 1000, payload: IDR }), BYE])), require551));
      expectRtspError(r, 'permanent', /carries no frame times: cannot prove/);
    });

    it('without 0xABAC, frame times come from RTP-Info rtptime + the PLAY reply Range', async () => {
      const times: number[] = [];
      const r = await run(
        scripted(
          (sock) => sock.write(Buffer.concat([rtp({ seq: 1, ts: 1000, payload: IDR }), rtp({ seq: 2, ts: 1000 + 90000, payload: IDR }), BYE])),
          (sock, req) => {
            if (req.method !== 'PLAY') return false;
            sock.write(
              rtspReply(req, '200 OK', {
                Session: 'S1',
                Range: 'clock=20260101T100005Z-20260101T110000Z',
                'RTP-Info': 'url=rtsp://127.0.0.1/rec/trackID=0;seq=1;rtptime=1000',
              }),
            );
            sock.write(Buffer.concat([rtp({ seq: 1, ts: 1000, payload: IDR }), rtp({ seq: 2, ts: 1000 + 90000, payload: IDR }), BYE]));
            return true;
          },
        ),
        { onFrame: (f) => void times.push(f.ntpTime.getTime()) },
      );
      assert.equal(r.ok, true);
      if (r.ok) assert.equal(r.value.timeSource, 'rtp-info');
      assert.deepEqual(
        times.map((t) => new Date(t).toISOString()),
        ['2026-01-01T10:00:05.000Z', '2026-01-01T10:00:06.000Z'],
      );
    });

    it('PLAY asks for whole seconds: start floored, end ceiled', async () => {
      let range = '';
      await run(
        scripted(
          (sock) => sock.write(BYE),
          (_sock, req) => ((range = req.method === 'PLAY' ? (req.headers.get('range') ?? '') : range), false),
        ),
        { from: new Date('2026-01-01T10:00:00.900Z'), to: new Date('2026-01-01T10:10:00.100Z') },
      );
      assert.equal(range, 'clock=20260101T100000Z-20260101T101001Z');
    });

    /** A server that wants authentication: `challenge` on the first DESCRIBE, then `check` decides. */
    const authServer = (challenge: string, check: (authorization: string) => boolean) =>
      scripted(
        (sock) => sock.write(BYE),
        (sock, req) => {
          if (req.method !== 'DESCRIBE') return false;
          const a = req.headers.get('authorization');
          if (!a || !check(a)) {
            sock.write(`RTSP/1.0 401 Unauthorized\r\nCSeq: ${req.headers.get('cseq') ?? '0'}\r\n${challenge}\r\n`);
            return true;
          }
          return false;
        },
      );

    it('two Digest challenges (MD5 and SHA-256): answers SHA-256, with the RFC 7616 response', async () => {
      const seen: string[] = [];
      const sha = (x: string) => createHash('sha256').update(x).digest('hex');
      const r = await run(
        authServer(
          'WWW-Authenticate: Digest realm="cam", nonce="abc", algorithm=MD5\r\nWWW-Authenticate: Digest realm="cam", nonce="abc", algorithm=SHA-256, qop="auth"\r\n',
          (a) => {
            seen.push(a);
            const p = Object.fromEntries([...a.matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]));
            const expected = sha(`${sha('u:cam:p')}:abc:${p.nc}:${p.cnonce}:auth:${sha(`DESCRIBE:${p.uri}`)}`);
            return p.algorithm === 'SHA-256' && p.response === expected;
          },
        ),
        { user: 'u', password: 'p' },
      );
      assert.equal(r.ok, true, r.ok ? '' : r.error.message);
      assert.match(seen[0], /algorithm=SHA-256/);
    });

    it('Basic only: refused unless the source allows it (the password would go in clear)', async () => {
      const basic = 'WWW-Authenticate: Basic realm="cam"\r\n';
      const ok = (a: string) => a === `Basic ${Buffer.from('u:p').toString('base64')}`;
      const refused = await run(authServer(basic, ok), { user: 'u', password: 'p' });
      expectRtspError(refused, 'auth', /offers only RTSP Basic authentication.*allowBasicAuth/);
      await server?.close();
      server = undefined;
      const allowed = await run(authServer(basic, ok), { user: 'u', password: 'p', allowBasicAuth: true });
      assert.equal(allowed.ok, true, allowed.ok ? '' : allowed.error.message);
    });

    it('453 / 429 / 503 are "busy"; 457 and other 4xx are "permanent"; 403 is "auth"', async () => {
      for (const [status, kind] of [
        ['453 Not Enough Bandwidth', 'busy'],
        ['429 Too Many Requests', 'busy'],
        ['503 Service Unavailable', 'busy'],
        ['457 Invalid Range', 'permanent'],
        ['400 Bad Request', 'permanent'],
        ['403 Forbidden', 'auth'],
      ] as const) {
        const r = await run(
          scripted(
            () => undefined,
            (sock, req) => (req.method === 'PLAY' ? (sock.write(rtspReply(req, status)), true) : false),
          ),
        );
        expectRtspError(r, kind, new RegExp(status.split(' ')[0]));
        await server?.close();
        server = undefined;
      }
    });
  });

  it('keep-alive: a server without GET_PARAMETER (501) is kept alive with OPTIONS from then on', async () => {
    // The server moves on only when kept alive: each keep-alive gets a frame back, an OPTIONS ends the replay.
    const seen: string[] = [];
    let seq = 1;
    const r = await run(
      scripted(
        (sock) => sock.write(rtp({ seq: seq++, ts: 0, payload: IDR })),
        (sock, req) => {
          if (req.method === 'SETUP') {
            sock.write(rtspReply(req, '200 OK', { Session: 'S1;timeout=1', Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }));
            return true;
          }
          if (req.method !== 'GET_PARAMETER' && req.method !== 'OPTIONS') return false;
          seen.push(`${req.method} ${req.headers.get('session') ?? '-'}`);
          const frame = rtp({ seq, ts: seq++ * 3000, payload: IDR });
          if (req.method === 'GET_PARAMETER') sock.write(Buffer.concat([Buffer.from(rtspReply(req, '501 Not Implemented')), frame]));
          else sock.write(Buffer.concat([Buffer.from(rtspReply(req, '200 OK', { Session: 'S1' })), frame, BYE]));
          return true;
        },
      ),
      { timeouts: { idleMs: 3000, responseMs: 800, endGraceMs: 200 } },
    );
    if (!r.ok) throw r.error;
    assert.equal(r.value.endReason, 'bye');
    assert.deepEqual(seen, ['GET_PARAMETER S1', 'OPTIONS S1']);
    assert.equal(r.frames, 3);
  });

  it('a server that goes quiet after PLAY → idle error', async () => {
    const r = await run(scripted((sock) => sock.write(rtp({ seq: 1, ts: 0, payload: IDR }))));
    expectRtspError(r, 'idle', /idle timeout/);
  });

  it('a server that floods its own requests at the client gets 501s and the replay still times out cleanly', async () => {
    const r = await run((sock) => {
      for (let i = 0; i < 500; i++) sock.write(`ANNOUNCE rtsp://x/ RTSP/1.0\r\nCSeq: ${i}\r\n\r\n`);
    });
    expectRtspError(r, 'timeout', /no reply to DESCRIBE/);
  });

  describe('stream parser caps (unit)', () => {
    it('keeps at most ~64 KB pending while a head has no end, then throws a clear error', () => {
      const p = new RtspStreamParser({ message: () => undefined, data: () => undefined });
      p.push(Buffer.from('RTSP/1.0 200 OK\r\nX: '));
      assert.throws(() => {
        for (let i = 0; i < 100; i++) p.push(Buffer.alloc(4096, 'A'));
      }, /larger than 65536 bytes/);
    });

    it('a body larger than the cap is refused before it is buffered', () => {
      const p = new RtspStreamParser({ message: () => undefined, data: () => undefined });
      assert.throws(() => p.push(Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 50000000\r\n\r\n')), /Content-Length 50000000/);
    });

    it('garbage that looks like a request line start ("RRRR…") does not cost quadratic time', () => {
      const p = new RtspStreamParser({ message: () => undefined, data: () => undefined });
      const started = Date.now();
      try {
        for (let i = 0; i < 64; i++) p.push(Buffer.alloc(16 * 1024, 'R'));
      } catch (e) {
        assert.match(String(e), /larger than 65536 bytes/);
      }
      assert.ok(Date.now() - started < 500, `${Date.now() - started} ms for 1 MB`);
    });
  });
});
