// The archive's promise, end to end against the simulator: after the passes, the union of a
// camera's files covers every second the NVR recorded (within the coverage tolerance), whatever
// way its replays end early; no pass can hang; a failing catalog or disk never stops the timer.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../lib/sim';
import { seedPreset } from '../lib/sim/presets';
import { optionsFromArgs } from '../lib/cli/sim';
import type { SimDeviceSpec } from '../lib/sim/types';
import { RecordingTimeline } from '../lib/sim/timeline';
import { discover } from '../lib/onvif/discovery';
import { openCatalog, type Catalog } from '../lib/catalog';
import { saveSourceFromDevices } from '../lib/sources/save-from-devices';
import { SyncEngine } from '../lib/sync/engine';
import type { SyncSettings } from '../lib/sync/runner';
import { plannedUntil } from '../lib/sync/planner';
import { subtractRanges, totalMs, type TimeRange } from '../lib/time/range';
import type { FileEvent, SyncEvent } from '../lib/sync/types';
import Database from 'better-sqlite3';
import { nowClearOfSlotEdge } from './support/clock';
import { probe } from './support/media';
import { largestKeyframeIntervalMs } from '../lib/media/mp4-keyframes';
import { formatVerifyReport, verifyArchive } from '../lib/sync/verify';

const AUTH = { user: 'admin', password: 'pw' };
const SEGMENT_MIN = 2;
const TOLERANCE_SEC = 2;
const CLOCK_SLACK_MS = 2000;

interface Rig {
  sim: RunningSimulator;
  dir: string;
  catalog: Catalog;
  sourceId: number;
  now: Date;
  files: FileEvent[];
  events: SyncEvent[];
  engine(settings?: Partial<SyncSettings>): SyncEngine;
  /** Recorded seconds of each camera in the synced window that no done file covers (holes longer
   * than `toleranceSec`, default the engine's coverage tolerance). */
  uncovered(toleranceSec?: number): Map<string, TimeRange[]>;
  close(): Promise<void>;
}

