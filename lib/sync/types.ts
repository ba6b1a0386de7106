// What the sync engine tells the outside world (nvr-sync outputs, the CLI's JSON lines), and the
// range it is asked to backfill.
import type { RequestedRange } from '../time/range';

/** A backfill of one source (or all): [from, to), optionally limited to some cameras (by display
 * name). The one shape from the nvr-sync 'backfill' message through the engine to the runner. */
export interface SyncRange extends RequestedRange {
  cameras?: string[];
}

/** One finished, renamed-into-place, catalogued file. Output 1 of nvr-sync, one per file. */
export interface FileEvent {
  path: string;
  camera: string;
  cameraId: number;
  source: string;
  sourceId: number;
  start: string;
  end: string;
  durationSec: number;
  bytes: number;
  codec: string;
  width: number;
  height: number;
  frames: number;
  speedX: number;
}

export type RunReason = 'startup' | 'timer' | 'manual' | 'backfill';

export type SyncEvent =
  | { event: 'started'; source: string; sourceId: number; reason: RunReason; at: string }
  | { event: 'planned'; source: string; sourceId: number; segments: number; cameras: number }
  | {
      event: 'progress';
      source: string;
      sourceId: number;
      camera: string;
      /** 1-based index of the segment being fetched within this run, and the run's total. */
      index: number;
      total: number;
      /** Of the current segment. */
      percent: number;
    }
  | {
      event: 'finished';
      source: string;
      sourceId: number;
      reason: RunReason;
      files: number;
      bytes: number;
      failed: number;
      durationMs: number;
      nextRunAt?: string;
    }
  | { event: 'error'; source: string; sourceId: number; camera?: string; error: string; code?: string }
  /** Something the user should know that did not fail the pass (a span absent on the NVR, a
   * recording date that cannot be right, files found after a crash). */
  | { event: 'warning'; source: string; sourceId: number; camera?: string; message: string; code?: string }
  | { event: 'retention'; source: string; sourceId: number; deleted: number; bytes: number };

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
