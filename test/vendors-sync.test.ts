// Sync against the Hikvision and Dahua simulators through the vendor drivers, end to end: files per
// camera in folders named after the NVR's channel names, frame-exact against the source clip, the
// motion gap skipped, UTC file times whatever the NVR's zone, a second pass fetching nothing, and a
// wrong password costing one login attempt per pass. Plus the CLI: `sync --once` finds the vendor
// API by itself (--driver auto) and records the driver.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import type { RunningVendorSim } from '../lib/sim/vendor-hikvision';
import { openCatalog, type Catalog } from '../lib/catalog';
import { saveSourceFromDevices } from '../lib/sources/save-from-devices';
import { runSourceOnce, DEFAULT_SETTINGS } from '../lib/sync/runner';
import { openVendorSession } from '../lib/vendors/driver';
import { WRONG_PASSWORD } from '../lib/vendors/errors';
import { loadClip } from '../lib/sim/clips';
import type { FileEvent, SyncEvent } from '../lib/sync/types';
import { frameMd5s } from './support/media';
import { nowClearOfSlotEdge } from './support/clock';

const AUTH = { user: 'admin', password: 'Sim-pass1' };
const CLI = join(__dirname, '..', 'lib', 'cli.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** framemd5 of each clip frame (clips are closed GOPs: frame i decodes the same wherever it sits). */
const clipMd5Cache = new Map<string, string[]>();
function clipMd5(id: string, codec: string): string[] {
  let m = clipMd5Cache.get(id);
  if (!m) {
    const clip = loadClip(id);
    const es = join(tmpdir(), `vtrack-clip-${process.pid}-${id}.${codec === 'H265' ? 'hevc' : 'h264'}`);
    writeFileSync(es, Buffer.concat(clip.frames.map((f) => f.data)));
    m = frameMd5s(es);
    rmSync(es, { force: true });
    clipMd5Cache.set(id, m);
  }
  return m;
}

describe('sync through the Hikvision and Dahua drivers', function () {
  this.timeout(180_000);
  let dir: string;
  const sims: RunningSimulator[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'vtrack-vsync-'))));
  after(async () => {
    for (const s of sims) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const gate = (s: RunningSimulator) => (s as unknown as { vendor: RunningVendorSim }).vendor.gate;

  for (const [preset, offset] of [
    ['hikvision', 120],
    ['dahua', -300],
  ] as const) {
    it(`${preset} at UTC${offset > 0 ? '+' : '−'}${Math.abs(offset / 60)}:00: two passes, files per channel name, frame-exact, gap skipped, nothing fetched twice`, async () => {
      // 8 minutes of history, 1-minute segments: whatever the minute, the warehouse's first motion
      // period (0–240 s) and the start of its second (360–420 s) are complete and fetchable.
      const sim = await startSimulator({ preset, basePort: 0, historyMinutes: 8, auth: AUTH, discovery: false, vendor: { utcOffsetMin: offset } });
      sims.push(sim);
      const port = sim.devices[0].port;
      const spec = sim.devices[0].spec;
      const catalog: Catalog = openCatalog(join(dir, `${preset}.db`));
      try {
        const session = await openVendorSession(preset, '127.0.0.1', port, AUTH, 5000);
        const work = join(dir, preset);
        const saved = await saveSourceFromDevices(catalog, {
          name: `${preset} nvr`,
          host: '127.0.0.1',
          ports: [port],
          devices: [session.device],
          selection: 'all',
          workingDirectory: work,
          driver: preset,
        });
        assert.equal(catalog.getSource(saved.id)?.driver, preset);
        // Clear of a slot's edge: the NVR's clock is read anew each pass, in whole seconds.
        const now = nowClearOfSlotEdge(1, DEFAULT_SETTINGS.safetyMarginSec);
        const pass = async () => {
          const files: FileEvent[] = [];
          const events: SyncEvent[] = [];
          const summary = await runSourceOnce({
            catalog,
            source: catalog.getSource(saved.id)!,
            credentials: AUTH,
            settings: { ...DEFAULT_SETTINGS, segmentMinutes: 1, minFreeBytes: 0 },
            reason: 'manual',
            now: () => now,
            emit: (e) => events.push(e),
            onFile: (f) => files.push(f),
          });
          return { files, events, summary };
        };
        const first = await pass();
        assert.deepEqual(first.summary.errors, []);
        assert.deepEqual([...new Set(first.files.map((f) => basename(dirname(dirname(f.path)))))].sort(), ['Front_Door', 'Parking_Lot', 'Warehouse']);
        assert.deepEqual([...new Set(first.files.map((f) => f.camera))].sort(), ['Front Door', 'Parking Lot', 'Warehouse']);
        const checked = new Set<string>();
        for (const f of first.files) {
          const cam = spec.cameras.find((c) => c.name === f.camera)!;
          const rec = cam.recording.start.getTime();
          const start = new Date(f.start).getTime();
          const end = new Date(f.end).getTime();
          // Times are UTC: the recording started at `rec` (UTC) whatever the NVR's zone.
          assert.ok(start >= rec && (start - rec) % 1000 === 0, `${f.path} starts at ${f.start}`);
          assert.ok(basename(f.path).includes(new Date(start).toISOString().slice(0, 19).replace(/:/g, '-')), 'name in UTC');
          // Frame-exact: frame n of the recording (at rec + n/15 s) is clip frame n mod length.
          const clip = loadClip(cam.clip);
          const n0 = Math.round(((start - rec) * 15) / 1000);
          const n1 = Math.round(((end - rec) * 15) / 1000);
          assert.equal(f.frames, n1 - n0);
          // Decoding every file would take minutes here: the first file of each camera is decoded
          // and compared frame by frame (the client specs do the same for other ranges).
          if (!checked.has(f.camera)) {
            checked.add(f.camera);
            const md5 = clipMd5(clip.id, clip.codec);
            const want: string[] = [];
            for (let n = n0; n < n1; n++) want.push(md5[n % md5.length]);
            assert.deepEqual(frameMd5s(f.path), want, `${f.path} frame-exact`);
          }
        }
        assert.equal(checked.size, 3);
        // The warehouse records 240 s on, 120 s off: no file spans the gap.
        const wh = first.files.filter((f) => f.camera === 'Warehouse').map((f) => [new Date(f.start).getTime(), new Date(f.end).getTime()]);
        const whRec = spec.cameras[2].recording.start.getTime();
        for (const [a, b] of wh)
          assert.ok(
            Math.floor((a - whRec) / 360_000) === Math.floor((b - 1 - whRec) / 360_000) && (b - 1 - whRec) % 360_000 < 240_000,
            'inside one motion period',
          );
        assert.ok(wh.length >= 2);

        const second = await pass();
        assert.deepEqual(second.summary.errors, []);
        assert.equal(second.files.length, 0, 'the second pass fetches nothing');
        const planned = second.events.find((e) => e.event === 'planned');
        assert.ok(planned && planned.event === 'planned' && planned.segments === 0);
      } finally {
        catalog.close();
      }
    });
  }

  for (const preset of ['hikvision', 'dahua'] as const) {
    it(`${preset}: a busy answer to a download (all sessions taken) lowers the NVR's session limit, is waited out, and is remembered`, async () => {
      // The first two downloads are refused (503; Hikvision with ISAPI statusCode 2 "Device Busy").
      const sim = await startSimulator({ preset, basePort: 0, historyMinutes: 4, auth: AUTH, discovery: false, faults: { busyReplays: 2 } });
      sims.push(sim);
      const port = sim.devices[0].port;
      const catalog = openCatalog(join(dir, `${preset}-busy.db`));
      try {
        const session = await openVendorSession(preset, '127.0.0.1', port, AUTH, 5000);
        const saved = await saveSourceFromDevices(catalog, {
          name: `${preset} busy`,
          host: '127.0.0.1',
          ports: [port],
          devices: [session.device],
          selection: 'all',
          workingDirectory: join(dir, `${preset}-busy`),
          driver: preset,
        });
        // Clear of a slot's edge: the NVR's clock is read anew each pass, in whole seconds.
        const now = nowClearOfSlotEdge(1, DEFAULT_SETTINGS.safetyMarginSec);
        const pass = () =>
          runSourceOnce({
            catalog,
            source: catalog.getSource(saved.id)!,
            credentials: AUTH,
            settings: { ...DEFAULT_SETTINGS, segmentMinutes: 1, minFreeBytes: 0, concurrency: 2, attempts: 1, retryBaseMs: 20 },
            reason: 'manual',
            now: () => now,
            emit: () => undefined,
            onFile: () => undefined,
          });
        const first = await pass();
        assert.deepEqual(first.errors, [], 'busy answers are waited out, not counted as failures');
        assert.equal(first.failed, 0);
        assert.ok(first.files.length > 0);
        assert.equal(catalog.getSyncStatus(saved.id)?.maxSessions, 1, 'the limit learned is kept for the next pass');
        const second = await pass();
        assert.deepEqual([second.errors, second.files.length], [[], 0], 'nothing was left behind');
      } finally {
        catalog.close();
      }
    });
  }

  it('a wrong password: one login attempt per pass, and the pass says why', async () => {
    const sim = await startSimulator({ preset: 'dahua', basePort: 0, historyMinutes: 12, auth: AUTH, discovery: false });
    sims.push(sim);
    const port = sim.devices[0].port;
    const catalog = openCatalog(join(dir, 'wrong.db'));
    try {
      const session = await openVendorSession('dahua', '127.0.0.1', port, AUTH, 5000);
      const saved = await saveSourceFromDevices(catalog, {
        name: 'd',
        host: '127.0.0.1',
        ports: [port],
        devices: [session.device],
        selection: 'all',
        workingDirectory: join(dir, 'wrong'),
        driver: 'dahua',
      });
      const before = gate(sim).stats.rejected;
      for (let i = 1; i <= 2; i++) {
        const summary = await runSourceOnce({
          catalog,
          source: catalog.getSource(saved.id)!,
          credentials: { user: 'admin', password: 'nope' },
          settings: { ...DEFAULT_SETTINGS, minFreeBytes: 0, retryBaseMs: 1 },
          reason: 'manual',
          emit: () => undefined,
          onFile: () => undefined,
        });
        assert.ok(
          summary.errors.some((e) => e.includes(WRONG_PASSWORD)),
          summary.errors.join('; '),
        );
        assert.equal(gate(sim).stats.rejected - before, i, `${i} pass(es), ${i} rejected login(s)`);
      }
    } finally {
      catalog.close();
    }
  });

  it('CLI: doctor says the Dahua driver fits a port without ONVIF, with channels, zone and a test download', async () => {
    const sim = await startSimulator({ preset: 'dahua', basePort: 0, historyMinutes: 4, auth: AUTH, discovery: false, vendor: { utcOffsetMin: -300 } });
    sims.push(sim);
    const target = `127.0.0.1:${sim.devices[0].port}`;
    const r = await cli(['doctor', '--targets', target, '--user', AUTH.user, '--password', AUTH.password, '--replay-seconds', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /the dahua driver fits/);
    assert.match(r.stdout, /time zone UTC-05:00/);
    assert.match(r.stdout, /- Warehouse \(ch3, H264 1920x1080\)/);
    assert.match(r.stdout, /test download \(Front Door\): ok, 30 frames/);
    const j = await cli(['doctor', '--targets', target, '--user', AUTH.user, '--password', 'wrong', '--driver', 'dahua', '--json']);
    assert.equal(j.code, 1);
    const reports = JSON.parse(j.stdout) as Array<{ problems: Array<{ problem: string; action: string }> }>;
    assert.match(reports[0].problems[0].problem, /wrong password — the NVR locks the account/);
    assert.match(reports[0].problems[0].action, /do not retry blindly/);
  });

  it('CLI: sync --once finds the Dahua API by itself (--driver auto), files land, the driver is recorded', async () => {
    const sim = await startSimulator({ preset: 'dahua', basePort: 0, historyMinutes: 6, auth: AUTH, discovery: false, vendor: { utcOffsetMin: 330 } });
    sims.push(sim);
    const db = join(dir, 'cli.db');
    const r = await cli([
      'sync',
      '--targets',
      `127.0.0.1:${sim.devices[0].port}`,
      '--user',
      AUTH.user,
      '--password',
      AUTH.password,
      '--dir',
      join(dir, 'cli'),
      '--db',
      db,
      '--once',
      '--json',
      '--segment-min',
      '1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /driver: dahua/);
    const files = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as FileEvent);
    assert.ok(files.length >= 3, r.stdout);
    assert.ok(files.every((f) => existsSync(f.path)));
    const c = openCatalog(db);
    try {
      assert.deepEqual(
        c.listSources().map((s) => s.driver),
        ['dahua'],
      );
    } finally {
      c.close();
    }
  });
});
