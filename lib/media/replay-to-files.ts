// replayToFiles: one time range from an ONVIF replay URI into MP4 files (see replay-in-process.ts
// for how), run in a worker thread; vendorDownloadToFiles: a Hikvision / Dahua HTTP download into
// MP4 files (lib/vendors/download-job.ts), run in the same pool of worker threads. Why a worker:
// RTSP parsing or PS/DHAV demuxing and MP4 muxing at tens to hundreds of MB/s would otherwise hold
// Node-RED's event loop (editor and other flows stall during a sync), and the worker's own heap
// limits keep memory bounded without V8 flags on the whole process.
// Workers are pooled: a call takes an idle worker (or starts one), so concurrent calls get one
// each (one per concurrency slot of the caller) and consecutive segments reuse a warm one. Why:
// a fresh worker re-compiles all the code, measured 465-530 ms CPU per 10-minute segment against
// 125-190 ms on a warm thread. A worker is retired after MAX_JOBS_PER_WORKER jobs, after any
// failed job, above a heap mark, or after IDLE_MS unused.
// The main thread only proxies: the job (with its file naming rule as data) goes in, progress, log,
// files and the .part paths come out as messages, abort goes in as a message; if the worker dies,
// the .part files it may have left are removed here.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { RtspError } from '../rtsp/errors';
import { maskUrl } from '../rtsp/url';
import { ReplayToFilesError, type ReplayToFilesOptions, type WrittenFile } from './replay-types';
import type { MainToWorker, ReplayWorkerInput, WireCause, WorkerJob, WorkerJobKind, WorkerToMain } from './replay-worker-protocol';
import { VendorError } from '../vendors/errors';
import type { VendorDownloadJob, VendorJobCallbacks } from '../vendors/download-job';
import { errorMessage } from '../errors';

export { ReplayToFilesError } from './replay-types';
export type { ReplayErrorKind, ReplayProgress, ReplayToFilesOptions, WrittenFile } from './replay-types';

const WORKER_FILE = join(__dirname, 'replay-worker.js');

/** Young generation of the worker: small semi-spaces keep RSS low; measured (bench/replay.ts)
 * 4 MB ≈ 10 MB less RSS but ~5 % slower, 16 MB ≈ 20 MB more RSS for ~10 % more speed. */
const YOUNG_GENERATION_MB = 8;
/** Old generation: a ceiling, not an allocation. The heap in use after a job is ~10 MB (frames
 * are external memory, not heap); what grows with one file's length is only the writer's mfra index,
 * two numbers per ~1 s fragment (~1.5 MB per day). So the limit is the same for every range up to a
 * day — a pooled worker fits every segment — and grows in 32 MB steps beyond. Measured at 16
 * channels: old 32/48/104 MB, young 4/8/16 MB all gave 210-232 MB peak RSS: heap limits are not
 * what sets the memory; frame buffers are (see FrameSlab in lib/rtsp/depacketize.ts). */
const OLD_GENERATION_BASE_MB = 64;
const OLD_GENERATION_STEP_MB = 32;
const OLD_GENERATION_STEP_DAYS = 16;
/** After an abort, how long the worker gets to clean up before it is terminated. */
const ABORT_GRACE_MS = 5000;

/** Heap limits of the replay worker for a range of this length. */
export function replayWorkerLimits(from: Date, to: Date): ResourceLimits {
  const days = Math.max(0, to.getTime() - from.getTime()) / 86_400_000;
  const steps = Math.ceil(Math.max(0, days - 1) / OLD_GENERATION_STEP_DAYS);
  return { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: OLD_GENERATION_BASE_MB + steps * OLD_GENERATION_STEP_MB };
}

/** For specs only: see the worker each call runs on (and the job's kind), or override the heap limits. */
export const replayWorkerTestHooks: { onWorker?(w: Worker, kind: WorkerJobKind): void; resourceLimits?: ResourceLimits; maxJobsPerWorker?: number } = {};

