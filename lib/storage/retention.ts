// Retention: which downloaded files to delete to respect an age and a size limit, and deleting
// them without failing on files someone already removed.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface RetentionRules {
  /** Delete files whose end time is older than this many days. */
  maxAgeDays?: number;
  /** Then delete oldest files until the rest fits in this many bytes. */
  maxBytes?: number;
  now: Date;
}

export interface DeleteResult {
  deleted: string[];
  /** Already gone: counts as done. */
  missing: string[];
  failed: Array<{ path: string; error: string }>;
}

/** Deletes files; a file that is already missing is reported, not an error. */
export async function deleteFiles(paths: Iterable<string>): Promise<DeleteResult> {
  const result: DeleteResult = { deleted: [], missing: [], failed: [] };
  for (const p of paths) {
    try {
      await fs.promises.unlink(p);
      result.deleted.push(p);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') result.missing.push(p);
      else result.failed.push({ path: p, error: (err as Error).message });
    }
  }
  return result;
}

/** What retention needs from the catalog (lib/catalog's Catalog has it). */
export interface RetentionCatalog {
  totalBytes(sourceId: number): number;
  /** Files on disk (status done), oldest end time first, read lazily. */
  oldestFilesCursor(sourceId: number): { next(): { id: number; endTime: string; bytes: number; path: string } | undefined };
  /** Marks files deleted in one statement; a row already not done is left as it is. */
  markDeleted(ids: readonly number[]): number;
  /** WAL checkpoints off the event loop while a long pass commits (optional). */
  backgroundCheckpoints?(): { written(): void; stop(): Promise<void> };
}

export interface RetentionPassResult {
  deleted: number;
  bytes: number;
  failed: Array<{ path: string; error: string }>;
}

/** Unlinks in flight at most. They run on libuv's 4-thread pool, which every file write of the
 * process (replay workers included) shares: a deeper queue would delay those. */
const MAX_IN_FLIGHT = 32;
/** When the queue is full the pass waits until this many are left (not for each one). */
const LOW_WATER = 16;
/** Files found gone are marked in batches of about this many rows. At 1 M rows on the 2-core
 * machine one statement of 256 took 2-6 ms (14-64 ms when it ran a WAL checkpoint, hence
 * backgroundCheckpoints), and 9 216 rows cost 115-150 ms in batches of 256 against 180-300 ms in
 * batches of 32 (each commit writes the index pages it touched again). */
const COMMIT_ROWS = 256;
/** A slice stops reading rows after this long, so the event loop is never held much longer (one
 * markDeleted of about COMMIT_ROWS rows comes on top). */
const SLICE_MS = 4;

/**
 * Deletes a source's oldest files until the age and size rules hold. The rows come from the
 * catalog's index in order (never the whole list); their files are unlinked asynchronously, up to
 * MAX_IN_FLIGHT at once, while the next rows are read; the files found gone are marked deleted in
 * one statement per COMMIT_ROWS (and at the end), and every slice yields to the event loop. A pass
 * longer than one batch has the catalog checkpoint its WAL on a worker thread meanwhile. A row is
 * marked only after its file is gone (or was already missing): a crash mid-pass leaves rows of
 * files already gone marked done, and the next pass finds them missing and marks them. The size
 * rule uses the catalog's running byte total. A file that cannot be deleted stays done (the
 * catalog must not claim space it did not free) and is passed over; newer files are then taken to
 * reach the size cap.
 */
export async function applyRetentionRules(catalog: RetentionCatalog, sourceId: number, rules: RetentionRules): Promise<RetentionPassResult> {
  const result: RetentionPassResult = { deleted: 0, bytes: 0, failed: [] };
  const { maxBytes } = rules;
  if (rules.maxAgeDays === undefined && maxBytes === undefined) return result;
  const cutoff = rules.maxAgeDays === undefined ? undefined : new Date(rules.now.getTime() - rules.maxAgeDays * 86_400_000).toISOString();
  // Bytes on disk once the files taken so far are gone (a failed unlink gives its bytes back).
  let planned = maxBytes === undefined ? 0 : catalog.totalBytes(sourceId);
  const cursor = catalog.oldestFilesCursor(sourceId);
  let carry: { id: number; endTime: string; bytes: number; path: string } | undefined; // read, not yet taken
  let exhausted = false;
  let inFlight = 0;
  let goneIds: number[] = []; // unlinked (or already missing), not yet marked
  let goneBytes = 0;
  let wake: (() => void) | undefined;
  const unlink = (id: number, bytes: number, path: string) => {
    inFlight++;
    fs.unlink(path, (err) => {
      inFlight--;
      if (!err || err.code === 'ENOENT') {
        goneIds.push(id);
        goneBytes += bytes;
      } else {
        planned += bytes;
        result.failed.push({ path, error: err.message });
      }
      if (wake && inFlight <= LOW_WATER) {
        const w = wake;
        wake = undefined;
        w();
      }
    });
  };
  // A pass beyond its first batch commits many times: its checkpoints move to a worker thread.
  let checkpoints: { written(): void; stop(): Promise<void> } | undefined;
  const commit = () => {
    if (!checkpoints && goneIds.length >= COMMIT_ROWS) checkpoints = catalog.backgroundCheckpoints?.();
    catalog.markDeleted(goneIds);
    checkpoints?.written();
    result.deleted += goneIds.length;
    result.bytes += goneBytes;
    goneIds = [];
    goneBytes = 0;
  };
  try {
    for (;;) {
      const t0 = performance.now();
      if (goneIds.length >= COMMIT_ROWS) commit();
      let satisfied = false;
      while (inFlight < MAX_IN_FLIGHT && !exhausted && performance.now() - t0 < SLICE_MS) {
        const f = carry ?? cursor.next();
        carry = undefined;
        if (!f) {
          exhausted = true;
          break;
        }
        // ISO strings of one form: string order is time order.
        const tooOld = cutoff !== undefined && f.endTime < cutoff;
        const tooBig = maxBytes !== undefined && planned > maxBytes;
        if (!tooOld && !tooBig) {
          // Oldest first: nothing later is older, and the size fits if the unlinks in flight succeed
          // (if one fails, the next slice looks at this file again).
          carry = f;
          satisfied = true;
          break;
        }
        planned -= f.bytes;
        unlink(f.id, f.bytes, f.path);
      }
      const reading = !exhausted && !satisfied;
      if (!reading && goneIds.length > 0) commit();
      if (inFlight === 0 && !reading) {
        // goneIds is empty here: completions only run while this function awaits.
        return result;
      }
      if (reading && inFlight < MAX_IN_FLIGHT) {
        // The slice ran out of time: let the event loop (and finished unlinks) run, then go on.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        // Enough unlinks queued, or nothing more to take unless one fails: wait for a batch of them.
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        // Completions of the same event-loop turn land in this batch too.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    await checkpoints?.stop();
  }
}
