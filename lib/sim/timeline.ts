// A camera's recorded intervals over time. Pure arithmetic from the spec and the clock, so the
// SOAP search service and the RTSP replay server agree on what exists, and results are stable
// across restarts (the motion pattern is anchored at `start`, not at process start).
import type { TimelineSpec } from './types';

export interface Interval {
  start: Date;
  end: Date;
}

export class RecordingTimeline {
  constructor(
    readonly spec: TimelineSpec,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** First instant with data. */
  dataFrom(): Date {
    return this.spec.start;
  }

  /** Last instant with data so far (the recording grows while `end` is unset). */
  dataTo(): Date {
    const now = this.now();
    const end = this.spec.end && this.spec.end < now ? this.spec.end : now;
    // Only the last motion period can hold the last data: O(1), however old the recording is.
    const gaps = this.spec.gaps;
    const from = gaps && gaps.offSec > 0 ? new Date(Math.max(this.spec.start.getTime(), end.getTime() - (gaps.onSec + gaps.offSec) * 1000)) : this.spec.start;
    const last = this.intervals(from, end).pop();
    return last ? last.end : this.spec.start;
  }

  /** Recorded intervals that overlap [from, to), clipped to it, in time order. */
  intervals(from: Date = this.spec.start, to: Date = this.now()): Interval[] {
    const limit = Math.min(to.getTime(), this.now().getTime(), this.spec.end?.getTime() ?? Infinity);
    const lo = Math.max(from.getTime(), this.spec.start.getTime());
    if (lo >= limit) return [];
    const gaps = this.spec.gaps;
    if (!gaps || gaps.offSec <= 0) return [{ start: new Date(lo), end: new Date(limit) }];
    const period = (gaps.onSec + gaps.offSec) * 1000;
    const origin = this.spec.start.getTime();
    const out: Interval[] = [];
    let k = Math.floor((lo - origin) / period);
    for (;;) {
      const s = origin + k * period;
      if (s >= limit) break;
      const e = s + gaps.onSec * 1000;
      const cs = Math.max(s, lo);
      const ce = Math.min(e, limit);
      if (ce > cs) out.push({ start: new Date(cs), end: new Date(ce) });
      k++;
    }
    return out;
  }

  /** Whether an instant has data. */
  has(t: Date): boolean {
    return this.intervals(t, new Date(t.getTime() + 1)).length > 0;
  }
}
