import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { RecordingTimeline } from '../lib/sim/timeline';
import { discover } from '../lib/onvif/discovery';
import { openCatalog, type Catalog } from '../lib/catalog';
import { saveSourceFromDevices } from '../lib/sources/save-from-devices';
import { SyncEngine } from '../lib/sync/engine';
import type { FileEvent, SyncEvent } from '../lib/sync/types';
import { probe } from './support/media';
import { nowClearOfSlotEdge } from './support/clock';

const AUTH = { user: 'admin', password: 'pw' };
const CODEC: Record<string, string> = { H264: 'h264', H265: 'hevc', MPEG4: 'mpeg4' };

describe('sync engine against the simulator (seed preset)', function () {
  this.timeout(120_000);
  let sim: RunningSimulator;
  let dir: string;
  let catalog: Catalog;
  let sourceId: number;
  const files: FileEvent[] = [];
  const events: SyncEvent[] = [];
  let engine: SyncEngine;

  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 8 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-sync-'));
    catalog = openCatalog(path.join(dir, 'catalog.db'));
    const devices = await discover({ targets: sim.devices.map((d) => `127.0.0.1:${d.port}`), ...AUTH, timeoutMs: 3000 });
    const saved = await saveSourceFromDevices(catalog, {
      name: 'seed',
      host: '127.0.0.1',
      ports: devices.map((d) => d.port),
      devices,
      selection: 'all',
      workingDirectory: path.join(dir, 'downloads'),
    });
    sourceId = saved.id;
    // One fixed 'now' for both passes, clear of a slot's edge: a 2-minute slot closing between them
    // (or within the NVR clock's whole-second rounding) must not count as new.
    const now = nowClearOfSlotEdge(2, 5);
    engine = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 2, safetyMarginSec: 5 }, now: () => now });
    engine.on('file', (f) => files.push(f));
    engine.on('event', (e) => events.push(e));
    engine.addSource(sourceId, { schedule: false });
  });
  after(async () => {
    await engine.close();
    catalog.close();
    await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('first pass: writes decodable files for all three cameras with the expected frames and durations', async () => {
    const [summary] = await engine.syncNow(sourceId);
    assert.deepEqual(summary.errors, []);
    assert.deepEqual([...new Set(files.map((f) => f.camera))].sort(), ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera']);
    // Every file's packets are counted; the shortest file of each camera is decoded in full.
    const shortest = new Map<string, FileEvent>();
    for (const f of files) if (!shortest.has(f.camera) || f.durationSec < shortest.get(f.camera)!.durationSec) shortest.set(f.camera, f);
    for (const f of files) {
      const spec = sim.devices.flatMap((d) => d.spec.cameras).find((c) => c.name === f.camera)!;
      const p = probe(f.path, { decode: shortest.get(f.camera) === f });
      assert.equal(p.codec, CODEC[spec.codec], f.path);
      assert.equal(p.width, spec.width);
      assert.equal(p.height, spec.height);
      const expectedFrames = Math.round(((Date.parse(f.end) - Date.parse(f.start)) / 1000) * spec.fps);
      assert.equal(p.frames, expectedFrames, `${f.path}: frames`);
      assert.equal(f.frames, expectedFrames);
      assert.ok(Math.abs(p.durationSec - f.durationSec) < 0.2, `${f.path}: duration ${p.durationSec} vs ${f.durationSec}`);
      assert.ok(f.speedX > 1, 'faster than real time');
    }
  });

  it('catalogues exactly the files on disk, with their sizes', () => {
    const rows = catalog.listCameras(sourceId).flatMap((c) => catalog.listDownloads(c.id));
    assert.equal(rows.length, files.length);
    for (const r of rows) {
      assert.equal(fs.statSync(r.path).size, r.bytes);
      assert.equal(r.status, 'done');
    }
    const onDisk = fs
      .readdirSync(path.join(dir, 'downloads'), { recursive: true })
      .map(String)
      .filter((f) => /\.mp4$/.test(f));
    assert.equal(onDisk.length, rows.length);
    assert.equal(
      fs
        .readdirSync(path.join(dir, 'downloads'), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.part')).length,
      0,
      'no .part left',
    );
  });

  it('gives the motion-recording camera no file that covers a gap', () => {
    const spec = sim.devices[2].spec.cameras[0];
    const timeline = new RecordingTimeline(spec.recording);
    const wh = files.filter((f) => f.camera === 'Warehouse Camera');
    assert.ok(wh.length > 0);
    for (const f of wh) {
      const inside = timeline.intervals(new Date(f.start), new Date(f.end));
      assert.equal(inside.length, 1, `${f.path} spans ${inside.length} recorded intervals`);
      assert.equal(inside[0].start.toISOString(), f.start);
      assert.equal(inside[0].end.toISOString(), f.end);
    }
  });

  it('second pass downloads nothing new', async () => {
    const before = files.length;
    const [summary] = await engine.syncNow(sourceId);
    assert.deepEqual(summary.errors, []);
    assert.equal(files.length, before);
    assert.ok(events.some((e) => e.event === 'planned' && e.segments === 0));
  });

  it('keeps the sync status current', () => {
    const st = catalog.getSyncStatus(sourceId);
    assert.equal(st?.consecutiveFailures, 0);
    assert.equal(st?.lastError, null);
    assert.ok(st?.lastSuccessAt);
    for (const c of catalog.listCameras(sourceId)) assert.ok(catalog.getSyncStatus(sourceId, c.id)?.lastSyncedUntil, c.displayName);
  });

  it('reports wrong credentials as an auth error event and counts the failure', async () => {
    const bad = new SyncEngine({ catalog, credentials: { user: 'admin', password: 'wrong' }, settings: { segmentMinutes: 5 } });
    const errs: SyncEvent[] = [];
    bad.on('event', (e) => e.event === 'error' && errs.push(e));
    bad.addSource(sourceId, { schedule: false });
    const [summary] = await bad.syncNow(sourceId);
    await bad.close();
    assert.ok(summary.errors.length > 0);
    assert.ok(
      errs.some((e) => e.event === 'error' && e.code === 'auth'),
      JSON.stringify(errs),
    );
    assert.equal(catalog.getSyncStatus(sourceId)?.consecutiveFailures, 1);
  });
});

describe('sync engine with an NVR whose clock runs an hour ahead', function () {
  this.timeout(60_000);
  it("plans in the NVR's time: recent recordings are fetched, none still being written", async () => {
    const sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 4, clockOffsetSec: 3600 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-skew-'));
    const catalog = openCatalog(path.join(dir, 'c.db'));
    try {
      const devices = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, ...AUTH, timeoutMs: 3000 });
      const saved = await saveSourceFromDevices(catalog, {
        name: 'skewed',
        host: '127.0.0.1',
        ports: [sim.devices[0].port],
        devices,
        selection: 'all',
        workingDirectory: path.join(dir, 'dl'),
      });
      const engine = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 1, safetyMarginSec: 5 } });
      const got: FileEvent[] = [];
      engine.on('file', (f) => got.push(f));
      engine.addSource(saved.id, { schedule: false });
      const [summary] = await engine.syncNow(saved.id);
      await engine.close();
      assert.deepEqual(summary.errors, []);
      assert.ok(got.length >= 3, `${got.length} files`);
      const deviceNow = Date.now() + 3_600_000;
      for (const f of got) assert.ok(Date.parse(f.end) <= deviceNow, `${f.end} is not in the NVR's future`);
      assert.ok(Date.parse(got[got.length - 1].end) > deviceNow - 3 * 60_000, 'the newest closed minute is included');
    } finally {
      catalog.close();
      await sim.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sync engine retries and retention', function () {
  this.timeout(60_000);
  let sim: RunningSimulator | undefined;
  let dir: string;
  let catalog: Catalog;

  async function setUp(busyReplays: number): Promise<number> {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 4, faults: { busyReplays } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-retry-'));
    catalog = openCatalog(path.join(dir, 'c.db'));
    const devices = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, ...AUTH, timeoutMs: 3000 });
    const saved = await saveSourceFromDevices(catalog, {
      name: 'front',
      host: '127.0.0.1',
      ports: [sim.devices[0].port],
      devices,
      selection: 'all',
      workingDirectory: path.join(dir, 'dl'),
    });
    return saved.id;
  }
  afterEach(async () => {
    catalog.close();
    await sim?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('retries a segment the NVR refuses (replay sessions busy) and then fetches it', async () => {
    const id = await setUp(2);
    const engine = new SyncEngine({
      catalog,
      credentials: AUTH,
      settings: { segmentMinutes: 1, safetyMarginSec: 5, attempts: 4, retryBaseMs: 50, concurrency: 1 },
    });
    const files: FileEvent[] = [];
    engine.on('file', (f) => files.push(f));
    engine.addSource(id, { schedule: false });
    const [summary] = await engine.syncNow(id);
    await engine.close();
    assert.deepEqual(summary.errors, []);
    assert.ok(files.length >= 3);
  });

  it('gives up after the last attempt, reports it, and keeps the synced point before the failed segment', async () => {
    const id = await setUp(1000);
    const engine = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 1, safetyMarginSec: 5, attempts: 2, retryBaseMs: 20 } });
    engine.addSource(id, { schedule: false });
    const [summary] = await engine.syncNow(id);
    await engine.close();
    assert.ok(summary.failed >= 3, `${summary.failed} failed`);
    assert.match(summary.errors.join('\n'), /503/);
    const cam = catalog.listCameras(id)[0];
    const st = catalog.getSyncStatus(id, cam.id);
    const firstStart = sim!.devices[0].spec.cameras[0].recording.start;
    assert.ok(!st?.lastSyncedUntil || Date.parse(st.lastSyncedUntil) <= firstStart.getTime(), `synced point ${st?.lastSyncedUntil} moved past the failures`);
    assert.equal(catalog.getSyncStatus(id)?.consecutiveFailures, 1);
    assert.ok(catalog.getSyncStatus(id)?.nextAttemptAt);
  });

  it('does not start a pass when the disk is nearly full, and says how much space is left', async () => {
    const id = await setUp(0);
    const engine = new SyncEngine({ catalog, credentials: AUTH, settings: { minFreeBytes: Number.MAX_SAFE_INTEGER } });
    const errors: SyncEvent[] = [];
    const files: FileEvent[] = [];
    engine.on('event', (e) => e.event === 'error' && errors.push(e));
    engine.on('file', (f) => files.push(f));
    engine.addSource(id, { schedule: false });
    const [summary] = await engine.syncNow(id);
    await engine.close();
    assert.equal(files.length, 0);
    assert.match(summary.errors.join(), /disk full: \d+ MB free for .*dl/);
    assert.ok(errors.some((e) => e.event === 'error' && e.code === 'disk-full'));
    assert.equal(fs.readdirSync(path.join(dir, 'dl'), { recursive: true }).filter((f) => String(f).endsWith('.mp4')).length, 0);
  });

  it('skips timer passes of a source whose sync is switched off, but still syncs on demand', async () => {
    const id = await setUp(0);
    catalog.updateSyncStatus(id, null, { enabled: false });
    const engine = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 1, safetyMarginSec: 5 }, startDelayMs: 10 });
    const events: SyncEvent[] = [];
    engine.on('event', (e) => events.push(e));
    engine.addSource(id);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(events.filter((e) => e.event === 'started').length, 0, 'the startup pass is skipped');
    const [summary] = await engine.syncNow(id);
    await engine.close();
    assert.ok(summary.files.length >= 3);
  });

  it('applies retention: oldest files deleted until under the size cap, rows marked deleted, never fetched again', async () => {
    const id = await setUp(0);
    const first = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 1, safetyMarginSec: 5 } });
    first.addSource(id, { schedule: false });
    const [pass1] = await first.syncNow(id);
    await first.close();
    const byAge = [...pass1.files].sort((a, b) => Date.parse(a.end) - Date.parse(b.end));
    assert.ok(byAge.length >= 3);
    const keep = byAge.slice(-2);
    const capGB = keep.reduce((n, f) => n + f.bytes, 0) / 1024 ** 3;

    // A wide safety margin: no new minute can close between the passes and shift what is newest.
    const second = new SyncEngine({ catalog, credentials: AUTH, settings: { segmentMinutes: 1, safetyMarginSec: 180 }, retention: { maxGB: capGB } });
    const events: SyncEvent[] = [];
    const refetched: FileEvent[] = [];
    second.on('event', (e) => events.push(e));
    second.on('file', (f) => refetched.push(f));
    second.addSource(id, { schedule: false });
    await second.syncNow(id);
    await second.syncNow(id);
    await second.close();

    const removed = byAge.slice(0, -2);
    for (const f of removed) assert.equal(fs.existsSync(f.path), false, `${f.path} deleted`);
    for (const f of keep) assert.equal(fs.existsSync(f.path), true, `${f.path} kept`);
    const rows = catalog.listDownloads(catalog.listCameras(id)[0].id);
    assert.equal(rows.filter((r) => r.status === 'deleted').length, removed.length);
    assert.ok(events.some((e) => e.event === 'retention' && e.deleted === removed.length));
    assert.ok(!refetched.some((f) => removed.some((r) => r.start === f.start)), 'a deleted segment is not fetched again');
  });
});
