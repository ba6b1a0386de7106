// Public types of replayToFiles, in their own module so the worker-side implementation and the
// main-thread proxy share them without importing each other.
import type { FileNaming } from '../sync/naming';
import type { ReplayTimeouts } from '../rtsp/replay-session';
import type { RtspErrorKind } from '../rtsp/errors';
import type { VideoCodec } from '../rtsp/sdp';
import type { Credentials } from '../credentials';
import type { RequestedRange } from '../time/range';

export interface WrittenFile {
  path: string;
  /** Time of the first frame. */
  start: Date;
  /** End of the last frame (start + durationSec). */
  end: Date;
  durationSec: number;
  frames: number;
  bytes: number;
  codec: VideoCodec;
  width: number;
  height: number;
  /** Media seconds per wall-clock second while this file was written. */
  speedX: number;
}

export interface ReplayProgress {
  bytes: number;
  frames: number;
  mediaTime: Date;
}

export interface ReplayToFilesOptions extends Partial<Credentials>, RequestedRange {
  url: string;
  /** How files are named (fileNamer): plain data, so the worker names them itself. Folders are
   * created as needed. */
  naming: FileNaming;
  /** true = ask the server for real-time pacing; default false (as fast as possible). */
  rateControl?: boolean;
  timeouts?: ReplayTimeouts;
  /** Frames this close to `to` make the replay complete whatever the connection does next
   * (ReplayOptions.coverageToleranceMs). */
  coverageToleranceMs?: number;
  signal?: AbortSignal;
  onProgress?(p: ReplayProgress): void;
  log?(message: string): void;
  /** Run on the calling thread instead of a pooled worker: for a one-shot process (the `replay`
   * CLI) whose event loop serves nothing else, which then does not pay a worker's start-up
   * (measured ~65 ms CPU and ~8 MB RSS per run on 120 s of 1080p). */
  inProcess?: boolean;
}

/** 'disk-full': ENOSPC/EDQUOT while writing — retrying cannot help until space returns. */
export type ReplayErrorKind = RtspErrorKind | 'write' | 'disk-full';

/** Rejection of replayToFiles: files finished before the failure are in `completed` (kept on disk). */
export class ReplayToFilesError extends Error {
  constructor(
    message: string,
    readonly completed: WrittenFile[],
    readonly kind: ReplayErrorKind,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ReplayToFilesError';
  }
}
