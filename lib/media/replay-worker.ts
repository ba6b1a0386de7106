// Worker-thread entry of replayToFiles: runs the whole replay (RTSP parsing, depacketizing, MP4
// muxing, file I/O) off the main thread, so Node-RED's event loop stays free and the worker's own
// small heap limits keep memory flat. Talks to the main thread only through replay-worker-protocol.
import { parentPort, workerData } from 'node:worker_threads';
import { RtspError } from '../rtsp/errors';
import type { VideoCodec } from '../rtsp/sdp';
import { replayInProcess } from './replay-in-process';
import { ReplayToFilesError } from './replay-types';
import type { MainToWorker, ReplayWorkerInput, WireCause, WorkerToMain } from './replay-worker-protocol';
import { errorMessage } from '../errors';

const port = parentPort;
if (!port) throw new Error('replay-worker.js must run as a worker thread');
const input = workerData as ReplayWorkerInput;
const post = (m: WorkerToMain): void => port.postMessage(m);

const ac = new AbortController();

const pending = new Map<number, { resolve(p: string): void; reject(e: Error): void }>();
let nextId = 0;
function finalPath(start: Date, end: Date, codec: VideoCodec): Promise<string> {
  return new Promise((resolve, reject) => {
    const id = ++nextId;
    pending.set(id, { resolve, reject });
    post({ type: 'finalPath', id, start, end, codec });
  });
}

port.on('message', (m: MainToWorker) => {
  if (m.type === 'abort') {
    ac.abort();
  } else if (m.type === 'finalPath') {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.path !== undefined) p?.resolve(m.path);
    else p?.reject(new Error(m.error ?? 'no path'));
  }
});

function wireCause(e: unknown): WireCause | undefined {
  if (e instanceof RtspError) return { name: e.name, message: e.message, rtspKind: e.kind, status: e.status };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return e === undefined ? undefined : { name: 'Error', message: String(e) };
}

replayInProcess({
  url: input.url,
  user: input.user,
  password: input.password,
  from: input.from,
  to: input.to,
  rateControl: input.rateControl,
  allowBasicAuth: input.allowBasicAuth,
  timeouts: input.timeouts,
  signal: ac.signal,
  finalPath,
  onFileWritten: (file) => post({ type: 'file', file }),
  onProgress: input.wantProgress ? (progress) => post({ type: 'progress', progress }) : undefined,
  log: input.wantLog ? (message) => post({ type: 'log', message }) : undefined,
}).then(
  (files) => post({ type: 'done', files }),
  (e: unknown) => {
    if (e instanceof ReplayToFilesError) post({ type: 'failed', message: e.message, kind: e.kind, completed: e.completed, cause: wireCause(e.cause) });
    else post({ type: 'failed', message: errorMessage(e), kind: 'write', completed: [], cause: wireCause(e) });
  },
);
