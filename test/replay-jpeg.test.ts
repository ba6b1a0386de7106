// Motion-JPEG cameras end to end: the simulator's JPEG clip sent as RFC 2435 RTP, our
// depacketizer rebuilding each JPEG, and the MP4 (mp4v + esds, object type 0x6C) ffmpeg decodes —
// frame-exact against the clip. Plus the RFC 2435 corner cases: fragments by offset, lost
// fragments, the quantization table paths (in-band, cached, from Q), restart markers, type 0.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startRtspServer, type RtspServerHandle } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import { loadClip, packageRoot } from '../lib/sim/clips';
import { LOADING_DOCK_CAMERA, SEED_CAMERAS, nvrPreset, seedPreset } from '../lib/sim/presets';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import type { SimCameraSpec, SimDeviceSpec, TimelineSpec } from '../lib/sim/types';
import { packetizeJpeg } from '../lib/sim/rtp-packetize-jpeg';
import { clipPayloads } from '../lib/sim/rtp-packetize';
import { JpegDepacketizer, tablesForQ } from '../lib/rtsp/depacketize-jpeg';
import { createDepacketizer } from '../lib/rtsp/depacketize';
import { parseSdp } from '../lib/rtsp/sdp';
import { parseJpeg } from '../lib/media/jpeg';
import { replayToFiles } from '../lib/media/replay-to-files';
import type { FileNaming } from '../lib/sync/naming';
import { discover } from '../lib/onvif/discovery';
import { openCatalog, type Catalog } from '../lib/catalog';
import { saveSourceFromDevices } from '../lib/sources/save-from-devices';
import { SyncEngine } from '../lib/sync/engine';
import type { FileEvent } from '../lib/sync/types';
import { findAll, first, serviceUrlOf, soapCall } from './sim-helpers';
import { frameMd5s, probe } from './support/media';

const AUTH = { user: 'admin', password: 's3cret!' };
const CLIP = 'loading-dock-480p-jpeg';
const CLIP_FILE = join(packageRoot(), 'assets', 'clips', `${CLIP}.mjpeg`);
const REC_START = new Date(Math.floor((Date.now() - 3600_000) / 60_000) * 60_000);
const at = (sec: number) => new Date(REC_START.getTime() + sec * 1000);

function camera(recording: TimelineSpec = { start: REC_START }): SimCameraSpec {
  return { ...LOADING_DOCK_CAMERA, recording };
}

function device(cameras: SimCameraSpec[]): SimDeviceSpec {
  return {
    name: 'jpeg test',
    manufacturer: 'VTrack Simulator',
    model: 't',
    firmware: '1',
    serial: 'J1',
    hardware: 't',
    location: 'loopback',
    urn: 'urn:uuid:22222222-2222-4222-a222-222222222222',
    port: 0,
    rtspPort: 0,
    cameras,
  };
}

/** Deterministic shuffle (a tiny LCG) so a failure reproduces. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let s = seed >>> 0;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function depacketize(d: JpegDepacketizer, payloads: Buffer[]): Buffer {
  for (const p of payloads) d.push(p);
  const au = d.finish();
  assert.ok(au, 'a frame');
  assert.equal(au.keyframe, true);
  return au.data;
}

/** Bytes of the DQT tables, SOF and DRI of a rebuilt JPEG, as parsed. */
function headersOf(jpeg: Buffer) {
  const i = parseJpeg(jpeg);
  return {
    width: i.width,
    height: i.height,
    components: i.components,
    restartInterval: i.restartInterval,
    tables: [...i.quantTables].map(([id, t]) => [id, t.precision, t.data.toString('hex')]),
  };
}

