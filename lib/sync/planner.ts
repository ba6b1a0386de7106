// Which segments to fetch: recorded intervals minus what the camera already holds (its files'
// real frame ranges and spans confirmed absent on the NVR), cut at clock-aligned boundaries so
// file names stay stable between runs, never the slot still being recorded, and capped per pass
// (planning is lazy: memory and time grow with the cap, not with the recording's length).
import { subtractRanges, type TimeRange } from '../time/range';

/** A range to fetch in one replay. */
export type Segment = TimeRange;

export interface PlanOptions {
  /** Segment length in minutes (boundaries aligned to the clock: :00, :10, ...). */
  segmentMinutes: number;
  /** Nothing after this instant is fetched (now minus a safety margin for the NVR to flush). */
  horizon: Date;
  /** What the camera holds already (files, absent spans). */
  held?: readonly TimeRange[];
  /** Holes shorter than this are not worth a replay (a frame's duration, a keyframe's slack). */
  toleranceMs?: number;
  /** At most this many segments per plan; the rest is planned by a later pass. */
  maxSegments?: number;
}

export interface Plan {
  segments: Segment[];
  /** Where the next plan continues when the cap cut this one short. */
  resumeAt?: Date;
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

export function planSegments(intervals: readonly TimeRange[], o: PlanOptions): Plan {
  if (!(o.segmentMinutes > 0)) throw new Error(`segment length must be positive, got ${o.segmentMinutes}`);
  const len = o.segmentMinutes * 60_000;
  const tol = o.toleranceMs ?? 1000;
  const cap = o.maxSegments ?? Infinity;
  const limit = plannedUntil(o.horizon, o.segmentMinutes).getTime();
  const recorded = intervals.flatMap((iv) => (iv.start.getTime() < limit ? [{ start: iv.start, end: new Date(Math.min(iv.end.getTime(), limit)) }] : []));
  const need = subtractRanges(recorded, o.held ?? [], tol);
  const segments: Segment[] = [];
  for (const piece of need) {
    const pieceEnd = piece.end.getTime();
    let s = piece.start.getTime();
    while (s < pieceEnd) {
      if (segments.length >= cap) return { segments, resumeAt: new Date(s) };
      let e = Math.min((Math.floor(s / len) + 1) * len, pieceEnd);
      // A sliver at either end of a piece joins its neighbour segment rather than cost a replay.
      if (pieceEnd - e < tol) e = pieceEnd;
      else if (e - s < tol) e = Math.min(e + len, pieceEnd);
      segments.push({ start: new Date(s), end: new Date(e) });
      s = e;
    }
  }
  return { segments };
}
