// Hikvision and Dahua downloads run in the replay worker pool, not on Node-RED's event loop: the
// pool reports each download as its job, an abort mid-download ends it (the worker stops it
// itself, without being terminated) and leaves no .part, what a download learned of the NVR (POST)
// carries over to the next, a worker that dies fails its download with a clear error and
// is replaced, and a password changed on the NVR during a pass still costs one rejected login.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { segmentPath } from '../lib/sync/naming';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import type { RunningVendorSim } from '../lib/sim/vendor-hikvision';
import { openVendorSession } from '../lib/vendors/driver';
import { WRONG_PASSWORD } from '../lib/vendors/errors';
import { ReplayToFilesError, closeReplayWorkers, replayWorkerPoolStats, replayWorkerTestHooks, type WrittenFile } from '../lib/media/replay-to-files';
import { openCatalog } from '../lib/catalog';
import { saveSourceFromDevices } from '../lib/sources/save-from-devices';
import { runSourceOnce, DEFAULT_SETTINGS } from '../lib/sync/runner';

const AUTH = { user: 'admin', password: 'Sim-pass1' };

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('vendor downloads in the worker pool', function () {
  this.timeout(120_000);
  let dir: string;
  const sims: RunningSimulator[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'vtrack-vworker-'))));
  afterEach(() => {
    replayWorkerTestHooks.onWorker = undefined;
  });
  after(async () => {
    for (const s of sims) await s.stop();
    await closeReplayWorkers();
    rmSync(dir, { recursive: true, force: true });
  });
  const sim = async (preset: 'hikvision' | 'dahua', historyMinutes: number, auth = AUTH) => {
    const s = await startSimulator({ preset, basePort: 0, historyMinutes, auth, discovery: false, rtsp: false });
    sims.push(s);
    return s;
  };

  for (const preset of ['hikvision', 'dahua'] as const) {
    it(`${preset}: the download (HTTP, demux, mux) runs as a job of a worker thread`, async () => {
      const s = await sim(preset, 4);
      const session = await openVendorSession(preset, '127.0.0.1', s.devices[0].port, AUTH, 5000);
      const rec = s.devices[0].spec.cameras[0].recording.start.getTime();
      const kinds: string[] = [];
      const seen = new Set<string>();
      replayWorkerTestHooks.onWorker = (w, kind) => {
        kinds.push(kind);
        w.on('message', (m: { type: string }) => seen.add(m.type));
      };
      const before = replayWorkerPoolStats().jobs[preset];
      const out = join(dir, `${preset}-pool`);
      const files = await session.download('ch1', {
        from: new Date(rec),
        to: new Date(rec + 60_000),
        naming: { kind: 'camera-folder', folder: out },
      });
      assert.deepEqual(kinds, [preset], 'one worker job, of this vendor');
      assert.equal(replayWorkerPoolStats().jobs[preset] - before, 1);
      assert.equal(files.length, 1);
      assert.equal(files[0].frames, 900, '60 s at 15 fps');
      assert.deepEqual(filesUnder(out), [files[0].path]);
      // The worker named the file itself, by the archive's rule: no message asked the main thread.
      assert.equal(files[0].path, segmentPath(out, files[0].start, files[0].end));
      assert.deepEqual(
        [...seen].filter((t) => !['part', 'progress', 'file', 'learned', 'done'].includes(t)),
        [],
        `only events come back: ${[...seen].join(', ')}`,
      );
      assert.ok(seen.has('part'), 'the .part is announced before it is created');
    });
  }

  it('Hikvision firmware that refuses GET: what one download learned (POST) is where the next one starts', async () => {
    // The simulator's Hikvision preset takes POST only, as newer firmware does (qb60/hikvision-downloader#5).
    const s = await sim('hikvision', 4);
    const requests = (s as unknown as { vendor: RunningVendorSim }).vendor.requests;
    const session = await openVendorSession('hikvision', '127.0.0.1', s.devices[0].port, AUTH, 5000);
    const rec = s.devices[0].spec.cameras[0].recording.start.getTime();
    const out = join(dir, 'learned');
    for (const a of [0, 10_000]) {
      const files = await session.download('ch1', {
        from: new Date(rec + a),
        to: new Date(rec + a + 10_000),
        naming: { kind: 'camera-folder', folder: out },
      });
      assert.equal(files.length, 1);
    }
    // Each download's client (in its worker) asks for its own Digest challenge first (1 + 1); the
    // first is refused GET and then POSTs (2); the second POSTs at once (1). Without carrying the
    // method over: 6.
    assert.equal(requests.get('/ISAPI/ContentMgmt/download'), 5);
  });

  it('an abort mid-download ends it: the worker stops the download itself (not terminated), no .part is left', async () => {
    const s = await sim('dahua', 32);
    const session = await openVendorSession('dahua', '127.0.0.1', s.devices[0].port, AUTH, 5000);
    const rec = s.devices[0].spec.cameras[0].recording.start.getTime();
    const out = join(dir, 'abort');
    const workers: Worker[] = [];
    replayWorkerTestHooks.onWorker = (w) => workers.push(w);
    const ac = new AbortController();
    let partsAtAbort: string[] = [];
    const err = await session
      .download('ch1', {
        from: new Date(rec),
        to: new Date(rec + 30 * 60_000),
        signal: ac.signal,
        naming: { kind: 'camera-folder', folder: out },
        // Half a minute of video is in: the .part is open and the NVR is still sending.
        onProgress: (p) => {
          if (ac.signal.aborted || p.mediaTime.getTime() < rec + 30_000) return;
          partsAtAbort = filesUnder(out).filter((f) => f.endsWith('.part'));
          ac.abort();
        },
      })
      .then(
        (files: WrittenFile[]) => assert.fail(`not aborted: ${files.length} file(s)`),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ReplayToFilesError, String(err));
    assert.equal(err.kind, 'aborted', err.message);
    assert.doesNotMatch(err.message, /did not stop in time/, 'the worker ended the download itself');
    assert.equal(partsAtAbort.length, 1, 'aborted while a file was being written');
    assert.deepEqual(filesUnder(out), [], 'no .part and no file left');
    assert.equal(workers.length, 1);
    assert.equal(replayWorkerPoolStats().busy, 0, 'the job is over');
  });

  it('a worker that dies fails its download with a clear error and no .part; the pool starts a new one', async () => {
    const s = await sim('hikvision', 12);
    const session = await openVendorSession('hikvision', '127.0.0.1', s.devices[0].port, AUTH, 5000);
    const rec = s.devices[0].spec.cameras[0].recording.start.getTime();
    const out = join(dir, 'crash');
    let worker: Worker | undefined;
    replayWorkerTestHooks.onWorker = (w) => (worker ??= w);
    let killed = false;
    const err = await session
      .download('ch1', {
        from: new Date(rec),
        to: new Date(rec + 10 * 60_000),
        naming: { kind: 'camera-folder', folder: out },
        onProgress: (p) => {
          if (killed || p.mediaTime.getTime() < rec + 10_000) return;
          killed = true;
          void worker?.terminate();
        },
      })
      .then(
        () => assert.fail('the download survived its worker'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ReplayToFilesError, String(err));
    assert.equal(err.kind, 'write', 'retried by the runner like any other failed attempt');
    assert.match(err.message, /^download from the Hikvision NVR at 127\.0\.0\.1:\d+ failed: download worker exited unexpectedly/);
    assert.deepEqual(filesUnder(out), [], 'the .part the worker left is removed');
    const started = replayWorkerPoolStats().started;
    const files = await session.download('ch1', { from: new Date(rec), to: new Date(rec + 20_000), naming: { kind: 'camera-folder', folder: out } });
    assert.equal(files.length, 1);
    assert.equal(replayWorkerPoolStats().started, started + 1, 'a new worker took the next download');
  });

  it('a password changed on the NVR during a pass: one rejected login in all, not one per download', async () => {
    // The user changes the password on the recorder after the pass has logged in and planned: each
    // download's worker logs in on its own, and the first rejection must stop the others.
    const nvrAuth = { ...AUTH };
    const s = await sim('dahua', 6, nvrAuth);
    const port = s.devices[0].port;
    const gate = (s as unknown as { vendor: RunningVendorSim }).vendor.gate;
    const catalog = openCatalog(join(dir, 'changed.db'));
    try {
      const session = await openVendorSession('dahua', '127.0.0.1', port, AUTH, 5000);
      const saved = await saveSourceFromDevices(catalog, {
        name: 'd',
        host: '127.0.0.1',
        ports: [port],
        devices: [session.device],
        selection: 'all',
        workingDirectory: join(dir, 'changed'),
        driver: 'dahua',
      });
      const before = gate.stats.rejected;
      let segments = 0;
      const summary = await runSourceOnce({
        catalog,
        source: catalog.getSource(saved.id)!,
        credentials: AUTH,
        settings: { ...DEFAULT_SETTINGS, segmentMinutes: 1, minFreeBytes: 0, retryBaseMs: 1, concurrency: 1 },
        reason: 'manual',
        emit: (e) => {
          if (e.event !== 'planned') return;
          segments = e.segments;
          nvrAuth.password = 'changed-on-the-nvr';
        },
        onFile: () => undefined,
      });
      assert.ok(segments >= 3, `${segments} segments planned`);
      assert.ok(
        summary.errors.some((e) => e.includes(WRONG_PASSWORD)),
        summary.errors.join('; '),
      );
      assert.equal(gate.stats.rejected - before, 1, 'one rejected login for the whole pass');
    } finally {
      catalog.close();
    }
  });
});
