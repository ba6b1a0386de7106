// replayToFiles: one time range from an ONVIF replay URI into MP4 files (see replay-in-process.ts
// for how), run in a worker thread per call. Why a worker: RTSP parsing and MP4 muxing at hundreds
// of MB/s would otherwise hold Node-RED's event loop (editor and other flows stall during a sync),
// and the worker's own heap limits keep memory bounded without V8 flags on the whole process
// (measured: with the default young generation, hour-long replays grew it from ~17 to ~50 MB).
// The main thread only proxies: finalPath as request/response, progress/log/files as messages,
// abort as a message; if the worker dies, the .part files it may have left are removed here.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { RtspError } from '../rtsp/errors';
import { maskUrl } from '../rtsp/url';
import { ReplayToFilesError, type ReplayToFilesOptions, type WrittenFile } from './replay-types';
import type { MainToWorker, ReplayWorkerInput, WireCause, WorkerToMain } from './replay-worker-protocol';
import { errorMessage } from '../errors';

export { ReplayToFilesError } from './replay-types';
export type { ReplayErrorKind, ReplayProgress, ReplayToFilesOptions, WrittenFile } from './replay-types';

const WORKER_FILE = join(__dirname, 'replay-worker.js');

/** Young generation of the worker: small semi-spaces keep RSS low; measured (bench/replay.ts)
 * 4 MB ≈ 10 MB less RSS but ~5 % slower, 16 MB ≈ 20 MB more RSS for ~10 % more speed. */
const YOUNG_GENERATION_MB = 8;
/** Old generation: a ceiling, not an allocation. A base for code and buffers plus what grows with
 * one file's length: the mfra index (one record per ~1 s fragment, a few MB per hour), or, should
 * the segment writer's trimming ever stop applying, one record per frame (~8 MB per hour at
 * 15 fps, 32 at 60 fps); this allows the latter with headroom. */
const OLD_GENERATION_BASE_MB = 96;
const OLD_GENERATION_PER_HOUR_MB = 48;
/** After an abort, how long the worker gets to clean up before it is terminated. */
const ABORT_GRACE_MS = 5000;

/** Heap limits of the replay worker for a range of this length. */
export function replayWorkerLimits(from: Date, to: Date): ResourceLimits {
  const hours = Math.max(0, to.getTime() - from.getTime()) / 3600_000;
  return { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: Math.ceil(OLD_GENERATION_BASE_MB + hours * OLD_GENERATION_PER_HOUR_MB) };
}

/** For specs only: see each worker as it starts, or override its heap limits. */
export const replayWorkerTestHooks: { onWorker?(w: Worker): void; resourceLimits?: ResourceLimits } = {};

export function replayToFiles(o: ReplayToFilesOptions): Promise<WrittenFile[]> {
  // Escape hatch for hosts without worker threads, and for running the TypeScript sources directly
  // (there is no compiled replay-worker.js next to a .ts file).
  // Loaded only then: the main thread need not hold the muxer's code.
  if (process.env.VTRACK_REPLAY_IN_PROCESS === '1' || __filename.endsWith('.ts')) {
    return (require('./replay-in-process') as typeof import('./replay-in-process')).replayInProcess(o);
  }
  return replayInWorker(o);
}

