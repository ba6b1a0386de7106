// The nvr-source "ports" field: "80", "18000-18002", "8000, 8001 8005-8006". A real NVR has one
// port; the seed's multi-device source spans a few, so a handful is plenty.
export const MAX_PORTS = 64;

export function parsePortList(spec: string): number[] {
  const text = String(spec ?? '').trim();
  if (text === '') throw new Error('ports: give at least one port, e.g. 80 or 18000-18002');
  const ports = new Set<number>();
  for (const part of text.split(/[\s,;]+/).filter(Boolean)) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    if (!m) throw new Error(`ports: "${part}" is not a port or a range like 18000-18002`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || b < a) throw new Error(`ports: "${part}" is outside 1-65535 or reversed`);
    if (b - a + 1 + ports.size > MAX_PORTS) throw new Error(`ports: more than ${MAX_PORTS} ports`);
    for (let p = a; p <= b; p++) ports.add(p);
  }
  return [...ports].sort((x, y) => x - y);
}

/** host:port as a discovery target (IPv6 hosts in brackets). */
export function target(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