/** Jobs one worker runs before it is retired: bounds whatever a long-lived isolate might
 * accumulate (code, fragmentation) at a cost of one start-up per ~16 h of 10-minute segments. */
const MAX_JOBS_PER_WORKER = 100;
/** An idle worker is ended after this long: keeps it warm through a sync pass (segments follow
 * each other within milliseconds) without holding ~20 MB per slot between passes. */
const IDLE_MS = 60_000;
/** Retire a worker whose heap in use after a job exceeds this share of its old-generation limit:
 * something held more than a job should, and the next job would start closer to the limit. */
const HEAP_MARK_SHARE = 0.5;

interface JobHandler {
  message(m: WorkerToMain): void;
  exit(code: number, err: unknown): void;
}

interface PooledWorker {
  readonly worker: Worker;
  readonly limits: ResourceLimits;
  jobs: number;
  idleTimer?: NodeJS.Timeout;
  handler?: JobHandler;
  error?: unknown;
}

const idleWorkers: PooledWorker[] = [];
const liveWorkers = new Set<PooledWorker>();
let jobSeq = 0;
let workersStarted = 0;
let busy = 0;
let maxBusy = 0;
/** Jobs handed to a worker, by kind. */
const jobsByKind: Record<WorkerJobKind, number> = { rtsp: 0, hikvision: 0, dahua: 0 };

function fits(w: PooledWorker, limits: ResourceLimits): boolean {
  return (
    w.limits.maxYoungGenerationSizeMb === limits.maxYoungGenerationSizeMb && (w.limits.maxOldGenerationSizeMb ?? 0) >= (limits.maxOldGenerationSizeMb ?? 0)
  );
}

function startWorker(limits: ResourceLimits): PooledWorker {
  const worker = new Worker(WORKER_FILE, { resourceLimits: limits });
  workersStarted++;
  const pw: PooledWorker = { worker, limits, jobs: 0 };
  liveWorkers.add(pw);
  worker.on('message', (m: WorkerToMain) => pw.handler?.message(m));
  worker.on('messageerror', (e) => {
    pw.error ??= e;
    void worker.terminate();
  });
  worker.on('error', (e) => {
    pw.error ??= e;
  });
  worker.on('exit', (code) => {
    liveWorkers.delete(pw);
    const i = idleWorkers.indexOf(pw);
    if (i >= 0) idleWorkers.splice(i, 1);
    if (pw.idleTimer) clearTimeout(pw.idleTimer);
    const h = pw.handler;
    pw.handler = undefined;
    h?.exit(code, pw.error);
  });
  return pw;
}

function acquireWorker(limits: ResourceLimits): PooledWorker {
  const i = idleWorkers.findIndex((w) => fits(w, limits));
  if (i < 0) return startWorker(limits);
  const [pw] = idleWorkers.splice(i, 1);
  if (pw.idleTimer) clearTimeout(pw.idleTimer);
  pw.idleTimer = undefined;
  pw.worker.ref();
  return pw;
}

function releaseWorker(pw: PooledWorker, retire: boolean): void {
  pw.handler = undefined;
  if (retire || pw.jobs >= (replayWorkerTestHooks.maxJobsPerWorker ?? MAX_JOBS_PER_WORKER)) {
    void pw.worker.terminate();
    return;
  }
  // An idle worker must not keep the process alive (the CLI exits when its work is done).
  pw.worker.unref();
  pw.idleTimer = setTimeout(() => void pw.worker.terminate(), IDLE_MS);
  pw.idleTimer.unref();
  idleWorkers.push(pw);
}

/** Ends every idle replay worker (busy ones end when their job does). For shutdown and specs. */
export async function closeReplayWorkers(): Promise<void> {
  await Promise.all(idleWorkers.splice(0).map((pw) => pw.worker.terminate()));
}

/** Pool figures for the bench and specs: workers alive, idle, started so far, jobs running now,
 * the most that ran at once, and the jobs handed to workers so far by kind. */
