// Vendor sessions (what the sync engine drives): which API a port speaks, the NVR's cameras under
// their channel names, recorded intervals and range downloads into MP4 files, one login attempt.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { openVendorSession, probeVendor } from '../lib/vendors/driver';
import { VendorError } from '../lib/vendors/errors';
import { ReplayToFilesError } from '../lib/media/replay-types';
import { discover } from '../lib/onvif/discovery';
import { frameMd5s } from './support/media';

const AUTH = { user: 'admin', password: 'Sim-pass1' };

describe('vendor sessions', function () {
  this.timeout(60_000);
  let dir: string;
  const sims: RunningSimulator[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'vtrack-vdriver-'))));
  after(async () => {
    for (const s of sims) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const sim = async (preset: 'hikvision' | 'dahua' | 'seed', utcOffsetMin = 120) => {
    const s = await startSimulator({ preset, basePort: 0, historyMinutes: 15, auth: AUTH, discovery: false, rtsp: false, vendor: { utcOffsetMin } });
    sims.push(s);
    return s;
  };

  it('probes which vendor API answers: Hikvision, Dahua, neither (an ONVIF-only device)', async () => {
    const h = await sim('hikvision');
    const d = await sim('dahua');
    const o = await sim('seed');
    assert.equal(await probeVendor('127.0.0.1', h.devices[0].port, AUTH, 5000), 'hikvision');
    assert.equal(await probeVendor('127.0.0.1', d.devices[0].port, AUTH, 5000), 'dahua');
    assert.equal(await probeVendor('127.0.0.1', o.devices[0].port, AUTH, 5000), undefined);
  });

  it('discovery (no login) says which vendor API a non-ONVIF port speaks', async () => {
    const h = await sim('hikvision');
    const d = await sim('dahua');
    const found = await discover({ targets: [`127.0.0.1:${h.devices[0].port}`, `127.0.0.1:${d.devices[0].port}`], timeoutMs: 3000 });
    assert.deepEqual(
      found.map((x) => [x.port, x.onvif, x.errorCode, x.vendorApi]),
      [
        [h.devices[0].port, false, 'not-onvif', 'hikvision'],
        [d.devices[0].port, false, 'not-onvif', 'dahua'],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
    assert.match(found.find((x) => x.vendorApi === 'dahua')?.error ?? '', /answers like a Dahua HTTP API recorder: sync it with the dahua driver/);
    for (const s of [h, d])
      assert.equal((s as unknown as { vendor: { gate: { stats: { credentialed: number } } } }).vendor.gate.stats.credentialed, 0, 'no login spent');
  });

  it('a wrong password while probing costs one login attempt in all', async () => {
    const s = await startSimulator({ preset: 'dahua', basePort: 0, historyMinutes: 5, auth: AUTH, discovery: false });
    sims.push(s);
    const vendor = (s as unknown as { vendor: { gate: { stats: { credentialed: number } } } }).vendor;
    await assert.rejects(
      probeVendor('127.0.0.1', s.devices[0].port, { user: 'admin', password: 'nope' }, 5000),
      (e: unknown) => e instanceof VendorError && e.kind === 'auth',
    );
    assert.equal(vendor.gate.stats.credentialed, 1);
  });

  for (const [preset, offset] of [
    ['hikvision', -300],
    ['dahua', 120],
  ] as const) {
    it(`${preset}: cameras by channel name, recorded intervals and a range into frame-exact files (UTC offset ${offset} min)`, async () => {
      const s = await sim(preset, offset);
      const session = await openVendorSession(preset, '127.0.0.1', s.devices[0].port, AUTH, 5000);
      assert.deepEqual(
        session.device.cameras.map((c) => [c.name, c.token, c.profiles[0].encoding]),
        [
          ['Front Door', 'ch1', 'H264'],
          ['Parking Lot', 'ch2', 'H265'],
          ['Warehouse', 'ch3', 'H264'],
        ],
      );
      assert.ok(Math.abs(session.clockOffsetMs) < 2000);
      const rec = s.devices[0].spec.cameras[2].recording.start.getTime();
      const ivs = await session.recordedIntervals('ch3', new Date(rec - 60_000), new Date(rec + 600_000));
      // Recorded 0–240 s and 360–600 s (listed as 300 s files: 0–240, 360–600 cut at 300).
      const merged = ivs.reduce<Array<[number, number]>>((acc, i) => {
        const [a, b] = [i.start.getTime() - rec, i.end.getTime() - rec];
        const last = acc[acc.length - 1];
        if (last && last[1] === a) last[1] = b;
        else acc.push([a, b]);
        return acc;
      }, []);
      assert.deepEqual(merged, [
        [0, 240_000],
        [360_000, 600_000],
      ]);
      const files = await session.download('ch3', {
        from: new Date(rec + 220_000),
        to: new Date(rec + 380_000),
        naming: { kind: 'camera-folder', folder: join(dir, preset) },
      });
      assert.deepEqual(
        files.map((f) => [f.start.getTime() - rec, f.end.getTime() - rec]),
        [
          [220_000, 240_000],
          [360_000, 380_000],
        ],
        'the motion gap splits the range',
      );
      assert.equal(frameMd5s(files[0].path).length, 300);
    });
  }

  it('a download failure is a ReplayToFilesError with the kind the runner retries by', async () => {
    const s = await sim('hikvision');
    const session = await openVendorSession('hikvision', '127.0.0.1', s.devices[0].port, AUTH, 5000);
    await s.stop();
    await assert.rejects(
      session.download('ch1', {
        from: new Date(Date.now() - 120_000),
        to: new Date(Date.now() - 60_000),
        naming: { kind: 'camera-folder', folder: join(dir, 'x') },
      }),
      (e: unknown) => e instanceof ReplayToFilesError && e.kind === 'network',
    );
  });
});
