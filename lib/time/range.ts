// The one time-range shape of the project ([start, end), instants as Dates) and the interval
// arithmetic the archive's coverage rules need. Everything else (search results, segments, held
// files, absent spans) is a TimeRange or derives from it.

export interface TimeRange {
  start: Date;
  end: Date;
}

/** A span asked for, [from, to): what a replay, a download or a backfill is told to fetch (what
 * exists, a recording, file or segment, is a TimeRange). */
export interface RequestedRange {
  from: Date;
  to: Date;
}

/** Sorted, overlapping or touching ranges merged (gaps of at most `joinMs` are closed). */
export function mergeRanges(ranges: readonly TimeRange[], joinMs = 0): TimeRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start.getTime() - b.start.getTime());
  const out: TimeRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start.getTime() <= last.end.getTime() + joinMs) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** `from` minus `held`: the parts of `from` no held range covers, pieces shorter than `minMs` dropped. */
export function subtractRanges(from: readonly TimeRange[], held: readonly TimeRange[], minMs = 0): TimeRange[] {
  const h = mergeRanges(held);
  const out: TimeRange[] = [];
  for (const r of mergeRanges(from)) {
    let s = r.start.getTime();
    const e = r.end.getTime();
    for (const x of h) {
      if (x.end.getTime() <= s) continue;
      if (x.start.getTime() >= e) break;
      if (x.start.getTime() > s) pushPiece(out, s, x.start.getTime(), minMs);
      s = Math.max(s, x.end.getTime());
      if (s >= e) break;
    }
    if (s < e) pushPiece(out, s, e, minMs);
  }
  return out;
}

function pushPiece(out: TimeRange[], s: number, e: number, minMs: number): void {
  if (e - s > minMs) out.push({ start: new Date(s), end: new Date(e) });
}

/** `r` clipped to [from, to), or undefined when nothing is left. */
export function clipRange(r: TimeRange, from: Date, to: Date): TimeRange | undefined {
  const start = r.start > from ? r.start : from;
  const end = r.end < to ? r.end : to;
  return end > start ? { start, end } : undefined;
}

export function rangeMs(r: TimeRange): number {
  return r.end.getTime() - r.start.getTime();
}

/** Total length of ranges after merging. */
export function totalMs(ranges: readonly TimeRange[]): number {
  return mergeRanges(ranges).reduce((n, r) => n + rangeMs(r), 0);
}
