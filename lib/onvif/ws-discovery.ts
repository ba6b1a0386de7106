// WS-Discovery client (OASIS WS-Discovery 2005/04 as ONVIF uses it): Probe for
// NetworkVideoTransmitter and Device, sent a few times (UDP loses datagrams), on every IPv4
// interface or one chosen one, or directed (unicast) to address:port. Replies are matched to our
// probes by RelatesTo and de-duplicated by endpoint UUID.
import * as dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { parseXml, child, path, text, all } from './xml';

export const WSD_MULTICAST = '239.255.255.250';
export const WSD_PORT = 3702;
/** Distinct endpoints kept per discovery: a flood of made-up replies must not grow memory. */
export const MAX_PROBE_MATCHES = 1024;

export type ProbeTarget = { kind: 'multicast'; interfaceAddress: string } | { kind: 'directed'; address: string; port: number };

export interface ProbeMatch {
  urn: string;
  types: string[];
  scopes: string[];
  xaddrs: string[];
  metadataVersion?: number;
  /** Address the reply came from. */
  from: string;
}

export interface WsDiscoveryOptions {
  /** true = every IPv4 interface; "eth0" or "192.168.1.5" = that interface; "127.0.0.1:3702" = directed. */
  mode: true | string;
  timeoutMs: number;
  /** How many times each probe is sent (spread over the first part of the timeout). */
  repeats?: number;
  signal?: AbortSignal;
}

export function probeMessage(messageId: string, types: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" ' +
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">' +
    '<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>' +
    `<a:MessageID>urn:uuid:${messageId}</a:MessageID>` +
    '<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>' +
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>' +
    `<s:Body><d:Probe><d:Types>${types}</d:Types></d:Probe></s:Body></s:Envelope>`
  );
}

/** Parse a ProbeMatches datagram; returns [] for anything else (junk is ignored, not fatal). */
export function parseProbeMatches(data: string, expectRelatesTo: ReadonlySet<string>, from: string): ProbeMatch[] {
  let doc;
  try {
    doc = parseXml(data);
  } catch {
    return [];
  }
  const env = child(doc, 'Envelope');
  const relatesTo = text(path(env, 'Header', 'RelatesTo'));
  if (!relatesTo || !expectRelatesTo.has(relatesTo.trim())) return [];
  const matches = all(path(env, 'Body', 'ProbeMatches'), 'ProbeMatch');
  const out: ProbeMatch[] = [];
  for (const m of matches) {
    const urn = text(path(m, 'EndpointReference', 'Address'))?.trim();
    const xaddrs = (text(child(m, 'XAddrs')) ?? '').split(/\s+/).filter(Boolean);
    if (!urn || xaddrs.length === 0) continue;
    const mv = Number(text(child(m, 'MetadataVersion')));
    out.push({
      urn,
      types: (text(child(m, 'Types')) ?? '').split(/\s+/).filter(Boolean),
      scopes: (text(child(m, 'Scopes')) ?? '').split(/\s+/).filter(Boolean),
      xaddrs,
      metadataVersion: Number.isFinite(mv) ? mv : undefined,
      from,
    });
  }
  return out;
}

/** Where to send probes for a mode. Throws a clear error for an unknown interface. */
export function probeTargets(mode: true | string): ProbeTarget[] {
  if (typeof mode === 'string') {
    const directed = /^\[?([^\]]+?)\]?:(\d+)$/.exec(mode);
    if (directed && isIP(directed[1])) return [{ kind: 'directed', address: directed[1], port: Number(directed[2]) }];
  }
  const ifaces = networkInterfaces();
  const v4 = Object.entries(ifaces).flatMap(([name, addrs]) =>
    (addrs ?? []).filter((a) => a.family === 'IPv4').map((a) => ({ name, address: a.address, internal: a.internal })),
  );
  if (mode === true) return v4.filter((a) => !a.internal).map((a) => ({ kind: 'multicast' as const, interfaceAddress: a.address }));
  const chosen = v4.filter((a) => a.name === mode || a.address === mode);
  if (chosen.length === 0) {
    throw new Error(`WS-Discovery: no IPv4 interface "${mode}" (have: ${v4.map((a) => `${a.name} ${a.address}`).join(', ') || 'none'})`);
  }
  return chosen.map((a) => ({ kind: 'multicast' as const, interfaceAddress: a.address }));
}

export async function wsDiscover(o: WsDiscoveryOptions): Promise<ProbeMatch[]> {
  const targets = probeTargets(o.mode);
  const repeats = o.repeats ?? 3;
  const ids = new Set<string>();
  const found = new Map<string, ProbeMatch>();
  const sockets: dgram.Socket[] = [];
  const probes: string[] = [];
  for (const types of ['dn:NetworkVideoTransmitter', 'tds:Device']) {
    const id = randomUUID();
    ids.add(`urn:uuid:${id}`);
    probes.push(probeMessage(id, types));
  }
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    for (const m of parseProbeMatches(msg.toString('utf8'), ids, rinfo.address)) {
      const prev = found.get(m.urn);
      if (!prev && found.size >= MAX_PROBE_MATCHES) continue;
      // Several interfaces may see the same device: keep the newest metadata.
      if (!prev || (m.metadataVersion ?? 0) > (prev.metadataVersion ?? 0)) found.set(m.urn, m);
    }
  };
  const timers: NodeJS.Timeout[] = [];
  let onAbort: (() => void) | undefined;
  try {
    await Promise.all(
      targets.map(
        (t) =>
          new Promise<void>((resolve) => {
            const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
            sockets.push(sock);
            sock.on('message', onMessage);
            // One interface failing must not stop the others. A failed bind never calls the bind
            // callback: go on without this socket, or the wait below would never start.
            sock.on('error', () => resolve());
            const bindAddr = t.kind === 'multicast' ? t.interfaceAddress : undefined;
            sock.bind({ port: 0, address: bindAddr }, () => {
              const send = () => {
                for (const p of probes) {
                  const buf = Buffer.from(p);
                  if (t.kind === 'multicast') sock.send(buf, WSD_PORT, WSD_MULTICAST, () => undefined);
                  else sock.send(buf, t.port, t.address, () => undefined);
                }
              };
              try {
                if (t.kind === 'multicast') {
                  sock.setMulticastInterface(t.interfaceAddress);
                  sock.setMulticastTTL(1);
                }
                send();
                const spacing = Math.min(300, o.timeoutMs / (repeats + 1));
                for (let i = 1; i < repeats; i++) timers.push(setTimeout(send, spacing * i));
              } catch {
                // e.g. an interface without multicast: skip it
              }
              resolve();
            });
          }),
      ),
    );
    await new Promise<void>((resolve) => {
      if (o.signal?.aborted) return resolve();
      timers.push(setTimeout(resolve, o.timeoutMs));
      onAbort = resolve;
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  } finally {
    if (onAbort) o.signal?.removeEventListener('abort', onAbort);
    for (const t of timers) clearTimeout(t);
    for (const s of sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
  return [...found.values()];
}
