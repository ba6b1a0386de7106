// Catalog at scale: a database with 1 M downloaded files (64 cameras × 15 625 ten-minute files,
// ~108 days) — then, as Node-RED would meet it: opening it, the "already held?" lookup, planning
// 30 days of one camera, and retention passes, each with the main thread's longest block measured
// by a timer-gap probe. The files do not exist on disk (unlink finds them gone: counted as deleted),
// so the figures are the catalog's, not the file system's. Last, a deploy as Node-RED does it (the
// nvr-archive node opens the archive, the nvr-source node claims its saved source) against the
// simulator on loopback: the time from there to the first request the simulator sees.
import Database from 'better-sqlite3';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCatalog } from '../lib/catalog';
import { acquireArchive, releaseArchive } from '../lib/archive/archive';
import { parseArchiveSettings } from '../lib/archive/settings';
import { startSimulator } from '../lib/sim';
import { applyRetentionRules } from '../lib/storage';
import { planSegments } from '../lib/sync/planner';
import { mergeRanges } from '../lib/time/range';
import { peakRssMB, timerGapProbe } from './probe';

const out = (s: string) => process.stdout.write(s + '\n');
const CAMERAS = 64;
const SEGMENT_MS = 600_000;

export interface CatalogBenchResult {
  rows: number;
  buildSec: number;
  /** Longest timer gap over 1 s of doing nothing: the machine's own noise under the figures below. */
  idleGapMs: number;
  openMs: number;
  lookupUs: number;
  plan30dMs: number;
  steadyRetentionMs: number;
  steadyDeleted: number;
  steadyMaxBlockMs: number;
  dayRetentionMs: number;
  dayDeleted: number;
  dayMaxBlockMs: number;
  /** nvr-archive + nvr-source deployed → the first request reaches the NVR (the engine's first pass
   * starts 100 ms after the claim by design). */
  deployFirstRequestMs: number;
  /** Of which: opening the archive (catalog + engine) and the source's claim. */
  deployOpenMs: number;
  peakRssMB: number;
}

const NODE_ID = 'bench-nvr-source';

