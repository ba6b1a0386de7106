// PS (Hikvision) and DHAV (Dahua) demuxers on byte fixtures: small hand-built streams whose every
// byte is known, and streams built from the simulator clips, fed in arbitrary chunk sizes. FFmpeg
// reads the same simulator bytes (-f mpeg / -f dhav) to the same decoded frames, so our muxers and
// demuxers agree with an independent reading of both formats.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PsDemuxer, type PsFrame } from '../lib/vendors/ps-demux';
import { DhavDemuxer, DhavTimer, dhavDate, dhavWallMs, type DhavFrame } from '../lib/vendors/dhav-demux';
import { dhavAudio, dhavFrame, imkhEnvelope, imkhHeader, psFrame } from '../lib/sim/vendor-media';
import { loadClip } from '../lib/sim/clips';
import { frameMd5s } from './support/media';

const H264_IDR = Buffer.from('00000001674d0028aaaa0000000168ee3c8000000001658884aabbccdd', 'hex');
const H264_P = Buffer.from('00000001419a2233445566', 'hex');
const H265_IDR = Buffer.from('0000000140010c01ffff0000000142010101600000000144010000000126010a0b0c0d', 'hex');
const H265_P = Buffer.from('00000001020101aabbcc', 'hex');

function feed<T>(push: (c: Uint8Array) => T[], bytes: Buffer, sizes: number[]): T[] {
  const out: T[] = [];
  let o = 0;
  for (let i = 0; o < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(...push(bytes.subarray(o, o + n)));
    o += n;
  }
  return out;
}

function psStream(frames: Array<{ data: Buffer; key: boolean }>, codec: 'H264' | 'H265', head: Buffer, pts0 = 1000): Buffer {
  return Buffer.concat([head, ...frames.map((f, i) => psFrame(f.data, f.key, codec, pts0 + i * 6000))]);
}

describe('MPEG-PS demuxer (Hikvision downloads)', () => {
  const frames = [
    { data: H264_IDR, key: true },
    { data: H264_P, key: false },
    { data: H264_P, key: false },
    { data: H264_IDR, key: true },
  ];

  for (const [label, head] of [
    ['40-byte IMKH header', imkhHeader('H264')],
    ['IMKH inside a 64-byte envelope', imkhEnvelope('H264')],
  ] as const) {
    it(`finds the first pack header behind the ${label} and returns every access unit`, () => {
      const bytes = psStream(frames, 'H264', head);
      for (const sizes of [[bytes.length], [1], [7, 3, 64], [13]]) {
        const d = new PsDemuxer();
        const out: PsFrame[] = [...feed((c) => d.push(c), bytes, sizes), ...d.flush()];
        assert.equal(out.length, 4, `chunks ${sizes}`);
        assert.deepEqual(
          out.map((f) => f.data.toString('hex')),
          frames.map((f) => f.data.toString('hex')),
        );
        assert.deepEqual(
          out.map((f) => f.keyframe),
          [true, false, false, true],
        );
        assert.deepEqual(
          out.map((f) => f.pts),
          [1000, 7000, 13000, 19000],
        );
        assert.ok(out.every((f) => f.codec === 'H264'));
        assert.equal(d.stats.skippedBytes, head.length, 'exactly the vendor header is skipped');
        assert.equal(d.stats.otherPackets, 2, 'the private 0xBD packets are skipped');
      }
    });
  }

  it('takes H.265 from the stream map (type 0x24) and IRAP pictures as keyframes', () => {
    const bytes = psStream(
      [
        { data: H265_IDR, key: true },
        { data: H265_P, key: false },
      ],
      'H265',
      imkhHeader('H265'),
    );
    const d = new PsDemuxer();
    const out = [...d.push(bytes), ...d.flush()];
    assert.deepEqual(
      out.map((f) => [f.codec, f.keyframe]),
      [
        ['H265', true],
        ['H265', false],
      ],
    );
  });

  it('joins a frame split over several PES packets (only the first with a PTS)', () => {
    const big = Buffer.concat([H264_IDR, Buffer.alloc(150_000, 0x5a)]);
    const d = new PsDemuxer();
    const out = [
      ...d.push(
        psStream(
          [
            { data: big, key: true },
            { data: H264_P, key: false },
          ],
          'H264',
          imkhHeader('H264'),
        ),
      ),
      ...d.flush(),
    ];
    assert.equal(out.length, 2);
    assert.ok(out[0].data.equals(big));
  });

  it('unwraps the 33-bit PTS', () => {
    const d = new PsDemuxer();
    const wrap = 2 ** 33;
    const bytes = Buffer.concat([
      imkhHeader('H264'),
      psFrame(H264_IDR, true, 'H264', wrap - 3000),
      psFrame(H264_P, false, 'H264', 3000),
      psFrame(H264_P, false, 'H264', 9000),
    ]);
    const out = [...d.push(bytes), ...d.flush()];
    assert.deepEqual(
      out.map((f) => f.pts),
      [wrap - 3000, wrap + 3000, wrap + 9000],
    );
  });

  it('resynchronises at the next pack after garbage in the middle', () => {
    const good = psStream(frames, 'H264', imkhHeader('H264'));
    const cut = good.indexOf(Buffer.from([0, 0, 1, 0xba]), 60);
    const bytes = Buffer.concat([good.subarray(0, cut), Buffer.from('ffeeddccbbaa998877', 'hex'), good.subarray(cut)]);
    const d = new PsDemuxer();
    const out = [...d.push(bytes), ...d.flush()];
    assert.equal(out.length, 4);
    assert.equal(d.stats.resyncs, 1);
  });

  it('refuses a body with no pack header in the first megabyte', () => {
    const d = new PsDemuxer();
    assert.throws(() => d.push(Buffer.alloc((1 << 20) + 10, 0x11)), /no MPEG-PS pack header/);
  });
});

