// The Hikvision ISAPI and Dahua HTTP clients against the vendor simulators over loopback: clocks in
// other zones give correct UTC times, search paging (short pages, ignored positions), channel
// numbering, the lockout rules (one login attempt, lock answers), and downloads whose frames, written
// to MP4, decode to exactly the source clip's frames (framemd5).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vendorPreset } from '../lib/sim/presets';
import { startHikvisionSim, type HikvisionSimOptions, type RunningVendorSim } from '../lib/sim/vendor-hikvision';
import { startDahuaSim, type DahuaSimOptions } from '../lib/sim/vendor-dahua';
import { RecordingTimeline } from '../lib/sim/timeline';
import { loadClip } from '../lib/sim/clips';
import { VendorHttp } from '../lib/vendors/http';
import { VendorError, WRONG_PASSWORD } from '../lib/vendors/errors';
import { HikvisionClient } from '../lib/vendors/hikvision';
import { DahuaClient } from '../lib/vendors/dahua';
import { cutToRange, framesToFiles, type VendorFrame } from '../lib/vendors/frames';
import type { SimDeviceSpec } from '../lib/sim/types';
import { frameMd5s, probe } from './support/media';

const AUTH = { user: 'admin', password: 'Sim-pass1' };
const NOW = Date.now();
const device = (): SimDeviceSpec => vendorPreset('hikvision', { basePort: 0, historyMinutes: 20, channels: 3, now: new Date(NOW) })[0];
const dahuaDevice = (): SimDeviceSpec => vendorPreset('dahua', { basePort: 0, historyMinutes: 20, channels: 3, now: new Date(NOW) })[0];

/** What the simulator recorded for a camera, in UTC. */
function recorded(dev: SimDeviceSpec, i: number, from: number, to: number) {
  return new RecordingTimeline(dev.cameras[i].recording).intervals(new Date(from), new Date(to)).map((iv) => [iv.start.getTime(), iv.end.getTime()]);
}

/** Union of [start, end) spans, merged where they touch. */
function union(spans: Array<[number, number]>): Array<[number, number]> {
  const s = [...spans].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
    else out.push([...x]);
  }
  return out;
}

async function collect(g: AsyncIterable<VendorFrame>): Promise<VendorFrame[]> {
  const out: VendorFrame[] = [];
  for await (const f of g) out.push(f);
  return out;
}

