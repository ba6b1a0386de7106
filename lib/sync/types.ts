// What the sync engine tells the outside world (nvr-sync outputs, the CLI's JSON lines), and the
// range it is asked to backfill.
import type { RequestedRange } from '../time/range';
import type { WrittenFile } from '../media/replay-types';

/** A backfill of one source (or all): [from, to), optionally limited to some cameras (by display
 * name). The one shape from the nvr-sync 'backfill' message through the engine to the runner. */
export interface SyncRange extends RequestedRange {
  cameras?: string[];
}

/** Which source an event is about: its name and its catalog id. */
export interface SourceRef {
  source: string;
  sourceId: number;
}

/** One finished, renamed-into-place, catalogued file. Output 1 of nvr-sync, one per file: the
 * WrittenFile as JSON (ISO times, rounded figures) plus its camera and source. */
export interface FileEvent extends Omit<WrittenFile, 'start' | 'end' | 'codec'>, SourceRef {
  camera: string;
  cameraId: number;
  start: string;
  end: string;
  codec: string;
}

export type RunReason = 'startup' | 'timer' | 'manual' | 'backfill';

export type SyncEvent =
  | (SourceRef & { event: 'started'; reason: RunReason; at: string })
  | (SourceRef & { event: 'planned'; segments: number; cameras: number })
  | (SourceRef & {
      event: 'progress';
      camera: string;
      /** 1-based index of the segment being fetched within this run, and the run's total. */
      index: number;
      total: number;
      /** Of the current segment. */
      percent: number;
    })
  | (SourceRef & {
      event: 'finished';
      reason: RunReason;
      files: number;
      bytes: number;
      failed: number;
      durationMs: number;
      nextRunAt?: string;
    })
  | (SourceRef & { event: 'error'; camera?: string; error: string; code?: string })
  /** Something the user should know that did not fail the pass (a span absent on the NVR, a
   * recording date that cannot be right, files found after a crash). */
  | (SourceRef & { event: 'warning'; camera?: string; message: string; code?: string })
  | (SourceRef & { event: 'retention'; deleted: number; bytes: number });

export interface RunSummary {
  sourceId: number;
  reason: RunReason;
  files: FileEvent[];
  failed: number;
  errors: string[];
  /** The pass stopped on the disk or the catalog: files may be on disk without a row. */
  sweepNext?: boolean;
  /** The NVR refused the login (wrong user or password, or a locked account). */
  loginRefused?: boolean;
}
