// Progress events per source: at most one a second, plus the first of each file (a file's finish
// is its file event). A segment replays at hundreds of times real time, so per-percent events
// flooded a flow with ~25 messages per 5 files while saying nothing new.
import type { SyncEvent } from './types';

type Progress = Extract<SyncEvent, { event: 'progress' }>;

export class ProgressThrottle {
  private readonly last = new Map<number, number>();
  private readonly seen = new Map<number, Set<string>>();

  constructor(private readonly minGapMs = 1000) {}

  /** A new pass of the source: every file starts unseen again. */
  reset(sourceId: number): void {
    this.last.delete(sourceId);
    this.seen.delete(sourceId);
  }

  /** True when the event should go out, given the current time in ms. */
  pass(e: Progress, nowMs: number): boolean {
    let files = this.seen.get(e.sourceId);
    if (!files) this.seen.set(e.sourceId, (files = new Set()));
    const key = `${e.camera}\u0000${e.index}`;
    const first = !files.has(key);
    files.add(key);
    const last = this.last.get(e.sourceId);
    if (!first && last !== undefined && nowMs - last < this.minGapMs) return false;
    this.last.set(e.sourceId, nowMs);
    return true;
  }
}
