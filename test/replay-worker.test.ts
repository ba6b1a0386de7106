// replayToFiles runs each download in a worker thread: the main thread's event loop stays free
// while frames are parsed and muxed, and a worker that is aborted, dies or runs out of memory
// rejects cleanly, keeps the files it finished and leaves no .part file behind.
import { strict as assert } from 'node:assert';
import { probe } from './support/media';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { startRtspServer, type RtspServerHandle, type RtspServerOptions } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import type { SimCameraSpec, SimDeviceSpec, TimelineSpec } from '../lib/sim/types';
import { RtspError } from '../lib/rtsp/errors';
import { segmentPath, type FileNaming } from '../lib/sync/naming';
import {
  closeReplayWorkers,
  replayToFiles,
  replayWorkerLimits,
  replayWorkerPoolStats,
  replayWorkerTestHooks,
  ReplayToFilesError,
  type ReplayProgress,
} from '../lib/media/replay-to-files';

const AUTH = { user: 'admin', password: 's3cret!' };
const REC_START = new Date(Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000);
const at = (sec: number) => new Date(REC_START.getTime() + sec * 1000);

function device(recording: TimelineSpec = { start: REC_START }): SimDeviceSpec {
  const cam: SimCameraSpec = { name: 'cam', codec: 'H264', width: 1920, height: 1080, fps: 15, bitrateKbps: 1000, clip: 'front-door-1080p-h264', recording };
  return {
    name: 'test',
    manufacturer: 'VTrack Simulator',
    model: 't',
    firmware: '1',
    serial: 'T1',
    hardware: 't',
    location: 'loopback',
    urn: 'urn:uuid:22222222-2222-4222-a222-222222222222',
    port: 0,
    rtspPort: 0,
    cameras: [cam],
  };
}

const frameCount = (file: string): number => probe(file).frames;

