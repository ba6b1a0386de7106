// Which segments to fetch: recorded intervals cut at clock-aligned boundaries (so file names and
// catalog keys are stable between runs), only slots that are closed (never a segment still being
// recorded), minus what the catalog already holds.
import type { TimeInterval } from '../onvif/search';

export interface Segment {
  start: Date;
  end: Date;
}

export interface PlanOptions {
  /** Segment length in minutes (boundaries aligned to the clock: :00, :10, ...). */
  segmentMinutes: number;
  /** Nothing after this instant is fetched (now minus a safety margin for the NVR to flush). */
  horizon: Date;
  /** Already fetched? keyed by segment start. */
  isDownloaded?(start: Date): boolean;
}

/** The last segment boundary at or before `t`. */
export function alignDown(t: Date, segmentMinutes: number): Date {
  const len = segmentMinutes * 60_000;
  return new Date(Math.floor(t.getTime() / len) * len);
}

/** Where the next run may start planning: the last closed boundary at or before the horizon. */
export function plannedUntil(horizon: Date, segmentMinutes: number): Date {
  return alignDown(horizon, segmentMinutes);
}

export function planSegments(intervals: readonly TimeInterval[], o: PlanOptions): Segment[] {
  if (!(o.segmentMinutes > 0)) throw new Error(`segment length must be positive, got ${o.segmentMinutes}`);
  const len = o.segmentMinutes * 60_000;
  const limit = plannedUntil(o.horizon, o.segmentMinutes).getTime();
  const out: Segment[] = [];
  const sorted = [...intervals].sort((a, b) => a.start.getTime() - b.start.getTime());
  for (const iv of sorted) {
    const ivEnd = Math.min(iv.end.getTime(), limit);
    let s = iv.start.getTime();
    while (s < ivEnd) {
      const slotEnd = (Math.floor(s / len) + 1) * len;
      const e = Math.min(slotEnd, ivEnd);
      if (e - s >= 1000) out.push({ start: new Date(s), end: new Date(e) }); // sub-second slivers hold no frame worth a file
      s = e;
    }
  }
  return o.isDownloaded ? out.filter((seg) => !o.isDownloaded!(seg.start)) : out;
}
