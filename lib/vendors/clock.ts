// Device wall clocks. Both vendors talk in the NVR's local wall-clock time: Dahua with no zone at
// all ("2026-12-02 08:00:00"), Hikvision often with a "Z" that is not UTC (e.g. localTime
// "…T08:00:00Z" on an NVR set to UTC+2; qb60/hikvision-downloader#5 parses <timeZone> to correct
// for it). We keep every time inside the drivers as "wall ms" (the digits read as if UTC) and
// convert with the zone the device reports (Hikvision) or infer (Dahua).

/** "YYYY-MM-DDTHH:MM:SS[.fff][Z|±hh:mm]" or "YYYY-MM-DD HH:MM:SS": the digits as UTC ms, and any explicit offset. */
export function parseWall(text: string): { wallMs: number; offsetMin?: number; z: boolean } | undefined {
  const m = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$/i.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const wallMs = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, frac ? Number(frac.padEnd(3, '0')) : 0);
  if (!Number.isFinite(wallMs)) return undefined;
  if (!zone) return { wallMs, z: false };
  if (zone.toUpperCase() === 'Z') return { wallMs, z: true };
  const zm = /([+-])(\d{2}):?(\d{2})/.exec(zone);
  const offsetMin = zm ? (zm[1] === '-' ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3])) : 0;
  return { wallMs, offsetMin, z: false };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Hikvision spelling of a wall time: "YYYY-MM-DDTHH:MM:SSZ" (the Z is what its firmware writes and expects). */
export function formatIsapiWall(wallMs: number): string {
  const d = new Date(wallMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

/** Dahua spelling: "YYYY-MM-DD HH:MM:SS". */
export function formatDahuaWall(wallMs: number): string {
  const d = new Date(wallMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Hikvision playback URIs: "YYYYMMDDTHHMMSSZ". */
export function formatCompactWall(wallMs: number): string {
  return formatIsapiWall(wallMs).replace(/[-:]/g, '');
}

export function parseCompactWall(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?$/i.exec(text.trim());
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

export interface DstRule {
  /** Minutes added while DST applies. */
  saveMin: number;
  start: { month: number; week: number; day: number; minutes: number };
  end: { month: number; week: number; day: number; minutes: number };
}

export interface DeviceZoneWire {
  standardMin: number;
  dst?: DstRule;
}

/**
 * A time zone as Hikvision writes it in <timeZone>: POSIX-style with the sign inverted from ISO
 * ("CST-2:00:00" is UTC+2, centreon/centreon-plugins#3211: "CST-3:00:00" with localTime +03:00),
 * optionally followed by "DSThh:mm:ss,Mm.w.d/hh:mm:ss,Mm.w.d/hh:mm:ss" where, unlike POSIX, the
 * time after DST is the amount added (qb60/hikvision-downloader#5: "CST-1:00:00DST01:00:00,M3.5.0/02:00:00,M10.5.0/03:00:00"
 * with localTime +01:00 in March).
 */
export class DeviceZone {
  constructor(
    /** Standard offset east of UTC, minutes. */
    readonly standardMin: number,
    private readonly dst?: DstRule,
  ) {}

  /** As plain data, to hand the zone to a download worker (a class does not survive structured clone). */
  toWire(): DeviceZoneWire {
    return { standardMin: this.standardMin, dst: this.dst };
  }

  static fromWire(w: DeviceZoneWire): DeviceZone {
    return new DeviceZone(w.standardMin, w.dst);
  }

  static fixed(offsetMin: number): DeviceZone {
    return new DeviceZone(offsetMin);
  }

  static parseHikvision(tz: string): DeviceZone | undefined {
    const m = /^\s*[A-Za-z]*\s*([+-]?)(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?(.*)$/s.exec(tz);
    if (!m) return undefined;
    const std = -(m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
    const rest = m[5].trim();
    const d =
      /^[A-Za-z]+\s*(\d{1,2})?(?::(\d{2}))?(?::\d{2})?\s*,\s*M(\d+)\.(\d)\.(\d)(?:\/(\d{1,2})(?::(\d{2}))?(?::\d{2})?)?\s*,\s*M(\d+)\.(\d)\.(\d)(?:\/(\d{1,2})(?::(\d{2}))?(?::\d{2})?)?/.exec(
        rest,
      );
    if (!d) return new DeviceZone(std);
    const saveMin = d[1] !== undefined ? Number(d[1]) * 60 + Number(d[2] ?? 0) : 60;
    return new DeviceZone(std, {
      saveMin,
      start: { month: +d[3], week: +d[4], day: +d[5], minutes: d[6] !== undefined ? +d[6] * 60 + Number(d[7] ?? 0) : 120 },
      end: { month: +d[8], week: +d[9], day: +d[10], minutes: d[11] !== undefined ? +d[11] * 60 + Number(d[12] ?? 0) : 120 },
    });
  }

  /** Offset east of UTC (minutes) at a UTC instant. */
  offsetAtUtc(utcMs: number): number {
    if (!this.dst) return this.standardMin;
    const localStd = utcMs + this.standardMin * 60_000;
    const y = new Date(localStd).getUTCFullYear();
    const start = ruleWallMs(y, this.dst.start);
    const end = ruleWallMs(y, this.dst.end) - this.dst.saveMin * 60_000; // end is given in DST wall time
    const inDst = start < end ? localStd >= start && localStd < end : localStd >= start || localStd < end;
    return this.standardMin + (inDst ? this.dst.saveMin : 0);
  }

  /** Wall ms (device local digits) → UTC ms. Around a DST change the earlier reading wins. */
  toUtc(wallMs: number): number {
    const guess = wallMs - this.standardMin * 60_000;
    return wallMs - this.offsetAtUtc(guess - (this.dst?.saveMin ?? 0) * 60_000) * 60_000;
  }

  toWall(utcMs: number): number {
    return utcMs + this.offsetAtUtc(utcMs) * 60_000;
  }

  describe(): string {
    const s = this.standardMin;
    const sign = s < 0 ? '-' : '+';
    return `UTC${sign}${pad(Math.floor(Math.abs(s) / 60))}:${pad(Math.abs(s) % 60)}${this.dst ? ' (with DST)' : ''}`;
  }
}

/** Month m, week w (5 = last), weekday d (0 = Sunday), at `minutes` local standard time. */
function ruleWallMs(year: number, r: { month: number; week: number; day: number; minutes: number }): number {
  const first = new Date(Date.UTC(year, r.month - 1, 1));
  let day = 1 + ((r.day - first.getUTCDay() + 7) % 7) + (r.week - 1) * 7;
  const daysInMonth = new Date(Date.UTC(year, r.month, 0)).getUTCDate();
  while (day > daysInMonth) day -= 7;
  return Date.UTC(year, r.month - 1, day) + r.minutes * 60_000;
}

/** Dahua reports no zone: take the difference between its wall clock and ours, rounded to the
 * nearest 15 minutes (zones are whole quarter hours), as the zone; the rest is clock skew. */
export function inferZone(deviceWallMs: number, ourUtcMs: number): { zone: DeviceZone; skewMs: number } {
  const diff = deviceWallMs - ourUtcMs;
  const zoneMin = Math.round(diff / 900_000) * 15;
  return { zone: DeviceZone.fixed(zoneMin), skewMs: diff - zoneMin * 60_000 };
}
