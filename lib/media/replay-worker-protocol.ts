// Messages between replayToFiles (main thread) and its replay worker. Dates cross as Dates
// (structured clone keeps them); functions and the AbortSignal cannot cross, so they become
// request/response and event messages.
import type { ReplayOptions } from '../rtsp/replay-session';
import type { RtspErrorKind } from '../rtsp/errors';
import type { VideoCodec } from '../rtsp/sdp';
import type { ReplayErrorKind, ReplayProgress, WrittenFile } from './replay-types';

/** workerData: the options that can be cloned, plus which callbacks the caller gave. */
export type ReplayWorkerInput = Pick<ReplayOptions, 'url' | 'user' | 'password' | 'from' | 'to' | 'rateControl' | 'timeouts' | 'allowBasicAuth'> & {
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

export type WorkerToMain =
  | { type: 'finalPath'; id: number; start: Date; end: Date; codec: VideoCodec }
  | { type: 'progress'; progress: ReplayProgress }
  | { type: 'log'; message: string }
  | { type: 'file'; file: WrittenFile }
  | { type: 'done'; files: WrittenFile[] }
  | { type: 'failed'; message: string; kind: ReplayErrorKind; completed: WrittenFile[]; cause?: WireCause };

export type MainToWorker = { type: 'finalPath'; id: number; path?: string; error?: string } | { type: 'abort' };
