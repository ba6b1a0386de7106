// End-to-end replay against the simulator's RTSP server over loopback: what lands on disk is
// decodable MP4 with exactly the frames the recording holds in the range, bit-identical to the
// source clip, split at gaps; failures reject with clear errors and leave no .part files.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { FileNaming } from '../lib/sync/naming';
import { join } from 'node:path';
import { startRtspServer, type RtspServerHandle, type RtspServerOptions } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import { loadClip, packageRoot } from '../lib/sim/clips';
import type { SimCameraSpec, SimDeviceSpec, TimelineSpec } from '../lib/sim/types';
import { replayToFiles, ReplayToFilesError, type WrittenFile } from '../lib/media/replay-to-files';
import { frameMd5s, probe } from './support/media';

const AUTH = { user: 'admin', password: 's3cret!' };
// A recording that started a whole minute ago-ish, so every range below is in the past.
const REC_START = new Date(Math.floor((Date.now() - 3600_000) / 60_000) * 60_000);
const at = (sec: number) => new Date(REC_START.getTime() + sec * 1000);

const CLIPS = {
  H264: { clip: 'front-door-1080p-h264', ext: 'h264', width: 1920, height: 1080, ffcodec: 'h264' },
  H265: { clip: 'parking-720p-h265', ext: 'h265', width: 1280, height: 720, ffcodec: 'hevc' },
  MPEG4: { clip: 'warehouse-600p-mpeg4', ext: 'm4v', width: 800, height: 600, ffcodec: 'mpeg4' },
} as const;

function camera(codec: keyof typeof CLIPS, recording: TimelineSpec = { start: REC_START }): SimCameraSpec {
  const c = CLIPS[codec];
  return { name: `${codec} cam`, codec, width: c.width, height: c.height, fps: 15, bitrateKbps: 1000, clip: c.clip, recording };
}

function device(cameras: SimCameraSpec[]): SimDeviceSpec {
  return {
    name: 'test',
    manufacturer: 'VTrack Simulator',
    model: 't',
    firmware: '1',
    serial: 'T1',
    hardware: 't',
    location: 'loopback',
    urn: 'urn:uuid:11111111-1111-4111-a111-111111111111',
    port: 0,
    rtspPort: 0,
    cameras,
  };
}

