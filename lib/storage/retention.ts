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
  oldestDownloadsCursor(sourceId: number): { next(): { id: number; endTime: string; bytes: number; path: string } | undefined };
  markDeleted(ids: readonly number[]): number;
}

export interface RetentionPassResult {
  deleted: number;
  bytes: number;
  failed: Array<{ path: string; error: string }>;
}

/** Files handled per slice: one short transaction and one batch of unlinks (measured at 1 M rows on
 * the 2-core machine: 256 per transaction held the event loop up to 30 ms, 64 a few ms). */
const SLICE_FILES = 64;
/** A slice stops reading rows after this long, so the event loop is never held longer. */
const SLICE_MS = 4;

/**
 * Deletes a source's oldest files until the age and size rules hold, in slices: each reads the next
 * oldest rows from the catalog's index (never the whole list), unlinks those files, marks them
 * deleted in one transaction, then yields to the event loop. The size rule uses the catalog's
 * running byte total. A file that cannot be deleted stays "done" (the catalog must not claim space
 * it did not free) and is passed over; newer files are then taken to reach the size cap.
 */
export async function applyRetentionRules(catalog: RetentionCatalog, sourceId: number, rules: RetentionRules): Promise<RetentionPassResult> {
  const result: RetentionPassResult = { deleted: 0, bytes: 0, failed: [] };
  if (rules.maxAgeDays === undefined && rules.maxBytes === undefined) return result;
  const cutoff = rules.maxAgeDays === undefined ? undefined : new Date(rules.now.getTime() - rules.maxAgeDays * 86_400_000).toISOString();
  let total = rules.maxBytes === undefined ? 0 : catalog.totalBytes(sourceId);
  const cursor = catalog.oldestDownloadsCursor(sourceId);
  let carry: { id: number; endTime: string; bytes: number; path: string } | undefined; // read, not yet taken
  for (;;) {
    const t0 = performance.now();
    const batch: Array<{ id: number; bytes: number; path: string }> = [];
    let exhausted = false;
    let fits = false;
    let planned = total;
    while (batch.length < SLICE_FILES && performance.now() - t0 < SLICE_MS) {
      const f = carry ?? cursor.next();
      carry = undefined;
      if (!f) {
        exhausted = true;
        break;
      }
      // ISO strings of one form: string order is time order.
      const tooOld = cutoff !== undefined && f.endTime < cutoff;
      const tooBig = rules.maxBytes !== undefined && planned > rules.maxBytes;
      if (!tooOld && !tooBig) {
        carry = f; // oldest first: nothing later is older, and the size fits if these deletions succeed
        fits = true;
        break;
      }
      batch.push(f);
      planned -= f.bytes;
    }
    if (batch.length > 0) {
      const r = await deleteFiles(batch.map((f) => f.path));
      const failed = new Set(r.failed.map((x) => x.path));
      const gone = batch.filter((f) => !failed.has(f.path));
      catalog.markDeleted(gone.map((f) => f.id));
      const freed = gone.reduce((n, f) => n + f.bytes, 0);
      total -= freed;
      result.deleted += gone.length;
      result.bytes += freed;
      result.failed.push(...r.failed);
    }
    if (exhausted) return result;
    // A deletion failed and the size rule is not met after all: go on with newer files.
    if (fits && !(rules.maxBytes !== undefined && total > rules.maxBytes)) return result;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
