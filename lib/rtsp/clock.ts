// ONVIF replay ranges use RTSP absolute time (RFC 2326 §3.7): `clock=YYYYMMDDTHHMMSS[.sss]Z`.

/** `clock=YYYYMMDDTHHMMSS[.sss]Z-[YYYYMMDDTHHMMSS[.sss]Z]` */
export function parseClockRange(h: string): { from: Date; to?: Date } | undefined {
  const m = /clock=(\d{8}T\d{6}(?:\.\d+)?Z)-(\d{8}T\d{6}(?:\.\d+)?Z)?/i.exec(h);
  if (!m) return undefined;
  const from = parseClock(m[1]);
  const to = m[2] ? parseClock(m[2]) : undefined;
  return from ? { from, to } : undefined;
}

function parseClock(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/i.exec(s);
  if (!m) return undefined;
  const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms));
}

export function formatClock(d: Date): string {
  const iso = d.toISOString(); // 2024-01-02T03:04:05.678Z
  const ms = d.getUTCMilliseconds();
  return iso.slice(0, 19).replace(/[-:]/g, '') + (ms ? '.' + String(ms).padStart(3, '0') : '') + 'Z';
}

/**
 * The PLAY Range for [from, to) in whole seconds, start floored and end ceiled: strict servers
 * answer 457 to fractional clock times (DESIGN.md §4), and a request refused that way would be
 * refused again on every later pass.
 */
export function clockRange(from: Date, to: Date): string {
  const f = new Date(Math.floor(from.getTime() / 1000) * 1000);
  const t = new Date(Math.ceil(to.getTime() / 1000) * 1000);
  return `clock=${formatClock(f)}-${formatClock(t)}`;
}
