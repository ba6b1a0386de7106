// Target lists for probing: "127.0.0.1:18000-18002", "192.168.1.0/24:80,8000", "cam.local",
// "10.0.0.5-20:80", "[::1]:8080". Entries are separated by whitespace, ';' or ',' (a ',' followed
// by a bare port or port range continues the previous entry's port list).
//
// Parsing is lazy: an entry becomes an address block and port ranges (numbers), its size is their
// product, and the limit is checked entry by entry before anything is expanded. So "10.0.0.0/8:80"
// is refused after reading one entry, without allocating for its 16 million addresses; targets are
// only produced when iterated.
import { isIP } from 'node:net';

export interface Target {
  host: string;
  port: number;
  /** Listed one by one (not from a range or CIDR): report it even if nothing answers. */
  explicit: boolean;
}

export const DEFAULT_PORT = 80;
export const MAX_TARGETS = 65_536;

/** IPv4 addresses first..last (as 32-bit numbers), or one host name / IPv6 address. */
type HostBlock = { kind: 'v4'; first: number; last: number } | { kind: 'name'; host: string };

interface PortRange {
  from: number;
  to: number;
}

export interface TargetEntry {
  /** The entry as written (for messages). */
  text: string;
  hosts: HostBlock;
  ports: PortRange[];
  explicit: boolean;
  /** host:port pairs this entry stands for (duplicates with other entries included). */
  size: number;
}