async function rig(sim: Partial<SimulatorOptions>, o: { devices?: number; dbDir?: string } = {}): Promise<Rig> {
  const s = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 5, ...sim });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-archive-'));
  const catalog = openCatalog(path.join(o.dbDir ?? dir, 'catalog.db'));
  const used = s.devices.slice(0, o.devices ?? s.devices.length);
  const devices = await discover({ targets: used.map((d) => `127.0.0.1:${d.port}`), ...AUTH, timeoutMs: 3000 });
  const saved = await saveSourceFromDevices(catalog, {
    name: 'nvr',
    host: '127.0.0.1',
    ports: devices.map((d) => d.port),
    devices,
    selection: 'all',
    workingDirectory: path.join(dir, 'downloads'),
  });
  // One fixed 'now' for every pass, clear of a slot's edge: a slot closing between passes (or
  // within the NVR clock's rounding) must not count as new.
  const now = nowClearOfSlotEdge(SEGMENT_MIN, 5, CLOCK_SLACK_MS);
  const files: FileEvent[] = [];
  const events: SyncEvent[] = [];
  const engines: SyncEngine[] = [];
  const r: Rig = {
    sim: s,
    dir,
    catalog,
    sourceId: saved.id,
    now,
    files,
    events,
    engine(settings = {}) {
      const e = new SyncEngine({
        catalog,
        credentials: AUTH,
        settings: {
          segmentMinutes: SEGMENT_MIN,
          safetyMarginSec: 5,
          initialBackfillHours: 0,
          retryBaseMs: 50,
          coverageToleranceSec: TOLERANCE_SEC,
          ...settings,
        },
        now: () => now,
      });
      e.on('file', (f) => files.push(f));
      e.on('event', (ev) => events.push(ev));
      e.addSource(saved.id, { schedule: false });
      engines.push(e);
      return e;
    },
    uncovered(toleranceSec = TOLERANCE_SEC) {
      const out = new Map<string, TimeRange[]>();
      // The engine plans up to its horizon in the NVR's clock, read in whole seconds (up to ~1 s
      // off ours): a slot closing within that second of our horizon is the engine's to skip.
      const until = plannedUntil(new Date(now.getTime() - 5000 - CLOCK_SLACK_MS), SEGMENT_MIN);
      for (const d of used) {
        for (const cam of d.spec.cameras) {
          const recorded = new RecordingTimeline(cam.recording, () => now).intervals(new Date(now.getTime() - 3600_000), until);
          const row = catalog.listCameras(saved.id).find((c) => c.displayName === cam.name);
          assert.ok(row, `camera ${cam.name} saved`);
          const held = catalog.listDownloads(row.id, { status: 'done' }).map((f) => ({ start: new Date(f.startTime), end: new Date(f.endTime) }));
          out.set(cam.name, subtractRanges(recorded, held, toleranceSec * 1000));
        }
      }
      return out;
    },
    async close() {
      for (const e of engines) await e.close();
      catalog.close();
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

function assertCovered(r: Rig): void {
  for (const [camera, holes] of r.uncovered()) {
    assert.deepEqual(
      holes.map((h) => `${h.start.toISOString()}–${h.end.toISOString()}`),
      [],
      `${camera}: ${Math.round(totalMs(holes) / 1000)} recorded seconds not held; files ${JSON.stringify(r.files.filter((f) => f.camera === camera).map((f) => [f.start, f.end]))}; events ${JSON.stringify(r.events.filter((e) => e.event !== 'progress'))}`,
    );
  }
  // Every catalogued file is on disk, complete and decodable, and its row's range is its frames'.
  for (const c of r.catalog.listCameras(r.sourceId)) {
    for (const f of r.catalog.listDownloads(c.id, { status: 'done' })) {
      assert.ok(fs.existsSync(f.path), `${f.path} on disk`);
      assert.equal(fs.statSync(f.path).size, f.bytes);
      const p = probe(f.path, { decode: false });
      const rowSec = (Date.parse(f.endTime) - Date.parse(f.startTime)) / 1000;
      assert.ok(Math.abs(p.durationSec - rowSec) < 0.5, `${path.basename(f.path)}: ${p.durationSec} s in the file, ${rowSec} s in the row`);
    }
  }
}

/** A 360p H.264 camera with a keyframe every 6 s (15 fps, GOP 90: longer than the coverage
 * tolerance and than the sync's 4 s default lead-in; some sites stretch GOPs this far), recording
 * since `offsetSec` after a whole minute. The clip is made here with ffmpeg (12 s, two closed GOPs,
 * parameter sets on every keyframe so the loop can start at any of them). */
function longGopDevice(dir: string, offsetSec: number): SimDeviceSpec {
  const clip = path.join(dir, 'long-gop.h264');
  if (!fs.existsSync(clip)) {
    execFileSync('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=15:duration=12', '-pix_fmt', 'yuv420p'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '200k', '-g', '90', '-keyint_min', '90', '-sc_threshold', '0', '-bf', '0'],
      ...['-x264-params', 'repeat-headers=1:open-gop=0:aud=0', '-f', 'h264', clip],
    ]);
  }
  const [device] = seedPreset({ basePort: 0, historyMinutes: 5, channels: 1 });
  const cam = device.cameras[0];
  const start = new Date(cam.recording.start.getTime() + offsetSec * 1000);
  return { ...device, cameras: [{ ...cam, name: 'Long GOP Camera', width: 640, height: 360, bitrateKbps: 200, clip, recording: { start } }] };
}

function partFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.part'));
}

