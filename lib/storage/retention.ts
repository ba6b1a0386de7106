// Retention: which downloaded files to delete to respect an age and a size limit, and deleting
// them without failing on files someone already removed.
import * as fs from 'node:fs';

export interface RetentionCandidate<Id = number> {
  id: Id;
  endTime: Date;
  bytes: number;
}

export interface RetentionRules {
  /** Delete files whose end time is older than this many days. */
  maxAgeDays?: number;
  /** Then delete oldest files until the rest fits in this many bytes. */
  maxBytes?: number;
  now: Date;
}

/** Ids of the files to delete, oldest (by end time) first. */
export function pickForRetention<Id>(files: ReadonlyArray<RetentionCandidate<Id>>, rules: RetentionRules): Id[] {
  const sorted = [...files].sort((a, b) => a.endTime.getTime() - b.endTime.getTime());
  const picked: Id[] = [];
  let total = sorted.reduce((n, f) => n + f.bytes, 0);
  const cutoff = rules.maxAgeDays === undefined ? undefined : rules.now.getTime() - rules.maxAgeDays * 86_400_000;
  for (const f of sorted) {
    const tooOld = cutoff !== undefined && f.endTime.getTime() < cutoff;
    const tooBig = rules.maxBytes !== undefined && total > rules.maxBytes;
    if (!tooOld && !tooBig) break; // sorted oldest first: nothing later is older, and size now fits
    picked.push(f.id);
    total -= f.bytes;
  }
  return picked;
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