export class TargetLimitError extends Error {
  constructor(
    readonly limit: number,
    readonly entry: string,
  ) {
    super(`targets expand to more than ${limit} host:port pairs (at "${entry.length > 60 ? entry.slice(0, 57) + '…' : entry}"); narrow the ranges`);
    this.name = 'TargetLimitError';
  }
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}
function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function parsePorts(spec: string, entry: string): PortRange[] {
  const ranges: PortRange[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
    if (!m) throw new Error(`target "${entry}": bad port "${part}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || b < a) throw new Error(`target "${entry}": port range "${part}" is outside 1-65535 or reversed`);
    ranges.push({ from: a, to: b });
  }
  return ranges;
}

function parseHosts(hostSpec: string, entry: string): { hosts: HostBlock; ranged: boolean } {
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(hostSpec);
  if (cidr) {
    if (isIP(cidr[1]) !== 4) throw new Error(`target "${entry}": "${cidr[1]}" is not an IPv4 address`);
    const bits = Number(cidr[2]);
    if (bits < 8 || bits > 32) throw new Error(`target "${entry}": CIDR prefix /${bits} must be between /8 and /32`);
    const size = 2 ** (32 - bits);
    const base = Math.floor(ipv4ToInt(cidr[1]) / size) * size;
    // Skip network and broadcast addresses when the block has hosts between them.
    return size > 2
      ? { hosts: { kind: 'v4', first: base + 1, last: base + size - 2 }, ranged: true }
      : { hosts: { kind: 'v4', first: base, last: base + size - 1 }, ranged: true };
  }
  const range = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$/.exec(hostSpec);
  if (range) {
    const a = Number(range[2]);
    const b = Number(range[3]);
    if (b < a || b > 255) throw new Error(`target "${entry}": address range ${a}-${b} is reversed or beyond 255`);
    if (isIP(range[1] + a) !== 4) throw new Error(`target "${entry}": "${hostSpec}" is not an IPv4 range`);
    const base = ipv4ToInt(range[1] + '0');
    return { hosts: { kind: 'v4', first: base + a, last: base + b }, ranged: true };
  }
  if (isIP(hostSpec) === 4) {
    const n = ipv4ToInt(hostSpec);
    return { hosts: { kind: 'v4', first: n, last: n }, ranged: false };
  }
  if (isIP(hostSpec) || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(hostSpec)) return { hosts: { kind: 'name', host: hostSpec }, ranged: false };
  throw new Error(`target "${entry}": "${hostSpec}" is not a host name, IPv4 address, range or CIDR block`);
}

/** The entries of a list, one at a time (a bare port after ',' joins the entry before it). */
function* splitEntries(list: string): Generator<string> {
  let pending: string | undefined;
  for (const m of list.matchAll(/[^\s;]+/g)) {
    for (const piece of m[0].split(',')) {
      if (piece === '') continue;
      if (pending !== undefined && /^\d+(-\d+)?$/.test(piece) && /:[\d,-]+$/.test(pending)) {
        pending += ',' + piece;
        continue;
      }
      if (pending !== undefined) yield pending;
      pending = piece;
    }
  }
  if (pending !== undefined) yield pending;
}

function parseEntry(entry: string): TargetEntry {
  let hostSpec: string;
  let portSpec: string | undefined;
  let hosts: HostBlock;
  let ranged = false;
  const v6 = /^\[([^\]]+)\](?::(.+))?$/.exec(entry);
  if (v6) {
    if (isIP(v6[1]) !== 6) throw new Error(`target "${entry}": "${v6[1]}" is not an IPv6 address`);
    hosts = { kind: 'name', host: v6[1] };
    portSpec = v6[2];
  } else {
    const i = entry.lastIndexOf(':');
    hostSpec = i >= 0 ? entry.slice(0, i) : entry;
    portSpec = i >= 0 ? entry.slice(i + 1) : undefined;
    ({ hosts, ranged } = parseHosts(hostSpec, entry));
  }
  const ports = portSpec === undefined ? [{ from: DEFAULT_PORT, to: DEFAULT_PORT }] : parsePorts(portSpec, entry);
  const portCount = ports.reduce((n, r) => n + r.to - r.from + 1, 0);
  const hostCount = hosts.kind === 'v4' ? hosts.last - hosts.first + 1 : 1;
  return { text: entry, hosts, ports, explicit: !ranged && portCount === 1, size: hostCount * portCount };
}

/** A parsed target list: entries as blocks and ranges, expanded only when iterated. */
export class TargetList implements Iterable<Target> {
  constructor(
    readonly entries: readonly TargetEntry[],
    /** host:port pairs before duplicates are dropped (an upper bound of what iteration yields). */
    readonly size: number,
  ) {}

  /** Whether host:port is one of the list's targets (hosts compare case-insensitively). */
  has(host: string, port: number): boolean {
    const v4 = isIP(host) === 4 ? ipv4ToInt(host) : undefined;
    const name = host.replace(/^\[|\]$/g, '').toLowerCase();
    return this.entries.some(
      (e) =>
        e.ports.some((r) => port >= r.from && port <= r.to) &&
        (e.hosts.kind === 'v4' ? v4 !== undefined && v4 >= e.hosts.first && v4 <= e.hosts.last : e.hosts.host.toLowerCase() === name),
    );
  }

  /** Whether the address or name is one of the list's hosts, on any port. */
  hasHost(host: string): boolean {
    return this.entries.some((e) => this.has(host, e.ports[0].from) || e.ports.some((r) => this.has(host, r.from)));
  }

  /** Every distinct host:port, in list order. */
  *[Symbol.iterator](): Iterator<Target> {
    const seen = new Set<string>();
    for (const e of this.entries) {
      const first = e.hosts.kind === 'v4' ? e.hosts.first : 0;
      const last = e.hosts.kind === 'v4' ? e.hosts.last : 0;
      for (let n = first; n <= last; n++) {
        const host = e.hosts.kind === 'v4' ? intToIpv4(n) : e.hosts.host;
        for (const r of e.ports) {
          for (let port = r.from; port <= r.to; port++) {
            const key = `${host}:${port}`;
            if (seen.has(key)) continue;
            seen.add(key);
            yield { host, port, explicit: e.explicit };
          }
        }
      }
    }
  }
}

/**
 * Parses a list without expanding it. Throws TargetLimitError as soon as the entries read so far
 * stand for more than `maxTargets` pairs (Infinity: no limit, e.g. to count a list).
 */
export function parseTargetList(input: string | string[], maxTargets = MAX_TARGETS): TargetList {
  const list = Array.isArray(input) ? input.join(' ') : input;
  const entries: TargetEntry[] = [];
  let size = 0;
  for (const text of splitEntries(list)) {
    const e = parseEntry(text);
    size += e.size;
    if (size > maxTargets) throw new TargetLimitError(maxTargets, text);
    entries.push(e);
  }
  return new TargetList(entries, size);
}

/** The targets of a list, expanded (at most `maxTargets`, checked before expanding). */
export function parseTargets(input: string | string[], maxTargets = MAX_TARGETS): Target[] {
  return [...parseTargetList(input, maxTargets)];
}

export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