describe('the archive never loses a recording', function () {
  this.timeout(120_000);
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  for (const fault of ['bye-early', 'terminal-early', 'quiet-close', 'idle'] as const) {
    it(`a replay that ends mid-range (${fault}) keeps what arrived, and the next pass fetches the rest: every recorded second held`, async () => {
      // The first replay of each device ends after 75 frames (5 s at 15 fps).
      r = await rig({ faults: { replay: { fault, afterFrames: 75, count: 1 } } });
      const engine = r.engine({ attempts: 1, replayTimeouts: { idleMs: 1500, endGraceMs: 500 } });
      const [first] = await engine.syncNow(r.sourceId);
      assert.ok(first.failed >= 1, 'the early end is not a success');
      assert.ok(
        r.events.some((e) => e.event === 'error' && (e.code === 'incomplete' || e.code === 'idle' || e.code === 'network')),
        'the pass says a replay ended early',
      );
      const short = r.files.filter((f) => f.durationSec < 10);
      assert.ok(short.length >= 1, 'the part that arrived is kept as a file');
      const [second] = await engine.syncNow(r.sourceId);
      assert.deepEqual(second.errors, []);
      assertCovered(r);
      const [third] = await engine.syncNow(r.sourceId);
      assert.equal(third.files.length, 0, 'nothing left to fetch');
    });
  }

  it('an NVR that starts a replay at the next keyframe (not the one before) loses nothing: remainders and segment boundaries are asked one GOP early', async () => {
    // Keyframes every 6 s from second 5.5 of the recording's first minute: each segment boundary
    // (2 min) falls 0.5 s after one, 5.5 s before the next; a 4 s lead-in is not enough there, the
    // GOP measured from the first held file is. The first replay ends after 65 frames (4.3 s),
    // 1.7 s before a keyframe.
    const clipDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-gop-'));
    try {
      r = await rig({ devices: [longGopDevice(clipDir, 5.5)], faults: { nextKeyframe: true, replay: { fault: 'bye-early', afterFrames: 65, count: 1 } } });
      const engine = r.engine({ attempts: 1 });
      const passes = [];
      // Four passes: enough for the old code to confirm its lost seconds as absent (3 attempts).
      for (let i = 0; i < 4; i++) passes.push((await engine.syncNow(r.sourceId))[0]);
      assert.match(passes[0].errors.join('\n'), /ended early/, 'the early end is reported');
      assert.deepEqual(passes[1].errors, [], 'the second pass fetches the rest');
      assert.equal(passes[3].files.length, 0, 'nothing left to fetch');
      // Every second the NVR recorded is held: no hole longer than a frame (1/15 s, rounded).
      const [holes] = [...r.uncovered(0.1).values()];
      assert.deepEqual(
        holes.map((h) => `${h.start.toISOString()}–${h.end.toISOString()}`),
        [],
        `files ${JSON.stringify(r.files.map((f) => [f.start, f.end]))}`,
      );
      const cam = r.catalog.listCameras(r.sourceId)[0];
      assert.deepEqual(r.catalog.listAbsentSpans(cam.id), [], 'nothing recorded was marked absent');
      // The GOP is measured from a held file; files overlap by at most a GOP (+ < 1 s: the ask
      // point is on a whole second); each one decodes to its catalogued length.
      const done = r.catalog.listDownloads(cam.id, { status: 'done' });
      assert.equal(await largestKeyframeIntervalMs(done[done.length - 1].path), 6000);
      for (let i = 1; i < done.length; i++) {
        const overlapMs = Date.parse(done[i - 1].endTime) - Date.parse(done[i].startTime);
        assert.ok(overlapMs < 7000, `${path.basename(done[i].path)} overlaps the file before by ${overlapMs} ms`);
      }
      for (const f of done) {
        const p = probe(f.path, { decode: true });
        assert.equal(p.frames, f.frames, `${path.basename(f.path)}: every frame decodes`);
        assert.ok(Math.abs(p.durationSec - (Date.parse(f.endTime) - Date.parse(f.startTime)) / 1000) < 0.5);
      }
    } finally {
      fs.rmSync(clipDir, { recursive: true, force: true });
    }
  });

  it('sim --fault next-keyframe is listed in --help and combines with an early-ending fault', () => {
    const o = optionsFromArgs(['--fault', 'next-keyframe', '--fault', 'bye-early:65:1']);
    assert.deepEqual(o.faults, { nextKeyframe: true, replay: { fault: 'bye-early', afterFrames: 65, count: 1 } });
    const help = execFileSync(process.execPath, [path.join(__dirname, '..', 'lib', 'cli.js'), 'sim', '--help']).toString();
    assert.match(help, /^ +next-keyframe +a replay starts at the first keyframe at or after the$/m);
    assert.throws(() => optionsFromArgs(['--fault', 'next-key']), /unknown fault "next-key" \(one of .*next-keyframe/);
  });

  it('an NVR that resets the connection right after the last frame of every replay (no BYE) is synced in one pass: every recorded second held, no segment failed', async () => {
    // Frame times decide: the frames reach each segment's end, so the reset is how the replay ends,
    // not a failure. attempts 1: no retry may hide a replay that was taken for failed.
    r = await rig({ faults: { end: { resetAtEnd: true } } });
    const engine = r.engine({ attempts: 1 });
    const [pass] = await engine.syncNow(r.sourceId);
    assert.deepEqual(pass.errors, []);
    assert.equal(pass.failed, 0);
    assert.ok(!r.events.some((e) => e.event === 'error'), JSON.stringify(r.events.filter((e) => e.event === 'error')));
    assertCovered(r);
    const [again] = await engine.syncNow(r.sourceId);
    assert.equal(again.files.length, 0, 'nothing left to fetch');
  });

  it('a reset in the MIDDLE of a replay is a shortfall, not a success: the part that arrived is kept and the rest fetched next pass', async () => {
    // One replay per device is reset after 75 frames (5 s of a 2-minute segment).
    r = await rig({ faults: { end: { resetMid: { afterFrames: 75, remaining: 1 } } } });
    const engine = r.engine({ attempts: 1 });
    const [first] = await engine.syncNow(r.sourceId);
    assert.ok(first.failed >= 1, 'the reset replay is not a success');
    assert.ok(
      r.events.some((e) => e.event === 'error' && e.code === 'network' && /ECONNRESET|closed by the server/.test(e.error)),
      'the pass names the reset',
    );
    const kept = r.files.filter((f) => f.frames === 75);
    assert.ok(kept.length >= r.sim.devices.length, 'each reset replay left its 75 frames as a file');
    const [second] = await engine.syncNow(r.sourceId);
    assert.deepEqual(second.errors, []);
    for (const k of kept) {
      // The remainder starts where the kept part ends (at the keyframe at or before it), not again at the segment start.
      const rest = r.files.filter((f) => f.camera === k.camera && f.start > k.start && f.start <= k.end);
      assert.ok(
        rest.length >= 1,
        `${k.camera}: the rest after ${k.end} is fetched; files ${JSON.stringify(r.files.filter((f) => f.camera === k.camera).map((f) => [f.start, f.end]))}`,
      );
    }
    assertCovered(r);
  });

  it('a server trickling only RTCP cannot hold a replay: the pass ends with an idle timeout and a later pass completes', async () => {
    r = await rig({ faults: { replay: { fault: 'rtcp-only', afterFrames: 0, count: 1 } } }, { devices: 1 });
    const engine = r.engine({ attempts: 1, replayTimeouts: { idleMs: 3000 } });
    const t0 = Date.now();
    const [first] = await engine.syncNow(r.sourceId);
    assert.ok(Date.now() - t0 < 30_000, `first pass took ${Date.now() - t0} ms`);
    assert.match(first.errors.join('\n'), /idle timeout/);
    const [second] = await engine.syncNow(r.sourceId);
    assert.deepEqual(second.errors, []);
    assertCovered(r);
  });

  it('every replay has a deadline: a real-time server is torn down at it with an error that names it', async () => {
    r = await rig({ faults: { ignoreRateControl: true } }, { devices: 1 });
    const engine = r.engine({ attempts: 1, replayTimeouts: { totalMs: 1500 } });
    const [pass] = await engine.syncNow(r.sourceId);
    assert.match(pass.errors.join('\n'), /replay deadline: not finished within 2 s/);
    assert.ok(pass.files.length >= 1, 'what arrived before the deadline is kept');
  });

  it('a span the NVR cannot replay (same point, several attempts) is recorded as absent, said so, and not retried forever', async () => {
    // The search lists seconds 60–80 of each recording, but the NVR lost them (overwritten).
    r = await rig({ faults: { unreplayable: { fromSec: 60, toSec: 80 } } }, { devices: 1 });
    const engine = r.engine({ attempts: 1, confirmAbsentAfter: 2 });
    const [first] = await engine.syncNow(r.sourceId);
    assert.match(first.errors.join('\n'), /ended early/);
    const [second] = await engine.syncNow(r.sourceId);
    assert.deepEqual(second.errors, []);
    assert.ok(r.events.some((e) => e.event === 'warning' && e.code === 'absent' && /no recording on the NVR/.test(e.message)));
    const [third] = await engine.syncNow(r.sourceId);
    assert.equal(third.files.length, 0, 'the absent span is not fetched again');
    // Held: everything but the lost span (and the keyframe wait after it).
    const recStart = r.sim.devices[0].spec.cameras[0].recording.start.getTime();
    const [holes] = [...r.uncovered().values()];
    assert.equal(holes.length, 1);
    assert.equal(holes[0].start.getTime(), recStart + 60_000);
    assert.ok(holes[0].end.getTime() >= recStart + 80_000 && holes[0].end.getTime() < recStart + 85_000, `hole ends ${holes[0].end.toISOString()}`);
    const cam = r.catalog.listCameras(r.sourceId)[0];
    assert.deepEqual(
      r.catalog.listAbsentSpans(cam.id).map((a) => [a.startTime, a.confirmed]),
      [[new Date(recStart + 60_000).toISOString(), true]],
    );
  });

  it('a span recorded as absent is checked again after a back-off, doubling while the NVR still has nothing, and comes back once the NVR replays it', async () => {
    // The NVR cannot replay seconds 60–80 (a transient fault: it clears later in this spec).
    const lost = { fromSec: 60, toSec: 80 };
    r = await rig({ faults: { unreplayable: lost } }, { devices: 1 });
    const engine = r.engine({ attempts: 1, confirmAbsentAfter: 2 });
    await engine.syncNow(r.sourceId);
    await engine.syncNow(r.sourceId);
    const cam = r.catalog.listCameras(r.sourceId)[0];
    const hours = (iso: string | null) => (Date.parse(iso ?? '') - r!.now.getTime()) / 3_600_000;
    let [span] = r.catalog.listAbsentSpans(cam.id);
    assert.equal(span.confirmed, true);
    assert.equal(hours(span.recheckAt), 24, 'checked again a day later');
    const [notYet] = await engine.syncNow(r.sourceId);
    assert.equal(notYet.files.length, 0, 'not before it is due');

    // A day passes: the span's due time is moved back (the simulator records on the real clock,
    // so the engine's clock cannot jump a day ahead of it).
    const db = new Database(path.join(r.dir, 'catalog.db'));
    const comeDue = () => db.prepare('UPDATE absent_spans SET recheck_at = ?').run(new Date(r!.now.getTime() - 1000).toISOString());
    try {
      comeDue();
      const [still] = await engine.syncNow(r.sourceId);
      assert.deepEqual(still.errors, []);
      assert.ok(r.events.some((e) => e.event === 'warning' && e.code === 'absent-recheck'));
      [span] = r.catalog.listAbsentSpans(cam.id);
      assert.deepEqual([span.confirmed, span.rechecks, hours(span.recheckAt)], [true, 1, 48], 'still absent: confirmed again, twice the back-off');

      // The NVR's fault clears; once due again, the span is fetched and is no longer absent.
      lost.toSec = lost.fromSec;
      comeDue();
      const [back] = await engine.syncNow(r.sourceId);
      assert.deepEqual(back.errors, []);
      assert.ok(back.files.length >= 1, 'the span is fetched');
      assert.deepEqual(r.catalog.listAbsentSpans(cam.id), []);
      const [holes] = [...r.uncovered(0.1).values()];
      assert.deepEqual(
        holes.map((h) => `${h.start.toISOString()}–${h.end.toISOString()}`),
        [],
      );
      for (const f of back.files) assert.equal(probe(f.path, { decode: true }).frames, f.frames, `${path.basename(f.path)} decodes`);
    } finally {
      db.close();
    }
  });

  it('"everything" on a recording dated 1970 plans a bounded pass from a sane start and writes nothing before the real data', async () => {
    r = await rig({ quirks: ['epoch-dates', 'no-find-events'] }, { devices: 1 });
    const heapBefore = process.memoryUsage().heapUsed;
    const engine = r.engine({ initialBackfillHours: 0, unknownStartLookbackHours: 0.25 });
    const [pass] = await engine.syncNow(r.sourceId);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 200 * 1024 * 1024, 'planning stays small');
    assert.ok(
      r.events.some((e) => e.event === 'warning' && /1970-01-01/.test(e.message)),
      'the bad date is named',
    );
    assert.ok(
      r.events.some((e) => e.event === 'warning' && e.code === 'gaps-invisible'),
      'and that gaps cannot be seen',
    );
    const recStart = r.sim.devices[0].spec.cameras[0].recording.start.getTime();
    assert.ok(pass.files.length >= 1);
    for (const f of pass.files) assert.ok(Date.parse(f.start) >= recStart - 2000, `${f.start} is before the real data`);
    const days = fs.readdirSync(path.join(r.dir, 'downloads'), { recursive: true }) as string[];
    assert.ok(!days.some((d) => d.includes('1970-') || d.includes('2000-')), 'no folder for a bogus date');
  });

  it('a file deleted from disk is fetched again by a backfill of its range', async () => {
    r = await rig({}, { devices: 1 });
    const engine = r.engine();
    await engine.syncNow(r.sourceId);
    assertCovered(r);
    // Not the first file: a later one starts inside recorded data, where a replay is asked a GOP
    // early; where a file of ours is gone, it is asked from that file's first frame (a keyframe).
    const victim = r.files[1];
    fs.rmSync(victim.path);
    await engine.backfill({ from: new Date(victim.start), to: new Date(victim.end) }, r.sourceId);
    assertCovered(r);
    // Its end may differ: a neighbour asked a GOP early may overlap it, and the hole ends there.
    const again = r.files.slice(r.files.indexOf(victim) + 1).filter((f) => f.start === victim.start && fs.existsSync(f.path));
    assert.equal(again.length, 1, `fetched again from its own first frame: ${JSON.stringify(r.files.map((f) => [path.basename(f.path), f.start, f.end]))}`);
    // Files may overlap (a replay inside recorded data starts a GOP early): the union counts.
    const onDisk = r.files.filter((f) => fs.existsSync(f.path)).map((f) => ({ start: new Date(f.start), end: new Date(f.end) }));
    assert.deepEqual(subtractRanges([{ start: new Date(victim.start), end: new Date(victim.end) }], onDisk), [], 'the deleted range is on disk again');
  });

  it('verify finds a deleted and a truncated file, an orphan and a stale .part; --fix makes the next pass fetch them again', async () => {
    const rg = (r = await rig({}, { devices: 1 }));
    const engine = r.engine();
    await engine.syncNow(r.sourceId);
    const clean = await verifyArchive(r.catalog, { credentialsFor: () => AUTH });
    // (Seen once under load: a finished file on disk the catalog did not list; the events and files
    // say which replay left it.)
    const story = () =>
      JSON.stringify({ files: rg.files.map((f) => [path.basename(f.path), f.start, f.end]), events: rg.events.filter((e) => e.event !== 'progress') });
    assert.equal(clean.clean, true, `${formatVerifyReport(clean)}\n${story()}`);
    assert.deepEqual(clean.cameras[0].holes, []);
    assert.match(clean.cameras[0].timeline, /^█+ *$/);

    const [deleted, truncated] = r.files;
    fs.rmSync(deleted.path);
    fs.truncateSync(truncated.path, Math.floor(truncated.bytes / 2));
    const part = path.join(path.dirname(truncated.path), 'left.mp4.part');
    fs.writeFileSync(part, 'x');
    const report = await verifyArchive(r.catalog, { credentialsFor: () => AUTH });
    const cam = report.cameras[0];
    assert.equal(report.clean, false);
    assert.deepEqual(
      cam.bad.map((b) => [path.basename(b.path), b.problem]).sort(),
      [
        [path.basename(deleted.path), 'missing'],
        [path.basename(truncated.path), 'truncated'],
      ].sort(),
    );
    assert.deepEqual(cam.staleParts, [part]);
    const holeSec = (cam.holes ?? []).reduce((n, h) => n + h.sec, 0);
    // What the two files held that no other file does (neighbours may overlap them by under a GOP).
    const range = (f: FileEvent) => ({ start: new Date(f.start), end: new Date(f.end) });
    const others = r.files.filter((f) => f !== deleted && f !== truncated).map(range);
    const lostSec = totalMs(subtractRanges([range(deleted), range(truncated)], others)) / 1000;
    assert.ok(Math.abs(holeSec - lostSec) <= 2, `holes of ${holeSec} s, ${lostSec} s expected\n${formatVerifyReport(report)}`);
    assert.match(cam.timeline, /░/);
    assert.match(formatVerifyReport(report), /^ {2}missing: .*\.mp4$/m);
    assert.match(formatVerifyReport(report), /^ {2}truncated: .*\(\d+ of \d+ bytes\)$/m);

    const fixed = await verifyArchive(r.catalog, { credentialsFor: () => AUTH, fix: true });
    assert.deepEqual(fixed.cameras[0].fixed, { markedMissing: 2, partsRemoved: 1, adopted: 0 });
    await engine.syncNow(r.sourceId);
    const after = await verifyArchive(r.catalog, { credentialsFor: () => AUTH });
    assert.equal(
      after.clean,
      true,
      `${formatVerifyReport(after)}\n${story()}\n${JSON.stringify(rg.catalog.listDownloads(rg.catalog.listCameras(rg.sourceId)[0].id, {}).map((f) => [path.basename(f.path), f.status]))}`,
    );
    assertCovered(r);
  });

  it('a .part left by a killed sync is removed by the next engine, and a finished file it did not catalogue is adopted', async () => {
    r = await rig({}, { devices: 1 });
    const cam = r.catalog.listCameras(r.sourceId)[0];
    const stale = path.join(cam.folderPath, '2026-01-01', 'x.mp4.part');
    fs.mkdirSync(path.dirname(stale), { recursive: true });
    fs.writeFileSync(stale, 'half a file');
    const engine = r.engine();
    await engine.syncNow(r.sourceId);
    assert.equal(fs.existsSync(stale), false);
    assert.ok(r.events.some((e) => e.event === 'warning' && e.code === 'stale-part'));
    // A finished file whose row never got written (killed between rename and insert).
    const f = r.files[r.files.length - 1];
    const db = new Database(path.join(r.dir, 'catalog.db'));
    assert.equal(db.prepare('DELETE FROM downloaded_files WHERE path = ?').run(f.path).changes, 1);
    db.close();
    const fresh = r.engine();
    await fresh.syncNow(r.sourceId);
    assert.ok(
      r.events.some((e) => e.event === 'warning' && e.code === 'adopted'),
      'the orphan is catalogued',
    );
    assert.deepEqual(partFiles(r.dir), []);
    assertCovered(r);
  });
});