function dhavBytes(list: Array<{ data: Buffer; key: boolean; wallMs: number }>, codec: 'H264' | 'H265', audio = true): Buffer {
  const parts: Buffer[] = [];
  list.forEach((f, i) => {
    parts.push(dhavFrame({ data: f.data, keyframe: f.key, codec, frameNumber: i, wallMs: f.wallMs, width: 1920, height: 1080, fps: 15, channel: 0 }));
    if (audio && i % 3 === 0) parts.push(dhavAudio(i, f.wallMs, 0));
  });
  return Buffer.concat(parts);
}

describe('DHAV demuxer (Dahua downloads)', () => {
  const T = Date.UTC(2026, 11, 2, 8, 0, 59, 800); // 200 ms before a second change

  it('packs and reads the date field as FFmpeg does (6/6/5/5/4/6 bits)', () => {
    const t = Date.UTC(2031, 6, 15, 23, 59, 58);
    assert.equal(dhavWallMs(dhavDate(t)), t);
    // seconds in the low 6 bits, year-2000 in the top 6
    assert.equal(dhavDate(Date.UTC(2026, 0, 1, 0, 0, 5)) & 0x3f, 5);
    assert.equal(dhavDate(Date.UTC(2026, 0, 1)) >>> 26, 26);
  });

  for (const codec of ['H264', 'H265'] as const) {
    it(`${codec}: frames, keyframe flags, codec from extension 0x81, audio skipped, any chunking`, () => {
      const [idr, p] = codec === 'H264' ? [H264_IDR, H264_P] : [H265_IDR, H265_P];
      const list = [0, 1, 2, 3, 4].map((i) => ({ data: i % 4 === 0 ? idr : p, key: i % 4 === 0, wallMs: T + i * 100 }));
      const bytes = dhavBytes(list, codec);
      for (const sizes of [[bytes.length], [1], [5, 50, 500]]) {
        const d = new DhavDemuxer();
        const out: DhavFrame[] = feed((c) => d.push(c), bytes, sizes);
        assert.deepEqual(
          out.map((f) => f.data.toString('hex')),
          list.map((f) => f.data.toString('hex')),
          `chunks ${sizes}`,
        );
        assert.deepEqual(
          out.map((f) => f.keyframe),
          [true, false, false, false, true],
        );
        assert.ok(out.every((f) => f.codec === codec));
        assert.equal(out[0].width, 1920);
        assert.equal(out[0].fps, 15);
        assert.equal(d.stats.audioFrames, 2);
        assert.equal(d.stats.badTrailers, 0);
      }
    });
  }

  it('times frames from the second stamps and the millisecond counter, back-filling the first second', () => {
    const list = [0, 1, 2, 3, 4, 5].map((i) => ({ data: i === 0 ? H264_IDR : H264_P, key: i === 0, wallMs: T + i * 100 }));
    const d = new DhavDemuxer();
    const timer = new DhavTimer();
    const out = d.push(dhavBytes(list, 'H264')).flatMap((f) => timer.push(f));
    out.push(...timer.flush());
    assert.deepEqual(
      out.map((x) => x.wallMs),
      list.map((f) => f.wallMs),
    );
  });

  it('skips a 1 KB "DAHUA" file header and garbage between frames', () => {
    const list = [0, 1, 2].map((i) => ({ data: i === 0 ? H264_IDR : H264_P, key: i === 0, wallMs: T + i * 100 }));
    const frames = dhavBytes(list, 'H264', false);
    const second = frames.indexOf('DHAV', 4, 'latin1');
    const head = Buffer.alloc(1024);
    head.write('DAHUA', 0, 'latin1');
    const bytes = Buffer.concat([head, frames.subarray(0, second), Buffer.from('DHAVxx garbage'), frames.subarray(second)]);
    const d = new DhavDemuxer();
    const out = d.push(bytes);
    assert.equal(out.length, 3);
  });
});