export function replayWorkerPoolStats(): { live: number; idle: number; started: number; busy: number; maxBusy: number; jobs: Record<WorkerJobKind, number> } {
  return { live: liveWorkers.size, idle: idleWorkers.length, started: workersStarted, busy, maxBusy, jobs: { ...jobsByKind } };
}

/** Escape hatch for hosts without worker threads, and for running the TypeScript sources directly
 * (there is no compiled replay-worker.js next to a .ts file). */
const inProcess = (): boolean => process.env.VTRACK_REPLAY_IN_PROCESS === '1' || __filename.endsWith('.ts');

export function replayToFiles(o: ReplayToFilesOptions): Promise<WrittenFile[]> {
  // Asked for by a one-shot caller (o.inProcess: the CLI's single replay needs no worker), or the
  // escape hatch above. Loaded only then: the main thread need not hold the muxer's code.
  if (o.inProcess || inProcess()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (see above)
    return (require('./replay-in-process') as typeof import('./replay-in-process')).replayInProcess(o);
  }
  const job: WorkerJob = {
    kind: 'rtsp',
    url: o.url,
    user: o.user,
    password: o.password,
    from: o.from,
    to: o.to,
    naming: o.naming,
    rateControl: o.rateControl,
    allowBasicAuth: o.allowBasicAuth,
    timeouts: o.timeouts,
    coverageToleranceMs: o.coverageToleranceMs,
  };
  return runInWorker(job, o, { what: `replay of ${maskUrl(o.url)}`, worker: 'replay worker', aborted: () => new RtspError('aborted', 'replay aborted') });
}

export type VendorDownloadToFilesOptions = Omit<VendorJobCallbacks, 'onFileWritten' | 'onPartFile'>;

/** A Hikvision / Dahua download (HTTP, demux, mux) in a pooled worker; rejects with
 * ReplayToFilesError (its cause a VendorError when the NVR or the network failed). The job holds
 * the credentials: it goes to the worker by postMessage, in process, and is never logged. */
export function vendorDownloadToFiles(job: VendorDownloadJob, o: VendorDownloadToFilesOptions): Promise<WrittenFile[]> {
  if (inProcess()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose (see inProcess)
    return (require('../vendors/download-job') as typeof import('../vendors/download-job')).runVendorDownload(job, o);
  }
  const c = job.connection;
  return runInWorker(
    job,
    { ...o, from: job.from, to: job.to },
    {
      what: `download from the ${job.kind === 'hikvision' ? 'Hikvision' : 'Dahua'} NVR at ${c.host}:${c.port}`,
      worker: 'download worker',
      aborted: () => new VendorError('aborted', 'download aborted'),
    },
  );
}

type JobCallbacks = Pick<ReplayToFilesOptions, 'from' | 'to' | 'onProgress' | 'log' | 'signal'> & Pick<VendorJobCallbacks, 'onLearned'>;

/** How the pool's own failures (abort before start, a dead worker) read for this kind of job. */
interface JobWords {
  /** "replay of rtsp://…", "download from the Dahua NVR at …" */
  what: string;
  worker: string;
  aborted(): Error;
}

