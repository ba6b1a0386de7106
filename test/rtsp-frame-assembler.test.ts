// The frame assembler on bytes: RTP/RTCP packets built here byte by byte (RFC 3550 header, RFC 6184
// H.264 STAP-A / FU-A, RFC 7798 H.265 AP / FU, the ONVIF 0xABAC replay extension, RTCP SR and BYE)
// go in; frames, their wall times and flags, and the end reason come out. No socket, no timer.
import { strict as assert } from 'node:assert';
import { FrameAssembler, MAX_FRAME_BYTES, type AssemblerEnd, type FrameAssemblerOptions, type ReplayFrame } from '../lib/rtsp/frame-assembler';
import { RtspError } from '../lib/rtsp/errors';
import { parseSdp } from '../lib/rtsp/sdp';
import { RtspStreamParser } from '../lib/rtsp/stream-parser';
import { splitAnnexB } from '../lib/media/annexb';
import { loadClip, packageRoot } from '../lib/sim/clips';
import type { CaptureMeta } from './fixtures/rtp/capture-sim';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const NTP_UNIX_OFFSET_S = 2208988800;
const from = new Date('2026-01-01T10:00:00Z');
const to = new Date('2026-01-01T11:00:00Z');
const T0 = from.getTime();

interface Onvif {
  ms: number;
  /** C E D T, as in the extension's flag byte. */
  clean?: boolean;
  end?: boolean;
  discontinuity?: boolean;
  terminal?: boolean;
}

/** One RTP packet (no interleave header): V=2, PT 96, SSRC 0x1234, optional 0xABAC extension. */
function rtp(o: { seq: number; ts: number; marker?: boolean; payload: Buffer | number[]; pt?: number; onvif?: Onvif }): Buffer {
  const h = Buffer.alloc(12);
  h[0] = o.onvif ? 0x90 : 0x80;
  h[1] = (o.marker === false ? 0 : 0x80) | (o.pt ?? 96);
  h.writeUInt16BE(o.seq & 0xffff, 2);
  h.writeUInt32BE(o.ts >>> 0, 4);
  h.writeUInt32BE(0x1234, 8);
  const parts = [h];
  if (o.onvif) {
    const x = Buffer.alloc(16);
    x.writeUInt16BE(0xabac, 0);
    x.writeUInt16BE(3, 2); // three 32-bit words follow
    const sec = Math.floor(o.onvif.ms / 1000);
    x.writeUInt32BE(sec + NTP_UNIX_OFFSET_S, 4);
    x.writeUInt32BE(Math.round(((o.onvif.ms - sec * 1000) / 1000) * 2 ** 32), 8);
    x[12] = (o.onvif.clean ? 0x80 : 0) | (o.onvif.end ? 0x40 : 0) | (o.onvif.discontinuity ? 0x20 : 0) | (o.onvif.terminal ? 0x10 : 0);
    parts.push(x);
  }
  parts.push(Buffer.from(o.payload));
  return Buffer.concat(parts);
}

/** RTCP sender report (PT 200): NTP wall time `ms` is RTP timestamp `rtpTs`. */
function rtcpSr(ms: number, rtpTs: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(0x1234, 4);
  const sec = Math.floor(ms / 1000);
  b.writeUInt32BE(sec + NTP_UNIX_OFFSET_S, 8);
  b.writeUInt32BE(Math.round(((ms - sec * 1000) / 1000) * 2 ** 32), 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  return b;
}

const BYE = Buffer.from('81cb000100001234', 'hex');

// H.264 NAL units (header byte + a few body bytes): what they hold does not matter, their type does.
const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xd9]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const IDR = Buffer.from([0x65, 0x88, 0x84, 0x00, 0x33, 0x21]);
const P = Buffer.from([0x41, 0x9a, 0x02, 0x04]);

function sdp(rtpmap: string, fmtp: string): string {
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=spec',
    't=0 0',
    'm=video 0 RTP/AVP 96',
    `a=rtpmap:96 ${rtpmap}`,
    `a=fmtp:96 ${fmtp}`,
    'a=control:trackID=0',
    '',
  ].join('\r\n');
}
const H264 = parseSdp(
  sdp('H264/90000', `packetization-mode=1;sprop-parameter-sets=${SPS.toString('base64')},${PPS.toString('base64')}`),
  'rtsp://127.0.0.1/rec/',
);

