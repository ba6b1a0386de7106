// Messages between the main thread and the pooled replay workers (replay-to-files.ts). Dates cross
// as Dates (structured clone keeps them); functions and the AbortSignal cannot cross, so the file
// naming rule crosses as data (FileNaming: the worker names files itself, no request/response) and
// the callbacks become event messages. A worker is long-lived (a pool reuses it across segments)
// and runs one job at a time; every message carries the job's number, so a late message of an
// earlier job can never be taken for the current one. A job is an ONVIF replay over RTSP or a
// Hikvision / Dahua HTTP download: the same files, progress and errors come back for each.
import type { RtspErrorKind } from '../rtsp/errors';
import type { VendorErrorKind } from '../vendors/errors';
import type { VendorDownloadJob, VendorLearned } from '../vendors/download-job';
import type { ReplayErrorKind, ReplayProgress, ReplayToFilesOptions, WrittenFile } from './replay-types';

/** An ONVIF replay: the options of replayToFiles that can be cloned. */
export type RtspJob = { kind: 'rtsp' } & Pick<
  ReplayToFilesOptions,
  'url' | 'user' | 'password' | 'from' | 'to' | 'naming' | 'rateControl' | 'timeouts' | 'coverageToleranceMs' | 'allowBasicAuth'
>;

/** What a worker runs, by kind. */
export type WorkerJob = RtspJob | VendorDownloadJob;
export type WorkerJobKind = WorkerJob['kind'];

/** One job plus which callbacks the caller gave. */
export type ReplayWorkerInput = WorkerJob & {
  wantProgress: boolean;
  wantLog: boolean;
};

/** The cause of a failure, enough to rebuild an RtspError or a VendorError on the main thread
 * (the runner and the vendor session read their kinds). */
export interface WireCause {
  name: string;
  message: string;
  rtspKind?: RtspErrorKind;
  vendorKind?: VendorErrorKind;
  status?: number;
  unlockAt?: Date;
  unlockInSec?: number;
}

/** The worker's heap in use after a job, for the pool's recycling mark. */
export type WorkerMemory = { heapBytes: number };

export type WorkerToMain = { job: number } &
  /** Sent before the worker creates this `.part` file: the main thread removes it if the worker dies
   * (a dead worker's messages are delivered before its 'exit' event). */
  (
    | { type: 'part'; path: string }
    | { type: 'progress'; progress: ReplayProgress }
    | { type: 'log'; message: string }
    | { type: 'file'; file: WrittenFile }
    | { type: 'learned'; learned: VendorLearned }
    | ({ type: 'done'; files: WrittenFile[] } & WorkerMemory)
    | ({ type: 'failed'; message: string; kind: ReplayErrorKind; completed: WrittenFile[]; cause?: WireCause } & WorkerMemory)
  );

export type MainToWorker = { type: 'run'; job: number; input: ReplayWorkerInput } | { type: 'abort'; job: number };