/** Milliseconds from `deploy()` to the first HTTP request any server of this process receives. */
async function timeToFirstRequest(deploy: () => void, boundMs = 30_000): Promise<number> {
  const CHANNEL = 'http.server.request.start';
  let t0 = 0;
  let onRequest: () => void = () => undefined;
  const first = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no request reached the simulator within ${boundMs} ms of the deploy`)), boundMs);
    onRequest = () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    };
  });
  subscribe(CHANNEL, onRequest);
  try {
    t0 = performance.now();
    deploy();
    return await first;
  } finally {
    unsubscribe(CHANNEL, onRequest);
  }
}

export async function runCatalogBench(rows = 1_000_000): Promise<CatalogBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vtrack-bench-catalog-'));
  // The NVR the catalog's source points at (SOAP only: the figure ends at its first request).
  const sim = await startSimulator({ preset: 'nvr', channels: CAMERAS, basePort: 0, discovery: false, rtsp: false });
  try {
    const file = join(dir, 'big.db');
    const perCamera = Math.ceil(rows / CAMERAS);
    const now = new Date(Date.UTC(2026, 11, 1));
    const first = now.getTime() - perCamera * SEGMENT_MS;
    const t0 = performance.now();
    const setup = openCatalog(file);
    const source = setup.saveSource({
      name: 'bench nvr',
      nodeId: NODE_ID,
      host: '127.0.0.1',
      ports: [sim.devices[0].port],
      workingDirectory: dir,
      cameras: Array.from({ length: CAMERAS }, (_, i) => ({
        displayName: `Channel ${i + 1}`,
        devicePort: sim.devices[0].port,
        videoSourceToken: `VS${i}`,
        profileToken: `P${i}`,
        codec: 'H264',
        width: 640,
        height: 360,
        fps: 15,
        folderPath: join(dir, `ch${i}`),
      })),
    });
    setup.close();
    // Bulk insert through SQLite directly (recordDownload re-reads each row: setup time only).
    const raw = new Database(file);
    const ins = raw.prepare(
      `INSERT INTO downloaded_files(camera_id, recording_token, start_time, end_time, path, bytes, codec, frames, width, height, status, created_at)
       VALUES (?, 'REC', ?, ?, ?, 19200000, 'H264', 9000, 640, 360, 'done', ?)`,
    );
    raw.transaction(() => {
      let n = 0;
      for (let k = 0; k < perCamera && n < rows; k++) {
        const s = new Date(first + k * SEGMENT_MS).toISOString();
        const e = new Date(first + (k + 1) * SEGMENT_MS).toISOString();
        for (const cam of source.cameras) {
          if (n++ >= rows) break;
          ins.run(cam.id, s, e, join(dir, `ch${cam.id}`, `${s}.mp4`), s);
        }
      }
    })();
    raw.close();
    const buildSec = (performance.now() - t0) / 1000;

    // What the probe reads on this machine with nothing to do (other processes share the cores).
    let probe = timerGapProbe(1);
    await new Promise((r) => setTimeout(r, 1000));
    const idleGapMs = probe.stop();
    // Open (a clean reopen, as on every deploy).
    probe = timerGapProbe(1);
    const o0 = performance.now();
    const catalog = openCatalog(file);
    const openMs = performance.now() - o0;
    probe.stop();
    try {
      const cam = source.cameras[7].id;
      // "Already held?" lookups (the file starting at a time) at random times across the range.
      const N = 20_000;
      const l0 = performance.now();
      let held = 0;
      for (let i = 0; i < N; i++) if (catalog.downloadStartingAt(cam, new Date(first + Math.floor(Math.random() * perCamera) * SEGMENT_MS))) held++;
      const lookupUs = ((performance.now() - l0) * 1000) / N;
      if (held !== N) throw new Error(`lookup found ${held} of ${N}`);
      // Plan the last 30 days of one camera as a pass does: held coverage from the catalog, minus
      // from recorded (all held: nothing to fetch).
      const p0 = performance.now();
      const planFrom = new Date(now.getTime() - Math.min(30 * 86_400_000, perCamera * SEGMENT_MS));
      const plan = planSegments([{ start: planFrom, end: now }], {
        segmentMinutes: 10,
        horizon: now,
        held: mergeRanges(catalog.heldRanges(cam, planFrom, now)),
      });
      const plan30dMs = performance.now() - p0;
      if (plan.segments.length !== 0) throw new Error(`planned ${plan.segments.length} segments of a fully held month`);

      // Steady state: a pass after one more segment slot aged out (one file per camera).
      const ageDays = (now.getTime() - (first + SEGMENT_MS) - 1000) / 86_400_000; // cutoff 1 s after the oldest file's end
      probe = timerGapProbe(1);
      const s0 = performance.now();
      const steady = await applyRetentionRules(catalog, source.id, { maxAgeDays: ageDays, now });
      const steadyRetentionMs = performance.now() - s0;
      const steadyMaxBlockMs = probe.stop();
      // Catch-up: a size cap one day's worth of files below the total (9 216 files).
      const total = catalog.totalBytes(source.id);
      probe = timerGapProbe(1);
      const d0 = performance.now();
      const day = await applyRetentionRules(catalog, source.id, { maxBytes: total - 144 * CAMERAS * 19_200_000, now });
      const dayRetentionMs = performance.now() - d0;
      const dayMaxBlockMs = probe.stop();

      // Deploy: a clean reopen by the archive, the source claimed, its first pass after the
      // engine's start delay; the figure ends when the simulator sees the first request.
      catalog.close();
      const settings = parseArchiveSettings({ dbPath: file }, dir);
      let deployOpenMs = 0;
      const deployFirstRequestMs = await timeToFirstRequest(() => {
        const a0 = performance.now();
        const { archive } = acquireArchive('bench-nvr-archive', settings, 'archive-node');
        archive.claim(NODE_ID, undefined);
        deployOpenMs = performance.now() - a0;
      });
      await releaseArchive('bench-nvr-archive', settings.dbFile);
      const r: CatalogBenchResult = {
        rows,
        buildSec,
        idleGapMs,
        openMs,
        lookupUs,
        plan30dMs,
        steadyRetentionMs,
        steadyDeleted: steady.deleted,
        steadyMaxBlockMs,
        dayRetentionMs,
        dayDeleted: day.deleted,
        dayMaxBlockMs,
        deployFirstRequestMs,
        deployOpenMs,
        peakRssMB: peakRssMB(),
      };
      out(
        `catalog at ${(rows / 1e6).toFixed(1)} M files (${CAMERAS} cameras, built in ${buildSec.toFixed(1)} s): open ${openMs.toFixed(1)} ms; "already held?" ${lookupUs.toFixed(1)} µs; plan 30 days of a camera ${plan30dMs.toFixed(0)} ms`,
      );
      out(`(timer-gap probe with nothing running: ${idleGapMs.toFixed(1)} ms — the machine's own noise)`);
      out(
        `retention pass, one slot aged out: ${steady.deleted} files in ${steadyRetentionMs.toFixed(0)} ms, longest main-thread block ${steadyMaxBlockMs.toFixed(1)} ms`,
      );
      out(
        `retention pass, one day over the size cap: ${day.deleted} files in ${dayRetentionMs.toFixed(0)} ms, longest main-thread block ${dayMaxBlockMs.toFixed(1)} ms; bench process peak RSS ${r.peakRssMB.toFixed(0)} MB`,
      );
      out(
        `deploy (nvr-archive opens the catalog, nvr-source claims its source) → first request at the NVR: ${deployFirstRequestMs.toFixed(0)} ms (open + claim ${deployOpenMs.toFixed(0)} ms, then the engine's 100 ms start delay and the pass up to its first request)`,
      );
      return r;
    } finally {
      if (catalog.isOpen) catalog.close();
    }
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runCatalogBench(Number(process.argv[2]) || undefined).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