describe('simulator PS/DHAV bodies read by FFmpeg and by us give the clip frames', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'vtrack-demux-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [codec, clipId, ext] of [
    ['H264', 'front-door-1080p-h264', 'h264'],
    ['H265', 'parking-720p-h265', 'hevc'],
  ] as const) {
    it(`${codec}: 45 frames as PS and as DHAV`, () => {
      const clip = loadClip(clipId);
      const src = clip.frames.slice(0, 45);
      const es = join(dir, `src.${ext}`);
      writeFileSync(es, Buffer.concat(src.map((f) => f.data)));
      const expected = frameMd5s(es);
      assert.equal(expected.length, 45);

      const ps = Buffer.concat([imkhEnvelope(codec), ...src.map((f, i) => psFrame(f.data, f.keyframe, codec, 90_000 + i * 6000))]);
      const dhav = Buffer.concat(
        src.map((f, i) =>
          dhavFrame({
            data: f.data,
            keyframe: f.keyframe,
            codec,
            frameNumber: i,
            wallMs: T0 + (i * 1000) / 15,
            width: clip.width,
            height: clip.height,
            fps: 15,
            channel: 0,
          }),
        ),
      );
      const psFile = join(dir, 'a.mpg');
      const dhavFile = join(dir, 'a.dav');
      writeFileSync(psFile, ps.subarray(64)); // FFmpeg does not know the vendor header
      writeFileSync(dhavFile, dhav);
      assert.deepEqual(frameMd5s(psFile, 'mpeg'), expected, 'FFmpeg reads our PS');
      assert.deepEqual(frameMd5s(dhavFile, 'dhav'), expected, 'FFmpeg reads our DHAV');

      const pd = new PsDemuxer();
      const psOut = [...pd.push(ps), ...pd.flush()];
      const dd = new DhavDemuxer();
      const dhOut = dd.push(dhav);
      for (const out of [psOut, dhOut]) {
        assert.equal(out.length, 45);
        out.forEach((f, i) => {
          assert.ok(f.data.equals(src[i].data), `frame ${i}`);
          assert.equal(f.keyframe, src[i].keyframe);
        });
      }
    });
  }
});
const T0 = Date.UTC(2026, 11, 2, 8, 0, 0);