describe('Motion-JPEG (RFC 2435) end to end', function () {
  this.timeout(120_000);
  let dir: string;
  const servers: RtspServerHandle[] = [];
  const clipMd5 = (() => {
    let cache: string[] | undefined;
    return () => (cache ??= frameMd5s(CLIP_FILE, 'mjpeg'));
  })();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vtrack-jpeg-'));
  });
  afterEach(async () => {
    while (servers.length) await servers.pop()?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the simulator clip and packetizer', () => {
    it('loads the clip as 50 JPEG frames of 640x480, every one a keyframe, about 1 MB in all', () => {
      const c = loadClip(CLIP);
      assert.equal(c.codec, 'JPEG');
      assert.equal(c.frames.length, 50);
      assert.ok(c.frames.every((f) => f.keyframe && f.data[0] === 0xff && f.data[1] === 0xd8));
      assert.deepEqual([c.width, c.height], [640, 480]);
      assert.ok(readFileSync(CLIP_FILE).length <= 1_100_000);
      assert.equal(frameMd5s(CLIP_FILE, 'mjpeg').length, 50, 'ffmpeg sees the same 50 frames');
    });

    it('sends type 1 (4:2:0), Q=255 with both tables in the first packet only, 640/8 x 480/8, contiguous offsets, no JFIF header', () => {
      const c = loadClip(CLIP);
      const frame = clipPayloads(c)[7];
      const src = parseJpeg(c.frames[7].data);
      assert.ok(frame.length > 3);
      let next = 0;
      frame.forEach((p, i) => {
        assert.ok(p.length <= 1400);
        assert.deepEqual([p[0], p.readUIntBE(1, 3), p[4], p[5], p[6], p[7]], [0, next, 1, 255, 80, 60]);
        const headerLen = i === 0 ? 8 + 4 + 128 : 8;
        if (i === 0) {
          assert.deepEqual([p[8], p[9], p.readUInt16BE(10)], [0, 0, 128], 'MBZ, 8-bit tables, 2 x 64 bytes');
          assert.equal(p.subarray(12, 76).toString('hex'), src.quantTables.get(src.components[0].tq)?.data.toString('hex'));
        }
        next += p.length - headerLen;
      });
      assert.equal(next, src.scan.length, 'the scan data and nothing else (no EOI)');
      assert.equal(
        frame.some((p) => p.includes(Buffer.from('JFIF'))),
        false,
      );
    });

    it('describes the JPEG camera with the static payload type 26 and is parsed as JPEG with or without rtpmap', () => {
      const withMap = parseSdp('v=0\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\n', 'rtsp://127.0.0.1/x');
      const bare = parseSdp('v=0\r\nm=video 0 RTP/AVP 26\r\n', 'rtsp://127.0.0.1/x');
      for (const t of [withMap, bare]) {
        assert.deepEqual([t.codec, t.payloadType, t.clockRate], ['JPEG', 26, 90000]);
        assert.ok(createDepacketizer(t) instanceof JpegDepacketizer);
      }
    });
  });

  describe('the depacketizer', () => {
    it('rebuilds every clip frame bit-exact in pixels from fragments of any size, in any order', () => {
      const c = loadClip(CLIP);
      const d = new JpegDepacketizer();
      const rebuilt: Buffer[] = [];
      c.frames.forEach((f, i) => {
        const max = 200 + ((i * 397) % 1300); // chunk boundaries differ per frame
        const out = depacketize(d, shuffled(packetizeJpeg(f.data, { max }), i + 1));
        const src = parseJpeg(f.data);
        const got = parseJpeg(out);
        assert.ok(got.scan.equals(src.scan), `frame ${i}: scan data`);
        assert.deepEqual(
          [got.width, got.height, got.components.map((x) => [x.h, x.v])],
          [
            640,
            480,
            [
              [2, 2],
              [1, 1],
              [1, 1],
            ],
          ],
        );
        rebuilt.push(out);
      });
      const file = join(dir, 'rebuilt.mjpeg');
      writeFileSync(file, Buffer.concat(rebuilt));
      assert.deepEqual(frameMd5s(file, 'mjpeg'), clipMd5());
    });

    it('drops a frame with a lost fragment (middle or first) and recovers with the next frame', () => {
      const c = loadClip(CLIP);
      const payloads = clipPayloads(c);
      const d = new JpegDepacketizer();
      const middleLost = payloads[3].filter((_, i) => i !== 2);
      for (const p of middleLost) d.push(p);
      assert.throws(() => d.finish(), /hole at byte/);
      const firstLost = payloads[4].slice(1);
      for (const p of firstLost) d.push(p);
      assert.throws(() => d.finish(), /without its first fragment/);
      const ok = depacketize(d, payloads[5]);
      assert.ok(parseJpeg(ok).scan.equals(parseJpeg(c.frames[5].data).scan));
      // A partial frame reset by the session (packet loss seen in RTP sequence numbers) leaves nothing behind.
      d.push(payloads[6][0]);
      d.reset();
      assert.equal(d.finish(), null);
    });

    it('Q 1..99: builds the RFC 2435 Appendix A tables (Q=50 is T.81 Annex K, zigzag order) and a JPEG ffmpeg decodes', () => {
      const [l50, c50] = tablesForQ(50);
      assert.deepEqual([...l50.data.subarray(0, 10)], [16, 11, 12, 14, 12, 10, 16, 14, 13, 14]);
      assert.deepEqual([...c50.data.subarray(0, 10)], [17, 18, 18, 24, 21, 24, 47, 26, 26, 47]);
      assert.equal(l50.data[63], 99);
      assert.deepEqual([tablesForQ(25)[0].data[0], tablesForQ(75)[0].data[0], tablesForQ(1)[0].data[63], tablesForQ(99)[1].data[63]], [32, 8, 255, 2]);

      const d = new JpegDepacketizer();
      const out = depacketize(d, packetizeJpeg(loadClip(CLIP).frames[0].data, { q: 50 }));
      const h = headersOf(out);
      assert.deepEqual(h.tables, [
        [0, 0, l50.data.toString('hex')],
        [1, 0, c50.data.toString('hex')],
      ]);
      const file = join(dir, 'q50.jpg');
      writeFileSync(file, out);
      const p = probe(file);
      assert.deepEqual([p.codec, p.width, p.height, p.frames], ['mjpeg', 640, 480, 1]);
    });

    it('Q 128..254: tables sent once are reused when a later frame sends Length 0; Q=255 without tables is refused', () => {
      const c = loadClip(CLIP);
      const d = new JpegDepacketizer();
      assert.throws(() => depacketize(d, packetizeJpeg(c.frames[0].data, { q: 200, sendTables: false })), /no quantization tables/);
      const withTables = depacketize(d, packetizeJpeg(c.frames[0].data, { q: 200 }));
      const reused = depacketize(d, packetizeJpeg(c.frames[1].data, { q: 200, sendTables: false }));
      assert.deepEqual(headersOf(reused).tables, headersOf(withTables).tables);
      const file = join(dir, 'reused.mjpeg');
      writeFileSync(file, Buffer.concat([withTables, reused]));
      assert.deepEqual(frameMd5s(file, 'mjpeg'), clipMd5().slice(0, 2));
      // Q=255 tables are per frame: a frame that lacks them cannot borrow the previous ones.
      const p = packetizeJpeg(c.frames[2].data, { q: 255 });
      const first = Buffer.concat([p[0].subarray(0, 8), Buffer.from([0, 0, 0, 0]), p[0].subarray(8 + 4 + 128)]);
      assert.throws(() => depacketize(d, [first, ...p.slice(1)]), /no quantization tables/);
    });

    it('restart markers (types 64+): restart header read, DRI written; type 0 rebuilt as 4:2:2 (luma 2x1)', () => {
      // Type 65 = 4:2:0 with restart markers every 4 MCUs: the restart header sits before the tables.
      const p = packetizeJpeg(loadClip(CLIP).frames[0].data)[0];
      const withRestart = Buffer.concat([p.subarray(0, 8), Buffer.from([0, 4, 0xff, 0xff]), p.subarray(8)]);
      withRestart[4] = 65;
      const d = new JpegDepacketizer();
      d.push(withRestart);
      const r = d.finish();
      assert.ok(r);
      assert.equal(headersOf(r.data).restartInterval, 4);
      assert.ok(parseJpeg(r.data).scan.equals(p.subarray(8 + 4 + 128)), 'restart and table headers are not scan data');
      assert.equal(headersOf(depacketize(d, [p])).restartInterval, 0, 'type 1: no DRI');

      // Type 0 (ffmpeg cannot encode RFC 2435's 4:2:2 layout, so the check is on the rebuilt headers).
      const t0 = Buffer.from(p);
      t0[4] = 0;
      assert.deepEqual(
        headersOf(depacketize(d, [t0])).components.map((x) => [x.id, x.h, x.v, x.tq]),
        [
          [1, 2, 1, 0],
          [2, 1, 1, 1],
          [3, 1, 1, 1],
        ],
      );
      const t2 = Buffer.from(p);
      t2[4] = 2;
      assert.throws(() => depacketize(d, [t2]), /unsupported RFC 2435 type 2/);
    });
  });

  describe('replay to MP4', () => {
    const start = async (cams: SimCameraSpec[]) => {
      const s = await startRtspServer({ host: '127.0.0.1', port: 0, auth: AUTH, device: device(cams) });
      servers.push(s);
      return s;
    };
    const url = (s: RtspServerHandle) => `rtsp://127.0.0.1:${s.port}${replayPath(0)}`;
    const naming = (): FileNaming => ({ kind: 'camera-folder', folder: join(dir, 'Loading Dock Camera') });

    it('15 s from second 5 → one .mp4, mjpeg 640x480, 75 frames, 15 s, pixel-identical to clip frames 25…99 (looped)', async () => {
      const s = await start([camera()]);
      const files = await replayToFiles({ url: url(s), ...AUTH, from: at(5), to: at(20), naming: naming() });
      assert.equal(files.length, 1);
      const f = files[0];
      assert.deepEqual([f.codec, f.width, f.height, f.frames], ['JPEG', 640, 480, 75]);
      assert.equal(f.start.getTime(), at(5).getTime());
      assert.equal(f.end.getTime(), at(20).getTime());
      assert.match(basename(f.path), /^Loading Dock Camera_.*\.mp4$/);
      const p = probe(f.path);
      assert.deepEqual([p.codec, p.width, p.height, p.frames], ['mjpeg', 640, 480, 75]);
      assert.ok(Math.abs(p.durationSec - 15) < 0.01, `duration ${p.durationSec}`);
      const looped = [...clipMd5(), ...clipMd5()];
      assert.deepEqual(frameMd5s(f.path), looped.slice(25, 100));
    });

    it('a motion-recorded JPEG camera gets one file per recorded interval', async () => {
      const s = await start([camera({ start: REC_START, gaps: { onSec: 20, offSec: 10 } })]);
      const files = await replayToFiles({ url: url(s), ...AUTH, from: at(5), to: at(45), naming: naming() });
      assert.deepEqual(
        files.map((f) => [f.start.getTime() - REC_START.getTime(), f.end.getTime() - REC_START.getTime(), f.frames]),
        [
          [5000, 20000, 75],
          [30000, 45000, 75],
        ],
      );
      for (const f of files) assert.equal(probe(f.path).frames, 75);
    });
  });

  describe('presets and ONVIF media', () => {
    it('the seed preset keeps its three cameras; the NVR cycles through them and the Loading Dock JPEG camera', () => {
      assert.deepEqual(
        seedPreset({ basePort: 0, historyMinutes: 5, channels: 0 }).map((d) => [d.cameras[0].name, d.cameras[0].codec]),
        [
          ['Front Door Camera', 'H264'],
          ['Parking Lot Camera', 'H265'],
          ['Warehouse Camera', 'MPEG4'],
        ],
      );
      assert.equal(SEED_CAMERAS.length, 3);
      const nvr = nvrPreset({ basePort: 0, historyMinutes: 5, channels: 5 })[0].cameras;
      assert.deepEqual(
        nvr.map((c) => [c.name, c.codec, !!c.recording.gaps]),
        [
          ['Channel 1 Front Door', 'H264', false],
          ['Channel 2 Parking Lot', 'H265', false],
          ['Channel 3 Warehouse', 'MPEG4', true],
          ['Channel 4 Loading Dock', 'JPEG', false],
          ['Channel 5 Front Door', 'H264', false],
        ],
      );
    });

    it("Media1 and Media2 report the JPEG channel's encoder as JPEG, 640x480", async () => {
      const sim = await startSimulator({ preset: 'nvr', channels: 4, basePort: 0, rtsp: false, discovery: false });
      try {
        for (const [service, ns] of [
          ['media', 'http://www.onvif.org/ver10/media/wsdl'],
          ['media2', 'http://www.onvif.org/ver20/media/wsdl'],
        ] as const) {
          const r = await soapCall(serviceUrlOf(sim.devices[0].xaddr, service), `<GetProfiles xmlns="${ns}"/>`);
          const profiles = findAll(r.doc, 'Profiles');
          assert.equal(profiles.length, 4);
          const enc = findAll(profiles[3], service === 'media' ? 'VideoEncoderConfiguration' : 'VideoEncoder')[0];
          assert.equal(first(enc, 'Encoding'), 'JPEG', service);
          assert.deepEqual([first(enc, 'Width'), first(enc, 'Height')], ['640', '480']);
        }
      } finally {
        await sim.stop();
      }
    });
  });

  describe('sync engine with the NVR preset', function () {
    let sim: RunningSimulator;
    let catalog: Catalog;
    let engine: SyncEngine;
    let root: string;

    after(async () => {
      await engine?.close();
      catalog?.close();
      await sim?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
    });

    it('discovers the Loading Dock channel as JPEG and syncs it next to an H.264 channel: decodable .mp4 files, 5 fps', async () => {
      sim = await startSimulator({ preset: 'nvr', channels: 4, basePort: 0, auth: AUTH, discovery: false, historyMinutes: 5 });
      root = mkdtempSync(join(tmpdir(), 'vtrack-jpeg-sync-'));
      catalog = openCatalog(join(root, 'catalog.db'));
      const devices = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, ...AUTH, timeoutMs: 3000 });
      const dock = devices[0].cameras.find((c) => c.name === 'Channel 4 Loading Dock');
      assert.equal(dock?.profiles[0]?.encoding, 'JPEG');
      const saved = await saveSourceFromDevices(catalog, {
        name: 'nvr',
        host: '127.0.0.1',
        ports: [sim.devices[0].port],
        devices,
        selection: { names: ['Channel 1 Front Door', 'Channel 4 Loading Dock'] },
        workingDirectory: join(root, 'downloads'),
      });
      engine = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 2, safetyMarginSec: 5 } });
      const files: FileEvent[] = [];
      engine.on('file', (f) => files.push(f));
      engine.addSource(saved.id, { schedule: false });
      const [summary] = await engine.syncNow(saved.id);
      assert.deepEqual(summary.errors, []);
      const jpeg = files.filter((f) => f.camera === 'Channel 4 Loading Dock');
      assert.ok(jpeg.length >= 2, `JPEG files: ${jpeg.length}`);
      assert.ok(files.some((f) => f.camera === 'Channel 1 Front Door'));
      for (const f of jpeg) {
        assert.equal(f.codec, 'JPEG');
        assert.match(f.path, /\.mp4$/);
        const p = probe(f.path);
        const expected = Math.round(((Date.parse(f.end) - Date.parse(f.start)) / 1000) * 5);
        assert.deepEqual([p.codec, p.width, p.height, p.frames], ['mjpeg', 640, 480, expected]);
        assert.equal(f.frames, expected);
        assert.ok(Math.abs(p.durationSec - f.durationSec) < 0.01);
      }
    });
  });
});