function runInWorker(work: WorkerJob, o: JobCallbacks, words: JobWords): Promise<WrittenFile[]> {
  const failure = (msg: string, completed: WrittenFile[], kind: ReplayToFilesError['kind'], cause?: unknown) =>
    new ReplayToFilesError(`${words.what} failed: ${msg}`, completed, kind, cause);
  if (o.signal?.aborted) {
    const e = words.aborted();
    return Promise.reject(failure(e.message, [], 'aborted', e));
  }

  return new Promise<WrittenFile[]>((resolve, reject) => {
    const input: ReplayWorkerInput = { ...work, wantProgress: !!o.onProgress, wantLog: !!o.log };
    const limits = replayWorkerTestHooks.resourceLimits ?? replayWorkerLimits(o.from, o.to);
    let pw: PooledWorker;
    try {
      pw = acquireWorker(limits);
    } catch (e) {
      reject(failure(`cannot start the ${words.worker}: ${errorMessage(e)}`, [], 'write', e));
      return;
    }
    const worker = pw.worker;
    const job = ++jobSeq;
    pw.jobs++;
    jobsByKind[work.kind]++;
    maxBusy = Math.max(maxBusy, ++busy);
    replayWorkerTestHooks.onWorker?.(worker, work.kind);

    const completed: WrittenFile[] = [];
    // Every .part the worker said it would create.
    const parts = new Set<string>();
    let callerError: unknown; // a callback of ours threw: fail the replay, as in-process would
    let forcedAbort = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const send = (m: MainToWorker) => worker.postMessage(m);
    const abort = () => {
      if (settled) return;
      send({ type: 'abort', job });
      graceTimer ??= setTimeout(() => {
        forcedAbort = true;
        void worker.terminate();
      }, ABORT_GRACE_MS);
    };
    const failFromCaller = (e: unknown) => {
      callerError ??= e;
      abort();
    };
    const settle = () => {
      settled = true;
      busy--;
      if (graceTimer) clearTimeout(graceTimer);
      o.signal?.removeEventListener('abort', abort);
    };
    o.signal?.addEventListener('abort', abort, { once: true });

    pw.handler = {
      message: (m) => {
        if (m.job !== job) return; // a late message of an earlier job on this worker
        try {
          switch (m.type) {
            case 'part':
              parts.add(m.path);
              return;
            case 'progress':
              o.onProgress?.(m.progress);
              return;
            case 'log':
              o.log?.(m.message);
              return;
            case 'file':
              completed.push(m.file);
              return;
            case 'learned':
              o.onLearned?.(m.learned);
              return;
            case 'done':
            case 'failed': {
              // The worker has cleaned up after itself (its .part files are gone).
              settle();
              const failed = m.type === 'failed' || callerError !== undefined || forcedAbort;
              releaseWorker(pw, failed || m.heapBytes > (limits.maxOldGenerationSizeMb ?? 0) * 1024 * 1024 * HEAP_MARK_SHARE);
              if (callerError !== undefined) reject(failure(errorMessage(callerError), m.type === 'done' ? m.files : m.completed, 'write', callerError));
              else if (m.type === 'done') resolve(m.files);
              else reject(new ReplayToFilesError(m.message, m.completed, m.kind, rebuildCause(m.cause)));
              return;
            }
          }
        } catch (e) {
          failFromCaller(e);
        }
      },
      exit: (code, workerError) => {
        // Died without a result (crash, out of memory, terminated): its .part file may be left.
        settle();
        const error = forcedAbort
          ? failure(`${words.aborted().message} (the ${words.worker} did not stop in time)`, completed, 'aborted', words.aborted())
          : failure(`${words.worker} ${deathReason(workerError, code, limits)}`, completed, 'write', workerError);
        void Promise.all([...parts].map((p) => rm(p, { force: true }).catch(() => undefined))).then(() => reject(error));
      },
    };
    send({ type: 'run', job, input });
  });
}

function rebuildCause(c: WireCause | undefined): Error | undefined {
  if (!c) return undefined;
  if (c.rtspKind) return new RtspError(c.rtspKind, c.message, c.status);
  if (c.vendorKind) return new VendorError(c.vendorKind, c.message, { status: c.status, unlockAt: c.unlockAt, unlockInSec: c.unlockInSec });
  const e = new Error(c.message);
  e.name = c.name;
  return e;
}

function deathReason(err: unknown, code: number, limits: ResourceLimits): string {
  if (err && typeof err === 'object' && (err as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return `ran out of memory (heap limit ${limits.maxOldGenerationSizeMb ?? '?'} MB)`;
  }
  if (err !== undefined) return `crashed: ${errorMessage(err)}`;
  return `exited unexpectedly (exit code ${code})`;
}
