// Target lists for probing: "127.0.0.1:18000-18002", "192.168.1.0/24:80,8000", "cam.local",
// "10.0.0.5-20:80", "[::1]:8080". Entries are separated by whitespace, ';' or ',' (a ',' followed
// by a bare port or port range continues the previous entry's port list).
import { isIP } from 'node:net';

export interface Target {
  host: string;
  port: number;
  /** Listed one by one (not from a range or CIDR): report it even if nothing answers. */
  explicit: boolean;
}

export const DEFAULT_PORT = 80;
export const MAX_TARGETS = 65_536;

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}
function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function parsePorts(spec: string, entry: string): number[] {
  const ports: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`target "${entry}": bad port "${part}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || b < a) throw new Error(`target "${entry}": port range "${part}" is outside 1-65535 or reversed`);
    for (let p = a; p <= b; p++) ports.push(p);
  }
  return ports;
}

function expandHosts(hostSpec: string, entry: string): { hosts: string[]; ranged: boolean } {
  const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(hostSpec);
  if (cidr) {
    if (isIP(cidr[1]) !== 4) throw new Error(`target "${entry}": "${cidr[1]}" is not an IPv4 address`);
    const bits = Number(cidr[2]);
    if (bits < 8 || bits > 32) throw new Error(`target "${entry}": CIDR prefix /${bits} must be between /8 and /32`);
    const size = 2 ** (32 - bits);
    const base = Math.floor(ipv4ToInt(cidr[1]) / size) * size;
    const hosts: string[] = [];
    // Skip network and broadcast addresses when the block has hosts between them.
    const first = size > 2 ? 1 : 0;
    const last = size > 2 ? size - 2 : size - 1;
    for (let i = first; i <= last; i++) hosts.push(intToIpv4(base + i));
    return { hosts, ranged: true };
  }
  const range = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$/.exec(hostSpec);
  if (range) {
    const a = Number(range[2]);
    const b = Number(range[3]);
    if (b < a || b > 255) throw new Error(`target "${entry}": address range ${a}-${b} is reversed or beyond 255`);
    const hosts: string[] = [];
    for (let i = a; i <= b; i++) hosts.push(range[1] + i);
    if (isIP(hosts[0]) !== 4) throw new Error(`target "${entry}": "${hostSpec}" is not an IPv4 range`);
    return { hosts, ranged: true };
  }
  if (isIP(hostSpec) || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(hostSpec)) return { hosts: [hostSpec], ranged: false };
  throw new Error(`target "${entry}": "${hostSpec}" is not a host name, IPv4 address, range or CIDR block`);
}

function splitEntries(list: string): string[] {
  const entries: string[] = [];
  for (const chunk of list.split(/[\s;]+/).filter(Boolean)) {
    for (const piece of chunk.split(',')) {
      if (piece === '') continue;
      // A bare port or port range continues the previous entry's port list.
      if (/^\d+(-\d+)?$/.test(piece) && entries.length && /:[\d,-]+$/.test(entries[entries.length - 1])) {
        entries[entries.length - 1] += ',' + piece;
      } else {
        entries.push(piece);
      }
    }
  }
  return entries;
}

export function parseTargets(input: string | string[], maxTargets = MAX_TARGETS): Target[] {
  const list = Array.isArray(input) ? input.join(' ') : input;
  const out: Target[] = [];
  const seen = new Set<string>();
  for (const entry of splitEntries(list)) {
    let hostSpec: string;
    let portSpec: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(.+))?$/.exec(entry);
    if (v6) {
      if (isIP(v6[1]) !== 6) throw new Error(`target "${entry}": "${v6[1]}" is not an IPv6 address`);
      hostSpec = v6[1];
      portSpec = v6[2];
    } else {
      const i = entry.lastIndexOf(':');
      hostSpec = i >= 0 ? entry.slice(0, i) : entry;
      portSpec = i >= 0 ? entry.slice(i + 1) : undefined;
    }
    const { hosts, ranged } = v6 ? { hosts: [hostSpec], ranged: false } : expandHosts(hostSpec, entry);
    const ports = portSpec === undefined ? [DEFAULT_PORT] : parsePorts(portSpec, entry);
    const explicit = !ranged && ports.length === 1;
    if (out.length + hosts.length * ports.length > maxTargets) {
      throw new Error(`targets expand to more than ${maxTargets} host:port pairs; narrow the ranges`);
    }
    for (const host of hosts) {
      for (const port of ports) {
        const key = `${host}:${port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ host, port, explicit });
      }
    }
  }
  return out;
}

export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
