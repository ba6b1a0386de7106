// WS-Discovery (2005/04) target service for the simulated devices: answers Probe with ProbeMatches
// sent unicast to the sender, announces Hello/Bye. Multicast is opt-in and bound to one interface
// so that tests and the CLI never touch a real network unless asked to.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { esc } from './soap-envelope';

export const WSD_MULTICAST_ADDRESS = '239.255.255.250';
export const WSD_PORT = 3702;
const NS_SOAP = 'http://www.w3.org/2003/05/soap-envelope';
const NS_WSA = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';
const NS_D = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';
const ACTION_PROBE = `${NS_D}/Probe`;
const TO_DISCOVERY = 'urn:schemas-xmlsoap-org:ws:2005:04:discovery';
const TO_ANONYMOUS = `${NS_WSA}/role/anonymous`;
const DEVICE_TYPES = 'dn:NetworkVideoTransmitter tds:Device';
/** Local names of the types we answer to (any prefix). */
const KNOWN_TYPES = new Set(['NetworkVideoTransmitter', 'Device']);
/** Retransmitted probes (same MessageID) are answered once (SOAP-over-UDP duplicate detection). */
const REMEMBERED_PROBES = 512;
/** Answers per second at most: a probe flood must not turn the responder into an amplifier. */
const MAX_ANSWERS_PER_SECOND = 100;

export interface DiscoverableDevice {
  urn: string;
  xaddrs: string[];
  scopes: string[];
}

export interface WsDiscoveryResponderOptions {
  /** Interface address to bind (and, with multicast, to join the group on). */
  host: string;
  /** UDP port; 0 = any free port. */
  port: number;
  /** Join 239.255.255.250 on `host`'s interface and announce Hello/Bye there. Default false. */
  multicast?: boolean;
  /** Without multicast, where Hello/Bye go (a loopback address:port in tests); else nowhere. */
  announceTo?: { address: string; port: number };
  /** One ProbeMatches message per device instead of one message with every ProbeMatch. */
  replyPerDevice?: boolean;
  devices: () => DiscoverableDevice[];
  log?: (line: string) => void;
}

export interface WsDiscoveryResponder {
  port: number;
  /** Sends Bye (when announcing) and closes the socket. */
  close(): Promise<void>;
}

const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true });

interface Probe {
  messageId: string;
  types: string[];
  scopes: string[];
}

/** A Probe's MessageID, Types and Scopes, or undefined for anything else (junk, other actions). */
export function parseProbe(xml: string): Probe | undefined {
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch {
    return undefined;
  }
  const env = pick(doc, 'Envelope');
  const header = pick(env, 'Header');
  const probe = pick(pick(env, 'Body'), 'Probe');
  const action = textOf(pick(header, 'Action'));
  if (probe === undefined || (action && action !== ACTION_PROBE)) return undefined;
  const messageId = textOf(pick(header, 'MessageID'));
  if (!messageId) return undefined;
  const split = (v: unknown): string[] => textOf(v).split(/\s+/).filter(Boolean);
  return { messageId, types: split(pick(probe, 'Types')), scopes: split(pick(probe, 'Scopes')) };
}

function pick(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  const x = (v as Record<string, unknown>)[key];
  return Array.isArray(x) ? x[0] : x;
}

function textOf(v: unknown): string {
  if (typeof v === 'string') return v.trim();
  if (v && typeof v === 'object') {
    const t = (v as Record<string, unknown>)['#text'];
    return typeof t === 'string' ? t.trim() : '';
  }
  return '';
}

/** Types match when absent or when every requested type's local name is one we implement. */
function typesMatch(types: string[]): boolean {
  return types.every((t) => KNOWN_TYPES.has(t.slice(t.lastIndexOf(':') + 1)));
}

/** RFC 3986 scope matching (the default MatchBy): each probe scope is a segment prefix of one of ours. */
function scopesMatch(wanted: string[], ours: string[]): boolean {
  return wanted.every((w) => {
    const ws = w.replace(/\/+$/, '');
    return ours.some((o) => o === ws || o.startsWith(ws + '/'));
  });
}

function header(action: string, to: string, relatesTo?: string, sequence?: { instanceId: number; n: number }): string {
  return (
    `<s:Header><a:MessageID>urn:uuid:${randomUUID()}</a:MessageID>` +
    (relatesTo ? `<a:RelatesTo>${esc(relatesTo)}</a:RelatesTo>` : '') +
    `<a:To>${to}</a:To><a:Action>${NS_D}/${action}</a:Action>` +
    (sequence ? `<d:AppSequence InstanceId="${sequence.instanceId}" MessageNumber="${sequence.n}"/>` : '') +
    '</s:Header>'
  );
}