describe("the NVR's limits are learned", function () {
  this.timeout(120_000);
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  it('an NVR that refuses a second session (453) is synced with fewer sessions, no segment fails, and the limit is remembered', async () => {
    r = await rig({ quirks: ['busy-453'] }, { devices: 1 });
    const engine = r.engine({ concurrency: 2, attempts: 1 });
    const [pass] = await engine.syncNow(r.sourceId);
    assert.deepEqual(pass.errors, [], 'busy answers are waited out, not counted as failures');
    assert.equal(r.catalog.getSyncStatus(r.sourceId)?.maxSessions, 1);
    assertCovered(r);
  });
});

describe('the scheduler cannot die', function () {
  this.timeout(120_000);
  const isRoot = process.getuid?.() === 0;

  it('a refused login is not tried again by the timer (NVRs lock accounts), and a new login syncs at once', async () => {
    const r = await rig({}, { devices: 1 });
    const engine = new SyncEngine({
      catalog: r.catalog,
      settings: { segmentMinutes: SEGMENT_MIN, safetyMarginSec: 5, initialBackfillHours: 0 },
      startDelayMs: 10,
    });
    const events: SyncEvent[] = [];
    engine.on('event', (e) => events.push(e));
    try {
      r.catalog.updateSyncStatus(r.sourceId, null, { intervalMinutes: 0.02 }); // a pass every 1.2 s
      engine.addSource(r.sourceId, { credentials: { user: 'admin', password: 'wrong' } });
      await new Promise((res) => setTimeout(res, 6000));
      const started = events.filter((e) => e.event === 'started').length;
      assert.equal(started, 1, 'one login attempt, then none by the timer');
      assert.ok(events.some((e) => e.event === 'error' && e.code === 'auth' && /not tried again by the timer/.test(e.error)));
      engine.addSource(r.sourceId, { credentials: AUTH });
      const t0 = Date.now();
      while (!events.some((e) => e.event === 'finished' && e.files > 0) && Date.now() - t0 < 20_000) await new Promise((res) => setTimeout(res, 100));
      assert.ok(
        events.some((e) => e.event === 'finished' && e.files > 0),
        'the new login synced',
      );
    } finally {
      await engine.close();
      await r.close();
    }
  });

  it('the catalog on a full filesystem fails a pass with an error, and the timer resumes by itself once space returns', async function () {
    if (!isRoot) return this.skip(); // needs a small tmpfs of our own
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-fullfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
    let r: Rig | undefined;
    let engine: SyncEngine | undefined;
    try {
      r = await rig({}, { devices: 1, dbDir: mnt });
      r.catalog.updateSyncStatus(r.sourceId, null, { intervalMinutes: 0.05 }); // 3 s
      const filler = path.join(mnt, 'filler');
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        // dd stops at ENOSPC: the disk is full, as wanted
      }
      engine = new SyncEngine({
        catalog: r.catalog,
        credentials: AUTH,
        settings: { segmentMinutes: SEGMENT_MIN, safetyMarginSec: 5, initialBackfillHours: 0 },
        startDelayMs: 10,
      });
      const events: SyncEvent[] = [];
      engine.on('event', (e) => events.push(e));
      engine.addSource(r.sourceId);
      const wait = async (what: string, ok: () => boolean, ms: number) => {
        const end = Date.now() + ms;
        while (!ok()) {
          if (Date.now() > end)
            throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events.map((e) => e.event + ('error' in e ? `:${e.error}` : '')))}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      };
      await wait(
        'a failed pass',
        () => events.some((e) => e.event === 'finished') && events.some((e) => e.event === 'error' && /catalog|full/i.test(e.error)),
        30_000,
      );
      const failedFinish = events.find((e) => e.event === 'finished');
      assert.ok(failedFinish && failedFinish.event === 'finished' && failedFinish.nextRunAt, 'the next pass is scheduled');
      fs.rmSync(filler);
      // The first pass that starts after space returned, by the timer alone, must be clean.
      const mark = events.length;
      const startedAt = () => events.findIndex((e, i) => i >= mark && e.event === 'started');
      await wait('a pass started by the timer', () => startedAt() >= 0, 30_000);
      const from = startedAt();
      await wait('that pass to finish', () => events.slice(from).some((e) => e.event === 'finished'), 60_000);
      const pass = events.slice(from, events.findIndex((e, i) => i >= from && e.event === 'finished') + 1);
      assert.deepEqual(
        pass.filter((e) => e.event === 'error'),
        [],
      );
      assertCovered(r);
    } finally {
      await engine?.close();
      await r?.close();
      execFileSync('umount', ['-l', mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });
});
