// The RTSP-over-TCP stream parser: responses and `$` data frames share one byte stream and TCP
// may cut it anywhere, so every split point must give the same result.
import { strict as assert } from 'node:assert';
import { RtspStreamParser, type RtspMessage } from '../lib/rtsp/stream-parser';
import { parseRtp, rtcpHasBye } from '../lib/rtsp/rtp';
import { H264Depacketizer, H265Depacketizer } from '../lib/rtsp/depacketize';
import { packetizeH264, packetizeH265 } from '../lib/sim/rtp-packetize';
import { joinAnnexB } from '../lib/media/annexb';
import { joinLengthPrefixed, splitLengthPrefixed } from '../lib/media/length-prefixed';

type Event = { kind: 'msg'; status: number; cseq?: string; body: string } | { kind: 'data'; channel: number; hex: string };

function frame(channel: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 0x24;
  h[1] = channel;
  h.writeUInt16BE(payload.length, 2);
  return Buffer.concat([h, payload]);
}

function collect(chunks: Buffer[]): Event[] {
  const out: Event[] = [];
  const p = new RtspStreamParser({
    message: (m: RtspMessage) => out.push({ kind: 'msg', status: m.status, cseq: m.headers.get('cseq'), body: m.body.toString() }),
    data: (channel, payload) => out.push({ kind: 'data', channel, hex: payload.toString('hex') }),
  });
  for (const c of chunks) p.push(c);
  return out;
}

describe('RTSP stream parser', () => {
  const stream = Buffer.concat([
    frame(0, Buffer.from('80e0000100000000deadbeef0102030405', 'hex')),
    Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 7\r\nSession: ABC;timeout=60\r\n\r\n'),
    frame(1, Buffer.from('81cb0001deadbeef', 'hex')),
    Buffer.from('RTSP/1.0 200 OK\r\nCSeq: 8\r\nContent-Length: 5\r\n\r\nv=0\r\n'),
    frame(0, Buffer.alloc(300, 7)),
    frame(0, Buffer.alloc(0)),
  ]);
  const expected = collect([stream]);

  it('parses responses between data frames, in order, with bodies', () => {
    assert.deepEqual(
      expected.map((e) => (e.kind === 'msg' ? `msg ${e.status} ${e.cseq} ${e.body}` : `data ${e.channel} ${e.hex.length / 2}`)),
      ['data 0 17', 'msg 200 7 ', 'data 1 8', 'msg 200 8 v=0\r\n', 'data 0 300', 'data 0 0'],
    );
  });

  it('gives the same result for a split at every byte boundary', () => {
    for (let i = 1; i < stream.length; i++) {
      assert.deepEqual(collect([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
    }
  });

  it('gives the same result when fed one byte at a time', () => {
    const bytes: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
    assert.deepEqual(collect(bytes), expected);
  });

  it('skips garbage between frames and recovers', () => {
    const got = collect([Buffer.from([0x00, 0xff, 0x13]), stream]);
    assert.deepEqual(got, expected);
  });

  it('reads the ONVIF 0xABAC extension and RTCP BYE', () => {
    const rtp = Buffer.from('90e0000100000000deadbeef' + 'abac0003' + 'e9c2c6c0' + '80000000' + 'b0070000' + '65', 'hex');
    const p = parseRtp(rtp);
    assert.equal(p.marker, true);
    assert.ok(p.onvif);
    assert.equal(p.onvif.timeMs, (0xe9c2c6c0 - 2208988800) * 1000 + 500);
    assert.deepEqual([p.onvif.clean, p.onvif.end, p.onvif.discontinuity, p.onvif.terminal, p.onvif.cseq], [true, false, true, true, 7]);
    assert.deepEqual([...p.payload], [0x65]);
    assert.equal(rtcpHasBye(Buffer.from('81cb0001deadbeef', 'hex')), true);
    assert.equal(rtcpHasBye(Buffer.from('80c80006deadbeef0000000000000000000000000000000000000000', 'hex')), false);
  });
});

describe('RTP depacketizers', () => {
  const bigNal = (header: number[], len: number) => Buffer.concat([Buffer.from(header), Buffer.alloc(len, 0x5a)]);

  it('H.264: single NAL + FU-A round trip through the packetizer gives the same NAL units, length-prefixed', () => {
    const nals = [Buffer.from([0x67, 1, 2, 3]), Buffer.from([0x68, 4]), bigNal([0x65], 5000)];
    const au = joinAnnexB(nals);
    const d = new H264Depacketizer([]);
    const payloads = packetizeH264(au);
    assert.ok(payloads.length > 3, 'the IDR slice is fragmented');
    for (const p of payloads) d.push(p);
    const out = d.finish();
    assert.ok(out);
    assert.equal(out.keyframe, true);
    assert.deepEqual(out.data, joinLengthPrefixed(nals));
  });

  it('H.264: STAP-A is split into its NAL units', () => {
    const d = new H264Depacketizer([]);
    d.push(Buffer.from([24, 0, 2, 0x67, 9, 0, 1, 0x68]));
    d.push(Buffer.from([0x41, 1, 2]));
    const out = d.finish();
    assert.ok(out);
    assert.equal(out.keyframe, false);
    assert.deepEqual(
      splitLengthPrefixed(out.data).map((n) => [...n]),
      [[0x67, 9], [0x68], [0x41, 1, 2]],
    );
  });

  it('H.264: puts SDP parameter sets before a keyframe that lacks them', () => {
    const d = new H264Depacketizer([Buffer.from([0x67, 1]), Buffer.from([0x68, 2])]);
    d.push(Buffer.from([0x65, 9]));
    const out = d.finish();
    assert.ok(out);
    assert.deepEqual(
      splitLengthPrefixed(out.data).map((n) => n[0]),
      [0x67, 0x68, 0x65],
    );
  });

  it('H.265: FU and AP round trip', () => {
    const nals = [Buffer.from([0x40, 1, 7]), Buffer.from([0x42, 1, 8]), Buffer.from([0x44, 1, 9]), bigNal([0x28, 0x01], 4000)];
    const au = joinAnnexB(nals);
    const d = new H265Depacketizer([]);
    for (const p of packetizeH265(au)) d.push(p);
    const out = d.finish();
    assert.ok(out);
    assert.equal(out.keyframe, true);
    assert.deepEqual(out.data, joinLengthPrefixed(nals));
    d.push(Buffer.from([48 << 1, 1, 0, 3, 0x02, 0x01, 0xaa, 0, 2, 0x02, 0x01]));
    const ap = d.finish();
    assert.ok(ap);
    assert.deepEqual(
      splitLengthPrefixed(ap.data).map((n) => n.length),
      [3, 2],
    );
  });

  it('a fragment without its start throws (the session drops that frame)', () => {
    const d = new H264Depacketizer([]);
    assert.throws(() => d.push(Buffer.from([0x7c, 0x05, 1, 2])), /without a start/);
  });
});