function replayInWorker(o: ReplayToFilesOptions): Promise<WrittenFile[]> {
  const failure = (msg: string, completed: WrittenFile[], kind: ReplayToFilesError['kind'], cause?: unknown) =>
    new ReplayToFilesError(`replay of ${maskUrl(o.url)} failed: ${msg}`, completed, kind, cause);
  if (o.signal?.aborted) return Promise.reject(failure('replay aborted', [], 'aborted', new RtspError('aborted', 'replay aborted')));

  return new Promise<WrittenFile[]>((resolve, reject) => {
    const input: ReplayWorkerInput = {
      url: o.url,
      user: o.user,
      password: o.password,
      from: o.from,
      to: o.to,
      rateControl: o.rateControl,
      allowBasicAuth: o.allowBasicAuth,
      timeouts: o.timeouts,
      wantProgress: !!o.onProgress,
      wantLog: !!o.log,
    };
    const limits = replayWorkerTestHooks.resourceLimits ?? replayWorkerLimits(o.from, o.to);
    let worker: Worker;
    try {
      worker = new Worker(WORKER_FILE, { workerData: input, resourceLimits: limits });
    } catch (e) {
      reject(failure(`cannot start the replay worker: ${errorMessage(e)}`, [], 'write', e));
      return;
    }
    replayWorkerTestHooks.onWorker?.(worker);

    const completed: WrittenFile[] = [];
    // Every path finalPath answered, as a .part: the worker writes `<finalPath(start, to)>.part`.
    const parts = new Set<string>();
    let outcome: { files: WrittenFile[] } | { error: ReplayToFilesError } | undefined;
    let workerError: unknown;
    let callerError: unknown; // a callback of ours threw: fail the replay, as in-process would
    let forcedAbort = false;
    let graceTimer: NodeJS.Timeout | undefined;

    const send = (m: MainToWorker) => worker.postMessage(m);
    const abort = () => {
      send({ type: 'abort' });
      graceTimer ??= setTimeout(() => {
        forcedAbort = true;
        void worker.terminate();
      }, ABORT_GRACE_MS);
    };
    const failFromCaller = (e: unknown) => {
      callerError ??= e;
      abort();
    };
    o.signal?.addEventListener('abort', abort, { once: true });

    worker.on('message', (m: WorkerToMain) => {
      try {
        switch (m.type) {
          case 'finalPath': {
            let path: string;
            try {
              path = o.finalPath(m.start, m.end, m.codec);
            } catch (e) {
              send({ type: 'finalPath', id: m.id, error: errorMessage(e) });
              return;
            }
            parts.add(`${path}.part`);
            send({ type: 'finalPath', id: m.id, path });
            return;
          }
          case 'progress':
            o.onProgress?.(m.progress);
            return;
          case 'log':
            o.log?.(m.message);
            return;
          case 'file':
            completed.push(m.file);
            return;
          case 'done':
            outcome = callerError === undefined ? { files: m.files } : { error: failure(errorMessage(callerError), m.files, 'write', callerError) };
            break;
          case 'failed': {
            outcome = {
              error: callerError === undefined ? new ReplayToFilesError(m.message, m.completed, m.kind, rebuildCause(m.cause)) : failure(errorMessage(callerError), m.completed, 'write', callerError),
            };
            break;
          }
        }
      } catch (e) {
        failFromCaller(e);
        return;
      }
      // The worker has cleaned up after itself; terminating frees its heap at once.
      void worker.terminate();
    });
    worker.on('messageerror', (e) => {
      workerError ??= e;
      void worker.terminate();
    });
    worker.on('error', (e) => {
      workerError ??= e;
    });
    worker.on('exit', (code) => {
      if (graceTimer) clearTimeout(graceTimer);
      o.signal?.removeEventListener('abort', abort);
      if (outcome && 'files' in outcome) return resolve(outcome.files);
      if (outcome) return reject(outcome.error);
      // Died without a result (crash, out of memory, terminated): its .part file may be left.
      const error = forcedAbort
        ? failure('replay aborted (the replay worker did not stop in time)', completed, 'aborted', new RtspError('aborted', 'replay aborted'))
        : failure(`replay worker ${deathReason(workerError, code, limits)}`, completed, 'write', workerError);
      void Promise.all([...parts].map((p) => rm(p, { force: true }).catch(() => undefined))).then(() => reject(error));
    });
  });
}

function rebuildCause(c: WireCause | undefined): Error | undefined {
  if (!c) return undefined;
  if (c.rtspKind) return new RtspError(c.rtspKind, c.message, c.status);
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