describe('ONVIF replay → MP4 against the simulator', function () {
  this.timeout(60_000);
  let dir: string;
  const servers: RtspServerHandle[] = [];
  const start = async (cams: SimCameraSpec[], extra: Partial<RtspServerOptions> = {}) => {
    const s = await startRtspServer({ host: '127.0.0.1', port: 0, auth: AUTH, device: device(cams), ...extra });
    servers.push(s);
    return s;
  };
  const url = (s: RtspServerHandle, cam = 0) => `rtsp://127.0.0.1:${s.port}${replayPath(cam)}`;
  const naming = (prefix: string): FileNaming => ({ kind: 'camera-folder', folder: join(dir, prefix) });
  const leftovers = () => {
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    return walk(dir).filter((f) => f.endsWith('.part'));
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vtrack-replay-'));
  });
  afterEach(async () => {
    while (servers.length) await servers.pop()?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const codec of ['H264', 'H265', 'MPEG4'] as const) {
    it(`${codec}: 15 s from second 5 → one MP4, 225 frames, 15 s, bit-identical to the clip frames 75…299`, async () => {
      const s = await start([camera(codec)]);
      const files = await replayToFiles({ url: url(s), ...AUTH, from: at(5), to: at(20), naming: naming(codec) });
      assert.equal(files.length, 1);
      const f = files[0];
      assert.equal(f.codec, codec);
      assert.deepEqual([f.width, f.height], [CLIPS[codec].width, CLIPS[codec].height]);
      assert.equal(f.frames, 225);
      assert.equal(f.start.getTime(), at(5).getTime());
      assert.equal(f.end.getTime(), at(20).getTime());
      assert.ok(Math.abs(f.durationSec - 15) < 1e-6);
      const p = probe(f.path);
      assert.deepEqual([p.codec, p.width, p.height, p.frames], [CLIPS[codec].ffcodec, CLIPS[codec].width, CLIPS[codec].height, 225]);
      assert.ok(Math.abs(p.durationSec - 15) < 0.01, `duration ${p.durationSec}`);

      // Reference: the clip looped twice, decoded, frames 75..299 (recording frame n = clip frame n mod 150).
      const clipFile = join(packageRoot(), 'assets', 'clips', `${CLIPS[codec].clip}.${CLIPS[codec].ext}`);
      const looped = join(dir, `looped.${CLIPS[codec].ext}`);
      const raw = readFileSync(clipFile);
      writeFileSync(looped, Buffer.concat([raw, raw]));
      const fmt = codec === 'H264' ? 'h264' : codec === 'H265' ? 'hevc' : 'm4v';
      const want = frameMd5s(looped, fmt).slice(75, 300);
      assert.equal(want.length, 225);
      assert.deepEqual(frameMd5s(f.path), want);
    });
  }

  it('a recording with gaps yields one file per recorded interval and none spans a gap', async () => {
    // 20 s recorded, 10 s gap, repeating: [0,20) [30,50) …
    const s = await start([camera('H264', { start: REC_START, gaps: { onSec: 20, offSec: 10 } })]);
    const files = await replayToFiles({ url: url(s), ...AUTH, from: at(5), to: at(45), naming: naming('gaps') });
    assert.deepEqual(
      files.map((f) => [f.start.getTime() - REC_START.getTime(), f.end.getTime() - REC_START.getTime(), f.frames]),
      [
        [5000, 20000, 225],
        [30000, 45000, 225],
      ],
    );
    for (const f of files) {
      assert.equal(probe(f.path).frames, 225);
      assert.ok(!(f.start < at(30) && f.end > at(20)), 'no file covers the gap');
    }
  });

  it('wrong password → an auth error that does not print the password; nothing left on disk', async () => {
    const s = await start([camera('H264')]);
    const err = await replayToFiles({ url: url(s), user: 'admin', password: 'wrong-pw', from: at(0), to: at(2), naming: naming('auth') }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReplayToFilesError);
    assert.equal(err.kind, 'auth');
    assert.match(err.message, /authentication failed/);
    assert.doesNotMatch(err.message, /wrong-pw/);
    assert.deepEqual(leftovers(), []);
  });

  it('credentials given in the URL are masked in errors', async () => {
    const s = await start([camera('H264')], { supportsReplay: false });
    const err = await replayToFiles({
      url: `rtsp://admin:${encodeURIComponent(AUTH.password)}@127.0.0.1:${s.port}${replayPath(0)}`,
      from: at(0),
      to: at(2),
      naming: naming('x'),
    }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e as ReplayToFilesError,
    );
    assert.doesNotMatch(err.message, /s3cret/);
    assert.match(err.message, /\*\*\*@127\.0\.0\.1/);
  });

  it('a server without ONVIF replay (551) → a clear "does not support ONVIF replay" error', async () => {
    const s = await start([camera('H264')], { supportsReplay: false });
    const err = await replayToFiles({ url: url(s), ...AUTH, from: at(0), to: at(2), naming: naming('551') }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e as ReplayToFilesError,
    );
    assert.equal(err.kind, 'unsupported');
    assert.match(err.message, /does not support ONVIF replay \(551/);
  });

  it('a server that ignores Rate-Control: no still works, at about real time (speedX ≈ 1)', async () => {
    const s = await start([camera('H265')], { rateControl: 'ignore' });
    const files = await replayToFiles({ url: url(s), ...AUTH, from: at(10), to: at(12), naming: naming('rt') });
    assert.equal(files.length, 1);
    assert.equal(files[0].frames, 30);
    assert.ok(files[0].speedX > 0.6 && files[0].speedX < 1.3, `speedX ${files[0].speedX}`);
  });

  it('keeps the session alive past the server session timeout (GET_PARAMETER)', async () => {
    // Server drops sessions silent for 1 s; a real-time replay of 3 s needs keep-alives.
    const s = await start([camera('H264')], { rateControl: 'ignore', sessionTimeoutSec: 1 });
    const files = await replayToFiles({ url: url(s), ...AUTH, from: at(0), to: at(3), naming: naming('ka') });
    assert.equal(files[0].frames, 45);
  });

  it('abort signal rejects promptly with kind "aborted" and leaves no .part file', async () => {
    const s = await start([camera('H264')], { rateControl: 'ignore' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 700);
    const t0 = Date.now();
    const err = await replayToFiles({ url: url(s), ...AUTH, from: at(0), to: at(30), naming: naming('abort'), signal: ac.signal }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e as ReplayToFilesError,
    );
    assert.equal(err.kind, 'aborted');
    assert.ok(Date.now() - t0 < 3000);
    assert.deepEqual(leftovers(), []);
  });

  it('a server that stops sending mid-range → idle timeout error, what arrived kept as a finished file, no .part file', async () => {
    const s = await start([camera('MPEG4')], { stallAfterFrames: 20 });
    const err = await replayToFiles({ url: url(s), ...AUTH, from: at(0), to: at(30), naming: naming('idle'), timeouts: { idleMs: 800 } }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e as ReplayToFilesError,
    );
    assert.equal(err.kind, 'idle');
    assert.match(err.message, /idle timeout/);
    assert.deepEqual(leftovers(), []);
    assert.equal(err.completed.length, 1);
    assert.equal(err.completed[0].frames, 20);
    assert.equal(probe(err.completed[0].path).frames, 20);
  });

  it('a range reaching past "now" ends at the recording\'s live edge', async () => {
    const now = new Date(at(60).getTime());
    const s = await start([camera('H264')], { now: () => now });
    const files: WrittenFile[] = await replayToFiles({ url: url(s), ...AUTH, from: at(55), to: at(120), naming: naming('edge') });
    assert.equal(files.length, 1);
    assert.equal(files[0].frames, 75);
    assert.equal(files[0].end.getTime(), at(60).getTime());
  });

  it('loads clips into keyframe-led access units with codec config', () => {
    for (const codec of ['H264', 'H265', 'MPEG4'] as const) {
      const c = loadClip(CLIPS[codec].clip);
      assert.equal(c.frames.length, 150);
      assert.deepEqual(
        c.frames.map((f, i) => (f.keyframe ? i : -1)).filter((i) => i >= 0),
        [0, 15, 30, 45, 60, 75, 90, 105, 120, 135],
      );
      assert.deepEqual([c.width, c.height], [CLIPS[codec].width, CLIPS[codec].height]);
    }
  });
});
