// Messages between replayToFiles (main thread) and its replay workers. Dates cross as Dates
// (structured clone keeps them); functions and the AbortSignal cannot cross, so they become
// request/response and event messages. A worker is long-lived (a pool reuses it across segments)
// and runs one job at a time; every message carries the job's number, so a late message of an
// earlier job can never be taken for the current one.
import type { ReplayOptions } from '../rtsp/replay-session';
import type { RtspErrorKind } from '../rtsp/errors';
import type { VideoCodec } from '../rtsp/sdp';
import type { ReplayErrorKind, ReplayProgress, WrittenFile } from './replay-types';

/** One job: the options that can be cloned, plus which callbacks the caller gave. */
export type ReplayWorkerInput = Pick<
  ReplayOptions,
  'url' | 'user' | 'password' | 'from' | 'to' | 'rateControl' | 'timeouts' | 'coverageToleranceMs' | 'allowBasicAuth'
> & {
  wantProgress: boolean;
  wantLog: boolean;
};

/** The cause of a failure, enough to rebuild an RtspError on the main thread. */
export interface WireCause {
  name: string;
  message: string;
  rtspKind?: RtspErrorKind;
  status?: number;
}

/** The worker's heap in use after a job, for the pool's recycling mark. */
export type WorkerMemory = { heapBytes: number };

export type WorkerToMain = { job: number } & (
  | { type: 'finalPath'; id: number; start: Date; end: Date; codec: VideoCodec }
  | { type: 'progress'; progress: ReplayProgress }
  | { type: 'log'; message: string }
  | { type: 'file'; file: WrittenFile }
  | ({ type: 'done'; files: WrittenFile[] } & WorkerMemory)
  | ({ type: 'failed'; message: string; kind: ReplayErrorKind; completed: WrittenFile[]; cause?: WireCause } & WorkerMemory)
);

export type MainToWorker =
  | { type: 'run'; job: number; input: ReplayWorkerInput }
  | { type: 'finalPath'; job: number; id: number; path?: string; error?: string }
  | { type: 'abort'; job: number };