describe('vendor clients against the simulators', function () {
  this.timeout(120_000);
  let dir: string;
  const sims: RunningVendorSim[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'vtrack-vendors-'))));
  after(async () => {
    for (const s of sims) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hik = async (o: Partial<HikvisionSimOptions> = {}, dev = device()) => {
    const sim = await startHikvisionSim({ host: '127.0.0.1', port: 0, device: dev, auth: AUTH, utcOffsetMin: 120, ...o });
    sims.push(sim);
    return { sim, dev, client: new HikvisionClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, ...AUTH })) };
  };
  const dahua = async (o: Partial<DahuaSimOptions> = {}, dev = dahuaDevice()) => {
    const sim = await startDahuaSim({ host: '127.0.0.1', port: 0, device: dev, auth: AUTH, utcOffsetMin: 120, ...o });
    sims.push(sim);
    return { sim, dev, client: new DahuaClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, ...AUTH })) };
  };

  /** framemd5 of the clip frames the recording shows at [fromMs, toMs) (fps 15). */
  const expectedMd5 = (dev: SimDeviceSpec, cam: number, fromMs: number, toMs: number): string[] => {
    const c = dev.cameras[cam];
    const clip = loadClip(c.clip);
    const rec = c.recording.start.getTime();
    const first = Math.ceil(((fromMs - rec) * c.fps) / 1000 - 1e-6);
    const end = Math.ceil(((toMs - rec) * c.fps) / 1000 - 1e-6);
    const es = join(dir, `expected-${cam}.${clip.codec === 'H265' ? 'hevc' : 'h264'}`);
    const frames = [];
    for (let n = first; n < end; n++) frames.push(clip.frames[n % clip.frames.length].data);
    writeFileSync(es, Buffer.concat(frames));
    return frameMd5s(es);
  };

  describe('Hikvision ISAPI', () => {
    it('reads device info and the channel names from InputProxy', async () => {
      const { client } = await hik();
      const info = await client.deviceInfo();
      assert.equal(info.model, 'DS-7608NI-SIM');
      assert.deepEqual(
        (await client.channels()).map((c) => c.name),
        ['Front Door', 'Parking Lot', 'Warehouse'],
      );
    });

    for (const offset of [120, -300]) {
      it(`a clock at UTC${offset > 0 ? '+' : '−'}${Math.abs(offset / 60)}:00 written with "Z" gives the recordings' true UTC times`, async () => {
        const { client, dev } = await hik({ utcOffsetMin: offset });
        const c = await client.clock();
        assert.equal(c.zone.standardMin, offset);
        assert.ok(c.zMeansLocal);
        assert.ok(Math.abs(c.skewMs) < 2000, `skew ${c.skewMs}`);
        const from = NOW - 3600_000;
        const r = await client.search(3, from, NOW);
        const got = union(r.items.map((m) => [m.startUtc, m.endUtc] as [number, number]));
        const want = recorded(dev, 2, from, NOW);
        assert.equal(got.length, want.length, 'motion gaps → separate recorded spans');
        got.forEach((g, i) => {
          assert.equal(g[0], want[i][0]);
          if (i < got.length - 1) assert.equal(g[1], want[i][1]);
        });
      });
    }

    it('pages with searchResultPostion until OK (5 per page here) and gets every item once', async () => {
      const { client, sim, dev } = await hik({ pageSize: 5, fileSec: 60 });
      const r = await client.search(1, NOW - 3600_000, NOW - 60_000);
      const start = dev.cameras[0].recording.start.getTime();
      assert.ok(r.items.length >= 18, `${r.items.length} items`);
      assert.equal(r.items[0].startUtc, start);
      r.items.forEach((m, i) => i > 0 && assert.equal(m.startUtc, r.items[i - 1].endUtc, 'contiguous, no repeats'));
      assert.equal(r.pages, Math.ceil(r.items.length / 5));
      assert.equal(sim.requests.get('/ISAPI/ContentMgmt/search'), r.pages);
      assert.deepEqual(r.warnings, []);
    });

    it('firmware that ignores the position: notices the repeated page and pages by time instead', async () => {
      const { client } = await hik({ pageSize: 5, fileSec: 60, ignorePosition: true });
      const { client: good } = await hik({ pageSize: 5, fileSec: 60 });
      const from = NOW - 3600_000;
      const r = await client.search(1, from, NOW - 60_000);
      const ref = await good.search(1, from, NOW - 60_000);
      assert.deepEqual(
        r.items.map((m) => [m.startUtc, m.endUtc]),
        ref.items.map((m) => [m.startUtc, m.endUtc]),
      );
      assert.match(r.warnings.join(';'), /ignores searchResultPostion/);
    });

    it('a wrong password: exactly one request with credentials, then a clear error, and no more requests', async () => {
      const { sim } = await hik();
      const client = new HikvisionClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, user: 'admin', password: 'wrong' }));
      await assert.rejects(client.deviceInfo(), (e: unknown) => e instanceof VendorError && e.kind === 'auth' && e.message === WRONG_PASSWORD);
      await assert.rejects(client.channels(), (e: unknown) => e instanceof VendorError && e.kind === 'auth');
      assert.equal(sim.gate.stats.credentialed, 1);
      assert.equal(sim.requests.get('/ISAPI/ContentMgmt/InputProxy/channels'), undefined, 'the second call never reached the NVR');
      assert.match(WRONG_PASSWORD, /wrong password — the NVR locks the account after a few failures/);
    });

    it('a locked account is reported as such, with its unlock time', async () => {
      const { sim } = await hik({ lockAfter: 1 });
      const client = new HikvisionClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, user: 'admin', password: 'wrong' }));
      const t = Date.now();
      await assert.rejects(client.deviceInfo(), (e: unknown) => {
        assert.ok(e instanceof VendorError && e.kind === 'locked', String(e));
        assert.equal(e.details.unlockInSec, 1800);
        assert.ok(e.details.unlockAt && Math.abs(e.details.unlockAt.getTime() - (t + 1800_000)) < 5000);
        assert.match(e.message, /locked this account .* until 20\d\d-/);
        return true;
      });
      // The right password now also meets the lock (as on the device): reported, not retried.
      const right = new HikvisionClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, ...AUTH }));
      await assert.rejects(right.deviceInfo(), (e: unknown) => e instanceof VendorError && e.kind === 'locked');
    });

    it('download: GET on newer firmware is refused, POST is used from then on', async () => {
      const { client, sim, dev } = await hik({ downloadMethod: 'POST' });
      const recs = (await client.search(1, NOW - 3600_000, NOW)).items;
      const a = recs[0].startUtc;
      assert.equal((await collect(client.download(recs[0], a, a + 2000))).length, 30);
      assert.equal((await collect(client.download(recs[0], a + 2000, a + 4000))).length, 30);
      assert.equal(sim.requests.get('/ISAPI/ContentMgmt/download'), 3, 'one refused GET, then two POSTs');
      void dev;
    });

    it('download: classic firmware takes GET with the XML body', async () => {
      const { client, sim } = await hik({ downloadMethod: 'GET', envelope: true });
      const recs = (await client.search(2, NOW - 3600_000, NOW)).items;
      const frames = await collect(client.download(recs[0], recs[0].startUtc, recs[0].startUtc + 1000));
      assert.equal(frames.length, 15);
      assert.ok(frames.every((f) => f.codec === 'H265'));
      assert.equal(sim.requests.get('/ISAPI/ContentMgmt/download'), 1);
    });

    for (const cam of [0, 1]) {
      it(`download → MP4 is frame-exact against the clip (${cam === 0 ? 'H.264' : 'H.265'}), times in UTC at +02:00`, async () => {
        const { client, dev } = await hik();
        await client.clock();
        const recs = (await client.search(cam + 1, NOW - 3600_000, NOW)).items;
        const a = recs[0].startUtc + 60_000;
        const b = a + 30_000;
        const rec = recs.find((r) => r.startUtc <= a && r.endUtc >= b) ?? recs[0];
        const files = await framesToFiles(cutToRange(client.download(rec, a, b), a, b), {
          finalPath: (s, e) => join(dir, `hik-${cam}-${s.getTime()}-${e.getTime()}.mp4`),
        });
        assert.equal(files.length, 1);
        assert.equal(files[0].start.getTime(), a);
        assert.equal(files[0].end.getTime(), b);
        assert.equal(files[0].frames, 450);
        assert.deepEqual(frameMd5s(files[0].path), expectedMd5(dev, cam, a, b));
        assert.equal(probe(files[0].path, { decode: false }).codec, cam === 0 ? 'h264' : 'hevc');
      });
    }
  });

  describe('Dahua HTTP API', () => {
    it('reads device info, channel titles (0-based) and a −05:00 clock', async () => {
      const { client, dev } = await dahua({ utcOffsetMin: -300 });
      assert.equal((await client.deviceInfo()).model, 'DHI-NVR4108-SIM');
      assert.deepEqual(
        (await client.channels()).map((c) => [c.index, c.name]),
        [
          [0, 'Front Door'],
          [1, 'Parking Lot'],
          [2, 'Warehouse'],
        ],
      );
      const c = await client.clock();
      assert.equal(c.zone.standardMin, -300);
      const from = NOW - 3600_000;
      const items = await client.search(2, from, NOW);
      const got = union(items.map((m) => [m.startUtc, m.endUtc] as [number, number]));
      const want = recorded(dev, 2, from, NOW);
      assert.deepEqual(
        got.map((g) => g[0]),
        want.map((w) => w[0]),
      );
    });

    it('findNextFile until found=0: short pages are not the end', async () => {
      const { client, sim, dev } = await dahua({ fileSec: 60 });
      const items = await client.search(0, NOW - 3600_000, NOW - 60_000);
      assert.ok(items.length >= 18, `${items.length}`);
      assert.equal(items[0].startUtc, dev.cameras[0].recording.start.getTime());
      items.forEach((m, i) => i > 0 && assert.equal(m.startUtc, items[i - 1].endUtc));
      assert.ok((sim.requests.get('/cgi-bin/mediaFileFind.cgi?findNextFile') ?? 0) > 3, 'several short pages');
      assert.equal(
        sim.requests.get('/cgi-bin/mediaFileFind.cgi?destroy'),
        sim.requests.get('/cgi-bin/mediaFileFind.cgi?factory.create'),
        'every finder destroyed',
      );
    });

    for (const base of [0, 1] as const) {
      it(`detects ${base}-based channel numbering`, async () => {
        const { client } = await dahua({ channelBase: base });
        assert.equal(await client.detectChannelBase(3), base);
        const items = await client.search(1, NOW - 3600_000, NOW);
        assert.ok(items.length > 0);
        assert.ok(items.every((i) => i.channel === 1 + base));
      });
    }

    it('a wrong password: exactly one request with credentials and a clear error', async () => {
      const { sim } = await dahua();
      const client = new DahuaClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, user: 'admin', password: 'wrong' }));
      await assert.rejects(client.deviceInfo(), (e: unknown) => e instanceof VendorError && e.kind === 'auth' && e.message === WRONG_PASSWORD);
      await assert.rejects(client.clock(), (e: unknown) => e instanceof VendorError && e.kind === 'auth');
      assert.equal(sim.gate.stats.credentialed, 1);
    });

    it('a locked account is reported with its unlock time', async () => {
      const { sim } = await dahua({ lockAfter: 1, lockMs: 600_000 });
      const client = new DahuaClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, user: 'admin', password: 'wrong' }));
      await assert.rejects(client.deviceInfo(), (e: unknown) => e instanceof VendorError && e.kind === 'locked' && e.details.unlockInSec === 600);
    });

    for (const cam of [0, 1]) {
      it(`download → MP4 is frame-exact (${cam === 0 ? 'H.264' : 'H.265'}); a start inside a GOP is cut at the keyframe before it`, async () => {
        const { client, dev } = await dahua({ utcOffsetMin: -300 });
        await client.clock();
        const start = dev.cameras[cam].recording.start.getTime();
        const a = start + 60_000 + 400; // inside a GOP (keyframes every whole second)
        const b = start + 90_000;
        const files = await framesToFiles(cutToRange(client.download(cam, a, b), a, b), {
          finalPath: (s, e) => join(dir, `dh-${cam}-${s.getTime()}-${e.getTime()}.mp4`),
        });
        assert.equal(files.length, 1);
        assert.equal(files[0].start.getTime(), start + 60_000, 'starts at the keyframe at or before the range start');
        assert.equal(files[0].end.getTime(), b);
        assert.deepEqual(frameMd5s(files[0].path), expectedMd5(dev, cam, start + 60_000, b));
      });
    }

    it('long ranges are fetched in windows (6 h on devices; 7.5 s here) and join into one frame-exact file without repeats', async () => {
      const { sim, dev } = await dahua();
      const client = new DahuaClient(new VendorHttp({ host: '127.0.0.1', port: sim.port, ...AUTH }), 7500);
      await client.clock();
      const start = dev.cameras[0].recording.start.getTime();
      const a = start + 30_000;
      const b = a + 20_000;
      const files = await framesToFiles(cutToRange(client.download(0, a, b), a, b), {
        finalPath: (s, e) => join(dir, `win-${s.getTime()}-${e.getTime()}.mp4`),
      });
      assert.equal(sim.requests.get('/cgi-bin/loadfile.cgi?startLoad'), 3);
      assert.equal(files.length, 1);
      assert.deepEqual([files[0].start.getTime(), files[0].end.getTime()], [a, b]);
      assert.deepEqual(frameMd5s(files[0].path), expectedMd5(dev, 0, a, b));
    });

    it('a range across the motion gap gives two files, the gap skipped', async () => {
      const { client, dev } = await dahua();
      await client.clock();
      const start = dev.cameras[2].recording.start.getTime();
      const a = start + 200_000;
      const b = start + 420_000; // recorded 0–240 s and 360–600 s
      const files = await framesToFiles(cutToRange(client.download(2, a, b), a, b), {
        finalPath: (s, e) => join(dir, `gap-${s.getTime()}-${e.getTime()}.mp4`),
      });
      assert.deepEqual(
        files.map((f) => [f.start.getTime() - start, f.end.getTime() - start]),
        [
          [200_000, 240_000],
          [360_000, 420_000],
        ],
      );
    });
  });
});