const until = async (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** The simulator's RTSP server in its own thread, so only the client's work is on this thread. */
async function serverInThread(o: Omit<RtspServerOptions, 'now'>): Promise<{ port: number; close(): Promise<void> }> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { startRtspServer } = require(workerData.module);
    startRtspServer(workerData.options).then((s) => {
      parentPort.postMessage(s.port);
      parentPort.once('message', () => s.close().then(() => parentPort.close()));
    });`;
  const w = new Worker(code, { eval: true, workerData: { module: join(__dirname, '..', 'lib', 'sim', 'rtsp-server.js'), options: o } });
  const port = await new Promise<number>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return {
    port,
    close: async () => {
      const exited = new Promise((r) => w.once('exit', r));
      w.postMessage('close');
      await exited;
    },
  };
}

describe('replayToFiles in a worker thread', function () {
  this.timeout(60_000);
  let dir: string;
  const servers: Array<{ close(): Promise<void> }> = [];
  const start = async (extra: Partial<RtspServerOptions> = {}, recording?: TimelineSpec): Promise<RtspServerHandle> => {
    const s = await startRtspServer({ host: '127.0.0.1', port: 0, auth: AUTH, device: device(recording), ...extra });
    servers.push(s);
    return s;
  };
  const url = (port: number) => `rtsp://127.0.0.1:${port}${replayPath(0)}`;
  // The archive's naming rule, as data: the worker names the files itself.
  const out = () => join(dir, 'out');
  let naming: FileNaming;
  /** Files under out/ (in its day folders), relative to it. */
  const files = (suffix: string) => (existsSync(out()) ? readdirSync(out(), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix)) : []);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vtrack-replay-worker-'));
    naming = { kind: 'camera-folder', folder: out() };
  });
  afterEach(async () => {
    replayWorkerTestHooks.onWorker = undefined;
    replayWorkerTestHooks.resourceLimits = undefined;
    replayWorkerTestHooks.maxJobsPerWorker = undefined;
    while (servers.length) await servers.pop()?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an abort while a file is being written rejects with kind "aborted", keeps finished files, finishes the open one up to its last frame and leaves no .part', async () => {
    // Real-time server, 2 s recorded / 1 s gap: the first file is finished after ~2 s.
    const s = await start({ rateControl: 'ignore' }, { start: REC_START, gaps: { onSec: 2, offSec: 1 } });
    const ac = new AbortController();
    const done = replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(30), naming, signal: ac.signal }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    await until(() => files('.mp4').length === 1 && files('.part').length === 1, 10_000, 'a finished file and a second .part');
    const t0 = Date.now();
    ac.abort();
    const err = await done;
    assert.ok(err instanceof ReplayToFilesError);
    assert.equal(err.kind, 'aborted');
    assert.ok(err.cause instanceof RtspError && err.cause.kind === 'aborted');
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(files('.part'), []);
    assert.equal(err.completed.length, 2);
    assert.equal(err.completed[0].frames, 30);
    assert.ok(err.completed[0].start instanceof Date, 'Dates survive the thread boundary');
    assert.equal(frameCount(err.completed[0].path), 30);
    // What arrived of the second file is kept: a valid file ending at its last frame, so only the
    // rest of the range has to be fetched again.
    const second = err.completed[1];
    assert.ok(second.frames > 0 && second.frames < 30, `second file: ${second.frames} frames`);
    assert.equal(frameCount(second.path), second.frames);
    assert.ok(second.start >= err.completed[0].end);
  });

  it('a worker that dies mid-file rejects with a clear error, keeps finished files and removes the .part', async () => {
    const s = await start({ rateControl: 'ignore' }, { start: REC_START, gaps: { onSec: 2, offSec: 1 } });
    let worker: Worker | undefined;
    replayWorkerTestHooks.onWorker = (w) => (worker = w);
    const done = replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(30), naming }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    await until(() => files('.mp4').length === 1 && files('.part').length === 1, 10_000, 'a finished file and a second .part');
    assert.ok(worker);
    await worker.terminate(); // as abrupt as a crash: no chance to clean up
    const err = await done;
    assert.ok(err instanceof ReplayToFilesError);
    assert.equal(err.kind, 'write');
    assert.match(err.message, /replay worker exited unexpectedly/);
    assert.deepEqual(files('.part'), []);
    assert.deepEqual(
      err.completed.map((f) => f.path),
      files('.mp4').map((f) => join(out(), f)),
    );
  });

  it('a worker that runs out of memory rejects with "ran out of memory"', async () => {
    const s = await start();
    replayWorkerTestHooks.resourceLimits = { maxOldGenerationSizeMb: 2, maxYoungGenerationSizeMb: 1 };
    const err = await replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(5), naming }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReplayToFilesError);
    assert.match(err.message, /replay worker ran out of memory \(heap limit 2 MB\)/);
    assert.deepEqual(files('.part'), []);
  });

  it('error kinds and causes cross the thread boundary (auth → RtspError "auth" with status 401)', async () => {
    const s = await start();
    const err = await replayToFiles({ url: url(s.port), user: 'admin', password: 'nope', from: at(0), to: at(2), naming }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReplayToFilesError);
    assert.equal(err.kind, 'auth');
    assert.ok(err.cause instanceof RtspError);
    assert.equal(err.cause.kind, 'auth');
    assert.equal(err.cause.status, 401);
  });

  it('a finished file that cannot be moved to its name fails with kind "write" and leaves no .part', async () => {
    const s = await start();
    // 4 s at 15 fps, no gap: one file from at(0) to at(4). A folder already holds its name.
    const taken = segmentPath(out(), at(0), at(4));
    mkdirSync(join(taken, 'something'), { recursive: true });
    const err = await replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(4), naming }).then(
      () => assert.fail('should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReplayToFilesError);
    assert.equal(err.kind, 'write');
    assert.match(err.message, /EISDIR|ENOTEMPTY|directory/);
    assert.deepEqual(files('.part'), [], 'the .part was written, then removed');
    assert.ok(existsSync(join(taken, 'something')), 'what held the name is untouched');
  });

  it('names its files in the worker: no message asks the main thread, the files are where segmentPath puts them', async () => {
    const s = await start({}, { start: REC_START, gaps: { onSec: 2, offSec: 1 } });
    const seen = new Set<string>();
    replayWorkerTestHooks.onWorker = (w) => w.on('message', (m: { type: string }) => seen.add(m.type));
    const result = await replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(6), naming });
    assert.equal(result.length, 2, 'two recorded spans, two files');
    for (const f of result) {
      assert.equal(f.path, segmentPath(out(), f.start, f.end));
      assert.ok(existsSync(f.path), f.path);
    }
    // Only events flow back (a .part announced before it is created, each file, the result).
    assert.deepEqual([...seen].sort(), ['done', 'file', 'part']);
  });

  it('passes progress through, with Dates; the worker stays warm for the next call and ends on closeReplayWorkers', async () => {
    const s = await start();
    await closeReplayWorkers();
    const progress: ReplayProgress[] = [];
    const workers: Worker[] = [];
    replayWorkerTestHooks.onWorker = (w) => workers.push(w);
    const result = await replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(20), naming, onProgress: (p) => progress.push(p) });
    assert.equal(result.length, 1);
    assert.equal(result[0].frames, 300);
    assert.ok(result[0].end instanceof Date);
    assert.ok(progress.length >= 1);
    const last = progress[progress.length - 1];
    assert.ok(last.mediaTime instanceof Date);
    assert.equal(last.frames, 300);
    assert.equal(last.mediaTime.getTime(), at(20).getTime());
    assert.equal(replayWorkerPoolStats().idle, 1, 'the worker waits, idle, for the next segment');
    // The next segment runs on the same (warm) worker, and only its own progress is reported.
    progress.length = 0;
    const second = await replayToFiles({ url: url(s.port), ...AUTH, from: at(20), to: at(30), naming, onProgress: (p) => progress.push(p) });
    assert.equal(second[0].frames, 150);
    assert.equal(progress[progress.length - 1].frames, 150);
    assert.equal(workers.length, 2);
    assert.equal(workers[1], workers[0], 'the same worker ran both calls');
    await closeReplayWorkers();
    assert.equal(workers[0].threadId, -1, 'threadId is -1 once a worker has exited');
    assert.equal(replayWorkerPoolStats().live, 0);
  });

  it('two calls at once run on two workers; a failed call retires its worker', async () => {
    const s = await start();
    await closeReplayWorkers();
    const workers: Worker[] = [];
    replayWorkerTestHooks.onWorker = (w) => workers.push(w);
    const [a, b] = await Promise.all([
      replayToFiles({ url: url(s.port), ...AUTH, from: at(0), to: at(4), naming }),
      replayToFiles({ url: url(s.port), ...AUTH, from: at(10), to: at(14), naming }),
    ]);
    assert.equal(a[0].frames + b[0].frames, 120);
    assert.notEqual(workers[0], workers[1]);
    assert.equal(replayWorkerPoolStats().idle, 2);
    const err = await replayToFiles({ url: url(s.port), user: 'admin', password: 'nope', from: at(0), to: at(2), naming }).catch((e: unknown) => e);
    assert.ok(err instanceof ReplayToFilesError && err.kind === 'auth');
    await until(() => workers[2].threadId === -1, 5000, 'the failed worker to exit');
    assert.equal(replayWorkerPoolStats().idle, 1);
    await closeReplayWorkers();
  });

  it('a worker is retired after its quota of jobs; the next call starts a fresh one', async () => {
    const s = await start();
    await closeReplayWorkers();
    replayWorkerTestHooks.maxJobsPerWorker = 2;
    const workers: Worker[] = [];
    replayWorkerTestHooks.onWorker = (w) => workers.push(w);
    for (let i = 0; i < 3; i++) await replayToFiles({ url: url(s.port), ...AUTH, from: at(i * 2), to: at(i * 2 + 2), naming });
    assert.equal(workers[1], workers[0]);
    assert.notEqual(workers[2], workers[0]);
    await until(() => workers[0].threadId === -1, 5000, 'the retired worker to exit');
    await closeReplayWorkers();
  });

  it('heap limits are the same for every range up to a day (a pooled worker fits any segment), a little more beyond', () => {
    const tenMin = replayWorkerLimits(at(0), at(600));
    const day = replayWorkerLimits(at(0), at(86_400));
    const month = replayWorkerLimits(at(0), at(30 * 86_400));
    assert.ok((tenMin.maxYoungGenerationSizeMb ?? 0) > 0 && (tenMin.maxYoungGenerationSizeMb ?? 0) <= 16);
    assert.ok((tenMin.maxOldGenerationSizeMb ?? 0) >= 48);
    assert.deepEqual(day, tenMin);
    assert.ok((month.maxOldGenerationSizeMb ?? 0) > (day.maxOldGenerationSizeMb ?? 0));
  });

  it('the main event loop stays responsive while 5 minutes of 1080p are replayed', async () => {
    const server = await serverInThread({ host: '127.0.0.1', port: 0, auth: AUTH, device: device() });
    servers.push(server);
    let maxLagMs = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      maxLagMs = Math.max(maxLagMs, now - last - 10);
      last = now;
    }, 10);
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    try {
      const result = await replayToFiles({ url: url(server.port), ...AUTH, from: at(0), to: at(300), naming });
      assert.equal(result[0].frames, 4500);
    } finally {
      clearInterval(tick);
    }
    const busy = performance.eventLoopUtilization(elu0).utilization;
    const wallMs = performance.now() - t0;
    // Measured on 2 cores: in the worker the main thread is ~2 % busy; the same replay on the main
    // thread (VTRACK_REPLAY_IN_PROCESS=1) keeps it ~85 % busy, so this spec fails there. The lag is
    // printed, not asserted: on a loaded machine the OS alone can delay a timer by 100+ ms (seen
    // with other processes on both cores); `npm run bench` measures it.
    assert.ok(busy < 0.4, `main thread busy ${(busy * 100).toFixed(0)} % of ${wallMs.toFixed(0)} ms`);
    console.log(`      main thread ${(busy * 100).toFixed(1)} % busy, longest timer lag ${maxLagMs.toFixed(0)} ms`);
  });
});