/** The MP4 sample format: each NAL unit behind its 4-byte big-endian length. */
function lengthPrefixed(...nals: Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, n.length >> 8, n.length & 0xff]), n]));
}

/** An assembler over `track` whose output is collected. */
function assemble(track = H264, o: Partial<FrameAssemblerOptions> = {}) {
  const frames: ReplayFrame[] = [];
  const ends: AssemblerEnd[] = [];
  const errors: RtspError[] = [];
  const a = new FrameAssembler(
    track,
    { from, to, ...o },
    { frame: (f) => void frames.push(f), end: (r) => void ends.push(r), fail: (e) => void errors.push(e) },
  );
  return { a, frames, ends, errors };
}

describe('frame assembler: RTP/RTCP bytes in, frames out (no socket)', () => {
  describe('H.264 (RFC 6184)', () => {
    it('a single NAL unit packet with the marker is one frame; a P frame after a keyframe follows it', () => {
      const { a, frames } = assemble();
      a.rtp(
        rtp({
          seq: 1,
          ts: 0,
          payload: Buffer.concat([Buffer.from([24]), Buffer.from([0, SPS.length]), SPS, Buffer.from([0, PPS.length]), PPS]),
          marker: false,
        }),
      );
      a.rtp(rtp({ seq: 2, ts: 0, payload: IDR }));
      a.rtp(rtp({ seq: 3, ts: 3000, payload: P }));
      assert.equal(frames.length, 2);
      assert.deepEqual(Buffer.from(frames[0].data), lengthPrefixed(SPS, PPS, IDR), 'STAP-A unpacked, in-band SPS/PPS kept once');
      assert.equal(frames[0].keyframe, true);
      assert.deepEqual(Buffer.from(frames[1].data), lengthPrefixed(P));
      assert.equal(frames[1].keyframe, false);
      assert.equal(frames[1].rtpTimestamp - frames[0].rtpTimestamp, 3000);
    });

    it('a keyframe without in-band SPS/PPS gets the SDP sprop-parameter-sets put before it (codec parameters)', () => {
      const { a, frames } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR }));
      assert.deepEqual(Buffer.from(frames[0].data), lengthPrefixed(SPS, PPS, IDR));
    });

    it('FU-A fragments (start, middle, end) are joined into one NAL unit with its header rebuilt', () => {
      const { a, frames } = assemble();
      const body = Buffer.from(Array.from({ length: 30 }, (_, i) => i + 1));
      const fu = (s: boolean, e: boolean, part: Buffer) => Buffer.concat([Buffer.from([0x60 | 28, (s ? 0x80 : 0) | (e ? 0x40 : 0) | 5]), part]);
      a.rtp(rtp({ seq: 10, ts: 900, marker: false, payload: fu(true, false, body.subarray(0, 10)) }));
      a.rtp(rtp({ seq: 11, ts: 900, marker: false, payload: fu(false, false, body.subarray(10, 20)) }));
      assert.equal(frames.length, 0, 'nothing before the marker');
      a.rtp(rtp({ seq: 12, ts: 900, payload: fu(false, true, body.subarray(20)) }));
      assert.equal(frames.length, 1);
      assert.deepEqual(Buffer.from(frames[0].data), lengthPrefixed(SPS, PPS, Buffer.concat([Buffer.from([0x65]), body])));
      assert.equal(frames[0].keyframe, true);
    });

    it('a frame whose marker is missing ends when the timestamp changes', () => {
      const { a, frames } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, marker: false, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 3000, marker: false, payload: P }));
      assert.equal(frames.length, 1);
      assert.equal(frames[0].keyframe, true);
    });
  });

  describe('H.265 (RFC 7798)', () => {
    const VPS = Buffer.from([0x40, 0x01, 0x0c, 0x01]);
    const HSPS = Buffer.from([0x42, 0x01, 0x01, 0x01, 0x60]);
    const HPPS = Buffer.from([0x44, 0x01, 0xc1, 0x72]);
    const TRAIL = Buffer.from([0x02, 0x01, 0xd0, 0x09]); // TRAIL_R, not a keyframe
    const H265 = parseSdp(
      sdp('H265/90000', `sprop-vps=${VPS.toString('base64')};sprop-sps=${HSPS.toString('base64')};sprop-pps=${HPPS.toString('base64')}`),
      'rtsp://127.0.0.1/rec/',
    );

    it('an aggregation packet (VPS, SPS, PPS) and FU fragments of an IDR_W_RADL make one keyframe', () => {
      const { a, frames } = assemble(H265);
      const ap = Buffer.concat([Buffer.from([48 << 1, 0x01]), ...[VPS, HSPS, HPPS].flatMap((n) => [Buffer.from([0, n.length]), n])]);
      const body = Buffer.from(Array.from({ length: 24 }, (_, i) => 0xa0 + i));
      // FU header: type 49 in the payload header, then S/E + the fragmented NAL's type (19 = IDR_W_RADL).
      const fu = (s: boolean, e: boolean, part: Buffer) => Buffer.concat([Buffer.from([49 << 1, 0x01, (s ? 0x80 : 0) | (e ? 0x40 : 0) | 19]), part]);
      a.rtp(rtp({ seq: 100, ts: 0, marker: false, payload: ap }));
      a.rtp(rtp({ seq: 101, ts: 0, marker: false, payload: fu(true, false, body.subarray(0, 8)) }));
      a.rtp(rtp({ seq: 102, ts: 0, marker: false, payload: fu(false, false, body.subarray(8, 16)) }));
      a.rtp(rtp({ seq: 103, ts: 0, payload: fu(false, true, body.subarray(16)) }));
      a.rtp(rtp({ seq: 104, ts: 3000, payload: TRAIL }));
      assert.equal(frames.length, 2);
      assert.deepEqual(Buffer.from(frames[0].data), lengthPrefixed(VPS, HSPS, HPPS, Buffer.concat([Buffer.from([19 << 1, 0x01]), body])));
      assert.equal(frames[0].keyframe, true);
      assert.deepEqual(Buffer.from(frames[1].data), lengthPrefixed(TRAIL));
      assert.equal(frames[1].keyframe, false);
    });

    it('a fragment that continues an FU never started drops the frame, and the stream waits for a keyframe', () => {
      const { a, frames } = assemble(H265);
      a.rtp(rtp({ seq: 1, ts: 0, payload: Buffer.from([49 << 1, 0x01, 0x40 | 19, 1, 2, 3]) })); // end fragment only
      a.rtp(rtp({ seq: 2, ts: 3000, payload: TRAIL }));
      assert.equal(frames.length, 0);
      assert.equal(a.dropped, 2, 'the broken frame and the P frame that depends on it');
    });
  });

  describe('ONVIF replay extension 0xABAC (Streaming spec §6.3)', () => {
    it('gives each frame its NTP time to the millisecond and its C/E/D flags', () => {
      const { a, frames } = assemble();
      a.rtp(rtp({ seq: 1, ts: 5000, payload: IDR, onvif: { ms: T0 + 1500.25, clean: true } }));
      a.rtp(rtp({ seq: 2, ts: 8000, payload: P, onvif: { ms: T0 + 1533, end: true } }));
      a.rtp(rtp({ seq: 3, ts: 9_000_000, payload: IDR, onvif: { ms: T0 + 600_000, clean: true, discontinuity: true } }));
      assert.deepEqual(
        frames.map((f) => [f.ntpTime.toISOString(), f.keyframe, f.flags.clean, f.flags.end, f.flags.discontinuity, f.flags.terminal]),
        [
          ['2026-01-01T10:00:01.500Z', true, true, false, false, false],
          ['2026-01-01T10:00:01.533Z', false, false, true, false, false],
          ['2026-01-01T10:10:00.000Z', true, true, false, true, false],
        ],
      );
      assert.equal(a.timeSource, 'onvif-extension');
    });

    it('the C flag makes a frame a clean point even when its NAL units do not say so', () => {
      const { a, frames } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, payload: P, onvif: { ms: T0, clean: true } }));
      assert.equal(frames.length, 1, 'not dropped while waiting for a keyframe');
      assert.equal(frames[0].keyframe, true);
    });

    it('the T flag marks the terminal frame and tells the session; the end itself waits for BYE or quiet', () => {
      const { a, frames, ends } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR, onvif: { ms: T0, clean: true } }));
      assert.equal(a.terminalSeen, false);
      a.rtp(rtp({ seq: 2, ts: 3000, payload: P, onvif: { ms: T0 + 33, terminal: true } }));
      assert.equal(a.terminalSeen, true);
      assert.equal(frames[1].flags.terminal, true);
      assert.deepEqual(ends, []);
    });

    it('says where the frames given out end (last frame + its duration): what decides a replay is complete', () => {
      const { a } = assemble();
      assert.equal(a.coveredUntilMs, undefined, 'nothing yet');
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR, onvif: { ms: T0, clean: true } }));
      assert.equal(a.coveredUntilMs, T0, 'one frame: no duration known');
      a.rtp(rtp({ seq: 2, ts: 6000, payload: P, onvif: { ms: T0 + 66 } }));
      assert.equal(a.coveredUntilMs, T0 + 66 + 66);
      // Across a gap the step is no frame's duration: nothing is claimed past the last frame.
      a.rtp(rtp({ seq: 3, ts: 900_000, payload: IDR, onvif: { ms: T0 + 10_000, clean: true, discontinuity: true } }));
      assert.equal(a.coveredUntilMs, T0 + 10_000);
    });

    it('a frame at or past the range end is not given: the stream ends there ("range-end")', () => {
      const { a, frames, ends } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR, onvif: { ms: to.getTime() - 40, clean: true } }));
      a.rtp(rtp({ seq: 2, ts: 3600, payload: P, onvif: { ms: to.getTime() } }));
      a.rtp(rtp({ seq: 3, ts: 7200, payload: P, onvif: { ms: to.getTime() - 1 } }));
      a.rtcp(BYE);
      assert.equal(frames.length, 1);
      assert.deepEqual(ends, ['range-end'], 'one end, nothing after it');
      assert.equal(a.finished, true);
    });
  });

  describe('wall time without the extension', () => {
    it('an RTCP sender report maps RTP time to wall time, also for frames before it; it wins over RTP-Info', () => {
      const { a, frames } = assemble();
      a.playReply('url=rtsp://127.0.0.1/rec/trackID=0;seq=1;rtptime=0', 'clock=20260101T100500Z-20260101T110000Z');
      a.rtcp(rtcpSr(T0 + 10_000, 90_000));
      a.rtp(rtp({ seq: 1, ts: 45_000, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 180_000, payload: P }));
      assert.deepEqual(
        frames.map((f) => f.ntpTime.toISOString()),
        ['2026-01-01T10:00:09.500Z', '2026-01-01T10:00:11.000Z'],
      );
      assert.equal(a.timeSource, 'rtcp-sr');
    });

    it('RTP-Info rtptime + the PLAY reply Range start, when no sender report came', () => {
      const { a, frames } = assemble();
      a.playReply('url=rtsp://127.0.0.1/rec/trackID=0;seq=1;rtptime=4290000000', 'clock=20260101T100005Z-20260101T110000Z');
      a.rtp(rtp({ seq: 1, ts: 4_290_000_000, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 4_290_000_000 + 9_000_000, payload: P })); // 100 s later, past 2^32
      assert.deepEqual(
        frames.map((f) => f.ntpTime.toISOString()),
        ['2026-01-01T10:00:05.000Z', '2026-01-01T10:01:45.000Z'],
      );
      assert.equal(a.timeSource, 'rtp-info');
    });

    it('nothing at all: times count from the asked start', () => {
      const { a, frames } = assemble();
      a.rtp(rtp({ seq: 1, ts: 77_777, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 77_777 + 9000, payload: P }));
      assert.deepEqual(
        frames.map((f) => f.ntpTime.getTime() - T0),
        [0, 100],
      );
      assert.equal(a.timeSource, 'range-start');
    });
  });

  describe('end: RTCP BYE', () => {
    it('BYE completes the frame in progress (its marker never came) and ends the stream; later packets are ignored', () => {
      const { a, frames, ends } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 3000, marker: false, payload: P }));
      a.rtcp(Buffer.concat([rtcpSr(T0, 0), BYE])); // a compound packet: SR then BYE
      a.rtp(rtp({ seq: 3, ts: 6000, payload: IDR }));
      assert.equal(frames.length, 2);
      assert.deepEqual(ends, ['bye']);
    });

    it('a sender report alone does not end anything', () => {
      const { a, ends } = assemble();
      a.rtcp(rtcpSr(T0, 0));
      assert.deepEqual(ends, []);
      assert.equal(a.finished, false);
    });
  });

  describe('sequence numbers: wrap and loss', () => {
    it('65535 → 0 is not a loss, and the RTP timestamp is unwrapped past 2^32', () => {
      const { a, frames } = assemble();
      const ts0 = 2 ** 32 - 3000;
      a.rtp(rtp({ seq: 65534, ts: ts0, marker: false, payload: [24, 0, SPS.length, ...SPS] }));
      a.rtp(rtp({ seq: 65535, ts: ts0, payload: IDR }));
      a.rtp(rtp({ seq: 0, ts: ts0 + 3000, payload: P }));
      a.rtp(rtp({ seq: 1, ts: ts0 + 6000, payload: P }));
      assert.equal(a.dropped, 0);
      assert.deepEqual(
        frames.map((f) => f.rtpTimestamp - frames[0].rtpTimestamp),
        [0, 3000, 6000],
      );
      assert.equal(frames[2].rtpTimestamp, ts0 + 6000, 'keeps growing past 2^32');
    });

    it('a lost FU middle drops that frame and the P frames after it until the next keyframe', () => {
      const { a, frames } = assemble();
      const fu = (s: boolean, e: boolean) => Buffer.from([0x60 | 28, (s ? 0x80 : 0) | (e ? 0x40 : 0) | 5, 0xaa, 0xbb]);
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 3000, marker: false, payload: fu(true, false) }));
      // seq 3 (the middle) is lost
      a.rtp(rtp({ seq: 4, ts: 3000, payload: fu(false, true) }));
      a.rtp(rtp({ seq: 5, ts: 6000, payload: P }));
      a.rtp(rtp({ seq: 6, ts: 9000, payload: IDR }));
      a.rtp(rtp({ seq: 7, ts: 12000, payload: P }));
      assert.deepEqual(
        frames.map((f) => f.rtpTimestamp),
        [0, 9000, 12000],
      );
      assert.equal(a.dropped, 2);
    });

    it('a loss where the timestamp changes: the frames on both sides are dropped (either may miss a part)', () => {
      const { a, frames } = assemble();
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR }));
      a.rtp(rtp({ seq: 2, ts: 3000, marker: false, payload: [0x41, 1] }));
      // seq 3 is lost: the end of the frame at 3000, or the start of the one at 6000
      a.rtp(rtp({ seq: 4, ts: 6000, payload: IDR }));
      a.rtp(rtp({ seq: 5, ts: 9000, payload: IDR }));
      assert.deepEqual(
        frames.map((f) => f.rtpTimestamp),
        [0, 9000],
      );
      assert.equal(a.dropped, 2);
    });

    it('malformed packets are counted as dropped; another payload type is ignored', () => {
      const { a, frames } = assemble();
      a.rtp(Buffer.from([0x40, 0x80, 0, 1])); // version 1, too short
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR, pt: 97 }));
      a.rtp(rtp({ seq: 2, ts: 3000, payload: IDR }));
      assert.equal(frames.length, 1);
      assert.equal(a.dropped, 1);
    });
  });

  it('a frame that grows past MAX_FRAME_BYTES is dropped, and the next keyframe comes through', () => {
    const { a, frames } = assemble();
    const chunk = Buffer.concat([Buffer.from([0x7c, 0x05]), Buffer.alloc(60_000, 7)]);
    let seq = 1;
    a.rtp(rtp({ seq: seq++, ts: 0, marker: false, payload: [0x7c, 0x85, 1] }));
    for (let sent = 0; sent <= MAX_FRAME_BYTES; sent += chunk.length) a.rtp(rtp({ seq: seq++, ts: 0, marker: false, payload: chunk }));
    a.rtp(rtp({ seq: seq++, ts: 0, payload: [0x7c, 0x45, 2] }));
    a.rtp(rtp({ seq: seq++, ts: 3000, payload: IDR }));
    assert.equal(a.dropped, 1);
    assert.deepEqual(
      frames.map((f) => f.rtpTimestamp),
      [3000],
    );
  });

  describe('range proof when the server refused Require: onvif-replay (551)', () => {
    it('a first frame with an extension time inside the range is accepted', () => {
      const { a, frames, errors } = assemble(H264, { mustProveRange: true });
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR, onvif: { ms: T0 + 5000, clean: true } }));
      assert.equal(frames.length, 1);
      assert.deepEqual(errors, []);
    });

    it('live frames (a time outside the range) fail the stream as permanent, and nothing is given', () => {
      const { a, frames, errors } = assemble(H264, { mustProveRange: true });
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR, onvif: { ms: T0 + 86_400_000, clean: true } }));
      a.rtp(rtp({ seq: 2, ts: 3000, payload: IDR, onvif: { ms: T0 + 5000, clean: true } }));
      assert.equal(frames.length, 0);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].kind, 'permanent');
      assert.match(errors[0].message, /streamed 2026-01-02T10:00:00.000Z instead of the asked range/);
    });

    it('no frame times at all cannot prove the range, also when the refusal came after the assembler was made', () => {
      const { a, errors } = assemble();
      a.requireRangeProof();
      a.rtp(rtp({ seq: 1, ts: 0, payload: IDR }));
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /carries no frame times/);
    });
  });

  describe('captured from the simulator (test/fixtures/rtp, made by capture-sim.ts)', () => {
    const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
    for (const { name, gap } of [
      { name: 'sim-h265', gap: false },
      { name: 'sim-h264-gap', gap: true },
    ]) {
      it(`${name}: every frame is a clip frame, byte for byte${gap ? '; E before the gap, D after it' : ''}; BYE ends it`, () => {
        const dir = join(packageRoot(), 'test', 'fixtures', 'rtp');
        const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as CaptureMeta;
        const bytes = readFileSync(join(dir, `${name}.rtp`));
        const track = parseSdp(meta.sdp, meta.contentBase);
        const { a, frames, ends, errors } = assemble(track, { from: new Date(meta.from), to: new Date(meta.to) });
        let markers = 0;
        const demux = new RtspStreamParser({
          message: () => assert.fail('only interleaved frames were captured'),
          data: (ch, p) => {
            if (ch === 0) {
              if (p[1] & 0x80) markers++;
              a.rtp(p);
            } else a.rtcp(p);
          },
        });
        // Cut where a socket might: frames split across chunks.
        for (let off = 0; off < bytes.length; off += 1000) demux.push(bytes.subarray(off, off + 1000));

        assert.deepEqual(ends, ['bye']);
        assert.deepEqual(errors, []);
        assert.equal(a.dropped, 0);
        assert.equal(frames.length, markers, 'one frame per marker packet');
        // The clip's access units in the MP4 sample format: what the depacketizer must rebuild.
        const clip = new Set(loadClip(meta.clip).frames.map((f) => md5(lengthPrefixed(...splitAnnexB(f.data).map((n) => Buffer.from(n))))));
        frames.forEach((f, i) => assert.ok(clip.has(md5(f.data)), `frame ${i} is not a frame of ${meta.clip}`));
        assert.equal(frames[0].keyframe, true);
        const times = frames.map((f) => f.ntpTime.getTime());
        assert.ok(
          times.every((t, i) => t >= new Date(meta.from).getTime() && t < new Date(meta.to).getTime() && (i === 0 || t > times[i - 1])),
          'in order, inside the range',
        );
        const gapAt = times.findIndex((t, i) => i > 0 && t - times[i - 1] > 500);
        assert.equal(gapAt > 0, gap, gap ? 'the range holds a gap' : 'no gap');
        if (gap) {
          assert.equal(frames[gapAt - 1].flags.end, true, 'E on the last frame before the gap');
          assert.equal(frames[gapAt].flags.discontinuity, true, 'D on the first frame after it');
        }
        assert.equal(frames.filter((f) => f.flags.end || f.flags.discontinuity).length, gap ? 2 : 0);
        assert.equal(a.timeSource, 'onvif-extension');
      });
    }
  });
});
