// Worker-thread entry of replayToFiles and vendorDownloadToFiles: runs whole replays (RTSP
// parsing, depacketizing, MP4 muxing, file I/O) and whole Hikvision / Dahua downloads (HTTP, PS /
// DHAV demuxing, MP4 muxing, file I/O) off the main thread, so Node-RED's event loop stays free and the worker's own
// heap limits keep memory bounded. Long-lived: it runs one job after another (the pool in
// replay-to-files.ts hands them out), so each segment does not pay for a new isolate and for
// compiling the code again. Talks to the main thread only through replay-worker-protocol.
import { parentPort } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { RtspError } from '../rtsp/errors';
import { replayInProcess } from './replay-in-process';
import { ReplayToFilesError, type ReplayProgress, type WrittenFile } from './replay-types';
import { VendorError } from '../vendors/errors';
import { runVendorDownload } from '../vendors/download-job';
import type { MainToWorker, ReplayWorkerInput, WireCause, WorkerToMain } from './replay-worker-protocol';
import { errorMessage } from '../errors';

const port = parentPort;
if (!port) throw new Error('replay-worker.js must run as a worker thread');
const post = (m: WorkerToMain): void => port.postMessage(m);

let current: { job: number; ac: AbortController } | undefined;

/** Heap in use after a job. Not external memory: the job's last frame and socket buffers are
 * garbage until the next collection and would trip the pool's mark after every job. */
function memory(): { heapBytes: number } {
  return { heapBytes: getHeapStatistics().used_heap_size };
}

function wireCause(e: unknown): WireCause | undefined {
  if (e instanceof RtspError) return { name: e.name, message: e.message, rtspKind: e.kind, status: e.status };
  if (e instanceof VendorError) return { name: e.name, message: e.message, vendorKind: e.kind, ...e.details };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return e === undefined ? undefined : { name: 'Error', message: String(e) };
}

function run(job: number, input: ReplayWorkerInput): void {
  const ac = new AbortController();
  current = { job, ac };
  const onPartFile = (path: string) => post({ job, type: 'part', path });
  const onFileWritten = (file: WrittenFile) => post({ job, type: 'file', file });
  const onProgress = input.wantProgress ? (progress: ReplayProgress) => post({ job, type: 'progress', progress }) : undefined;
  const work =
    input.kind === 'rtsp'
      ? replayInProcess({
          url: input.url,
          user: input.user,
          password: input.password,
          from: input.from,
          to: input.to,
          naming: input.naming,
          rateControl: input.rateControl,
          allowBasicAuth: input.allowBasicAuth,
          timeouts: input.timeouts,
          coverageToleranceMs: input.coverageToleranceMs,
          signal: ac.signal,
          onPartFile,
          onFileWritten,
          onProgress,
          log: input.wantLog ? (message) => post({ job, type: 'log', message }) : undefined,
        })
      : runVendorDownload(input, { onPartFile, onFileWritten, onProgress, onLearned: (learned) => post({ job, type: 'learned', learned }), signal: ac.signal });
  work
    .then(
      (files) => ({ type: 'done' as const, files }),
      (e: unknown) =>
        e instanceof ReplayToFilesError
          ? { type: 'failed' as const, message: e.message, kind: e.kind, completed: e.completed, cause: wireCause(e.cause) }
          : { type: 'failed' as const, message: errorMessage(e), kind: 'write' as const, completed: [], cause: wireCause(e) },
    )
    .then((result) => {
      current = undefined;
      post({ job, ...result, ...memory() });
    });
}

port.on('message', (m: MainToWorker) => {
  if (m.type === 'run') {
    if (current) throw new Error(`replay worker got job ${m.job} while job ${current.job} runs`);
    run(m.job, m.input);
  } else if (m.type === 'abort') {
    if (current?.job === m.job) current.ac.abort();
  }
});