function wrap(headerXml: string, bodyXml: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS_SOAP}" xmlns:a="${NS_WSA}" xmlns:d="${NS_D}" ` +
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">' +
    `${headerXml}<s:Body>${bodyXml}</s:Body></s:Envelope>`
  );
}

function deviceFields(d: DiscoverableDevice, withAddresses = true): string {
  return (
    `<a:EndpointReference><a:Address>${esc(d.urn)}</a:Address></a:EndpointReference>` +
    `<d:Types>${DEVICE_TYPES}</d:Types><d:Scopes>${esc(d.scopes.join(' '))}</d:Scopes>` +
    (withAddresses ? `<d:XAddrs>${esc(d.xaddrs.join(' '))}</d:XAddrs>` : '') +
    '<d:MetadataVersion>1</d:MetadataVersion>'
  );
}

export function probeMatchesXml(relatesTo: string, devices: DiscoverableDevice[]): string {
  const matches = devices.map((d) => `<d:ProbeMatch>${deviceFields(d)}</d:ProbeMatch>`).join('');
  return wrap(header('ProbeMatches', TO_ANONYMOUS, relatesTo), `<d:ProbeMatches>${matches}</d:ProbeMatches>`);
}

export async function startWsDiscoveryResponder(o: WsDiscoveryResponderOptions): Promise<WsDiscoveryResponder> {
  const socket: Socket = createSocket({ type: 'udp4', reuseAddr: o.multicast === true });
  const instanceId = Math.floor(Date.now() / 1000);
  let messageNumber = 0;
  let closed = false;
  const seen = new Set<string>();
  let windowStart = 0;
  let answersInWindow = 0;
  const allowAnswer = (): boolean => {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      answersInWindow = 0;
    }
    return ++answersInWindow <= MAX_ANSWERS_PER_SECOND;
  };

  socket.on('error', (err) => o.log?.(`ws-discovery: socket error: ${err.message}`));
  socket.on('message', (buf: Buffer, rinfo: RemoteInfo) => {
    const probe = parseProbe(buf.toString('utf8'));
    if (!probe) return; // junk, our own announcements, or other WS-Discovery actions
    if (!typesMatch(probe.types)) return;
    if (seen.has(probe.messageId)) return;
    seen.add(probe.messageId);
    if (seen.size > REMEMBERED_PROBES) seen.delete(seen.values().next().value as string);
    if (!allowAnswer()) return;
    const devices = o.devices().filter((d) => scopesMatch(probe.scopes, d.scopes));
    if (devices.length === 0) return;
    const groups = o.replyPerDevice ? devices.map((d) => [d]) : [devices];
    for (const g of groups) sendTo(probeMatchesXml(probe.messageId, g), rinfo.address, rinfo.port);
  });

  function sendTo(xml: string, address: string, port: number): Promise<void> {
    return new Promise((resolve) => {
      if (closed) return resolve();
      socket.send(Buffer.from(xml, 'utf8'), port, address, (err) => {
        if (err) o.log?.(`ws-discovery: send to ${address}:${port} failed: ${err.message}`);
        resolve();
      });
    });
  }

  function announceTarget(): { address: string; port: number } | undefined {
    if (o.multicast) return { address: WSD_MULTICAST_ADDRESS, port: WSD_PORT };
    return o.announceTo;
  }

  async function announce(kind: 'Hello' | 'Bye'): Promise<void> {
    const target = announceTarget();
    if (!target) return;
    for (const d of o.devices()) {
      const body = `<d:${kind}>${deviceFields(d, kind === 'Hello')}</d:${kind}>`;
      await sendTo(wrap(header(kind, TO_DISCOVERY, undefined, { instanceId, n: ++messageNumber }), body), target.address, target.port);
    }
  }

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    // Multicast datagrams are only delivered to sockets bound to the wildcard (or group) address.
    socket.bind({ port: o.port, address: o.multicast ? '0.0.0.0' : o.host }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  if (o.multicast) {
    socket.addMembership(WSD_MULTICAST_ADDRESS, o.host);
    socket.setMulticastInterface(o.host);
    socket.setMulticastTTL(1);
    socket.setMulticastLoopback(true);
  }
  const port = socket.address().port;
  await announce('Hello');

  return {
    port,
    close: async () => {
      if (closed) return;
      await announce('Bye');
      closed = true;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
