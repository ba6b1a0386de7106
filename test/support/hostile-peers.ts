// Hostile and broken peers for the robustness specs: a raw TCP server that reads HTTP/RTSP-style
// requests and lets each scenario answer with whatever bytes it likes (garbage, endless bodies,
// silence, a closed socket), plus guards that fail a spec when anything escapes as an uncaught
// exception or unhandled rejection, or when a promise does not settle in time. Loopback only.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawRequest {
  method: string;
  url: string;
  /** Lower-case header names. */
  headers: Map<string, string>;
  body: string;
}

export interface HostileServer {
  port: number;
  /** Requests received so far, in order. */
  requests: RawRequest[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

export type Responder = (sock: Socket, req: RawRequest, n: number) => void;

const MAX_REQUEST = 1 << 20;

/**
 * A server on 127.0.0.1 (or another loopback `host`, e.g. 127.0.0.2) that parses requests (head + Content-Length body, several per connection)
 * and hands each to `respond` with the raw socket. `onConnect` runs first (e.g. to say nothing).
 */
export async function startHostileServer(respond: Responder, onConnect?: (sock: Socket) => void, host = '127.0.0.1'): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const requests: RawRequest[] = [];
  const state = { connections: 0 };
  const server: Server = createServer((sock) => {
    state.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    onConnect?.(sock);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_REQUEST) return sock.destroy();
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
        }
        const len = Math.max(0, Number(headers.get('content-length') ?? 0) || 0);
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        buf = buf.subarray(end + 4 + len);
        const [method = '', url = ''] = lines[0].split(' ');
        const req = { method, url, headers, body };
        requests.push(req);
        if (!sock.destroyed) respond(sock, req, requests.length);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw HTTP/1.1 reply (Content-Length computed unless given in `headers`). */
export function httpReply(status: number, body: string | Buffer, headers: Record<string, string> = {}): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const h: Record<string, string> = {
    'Content-Type': 'application/soap+xml; charset=utf-8',
    'Content-Length': String(b.length),
    Connection: 'close',
    ...headers,
  };
  const head =
    `HTTP/1.1 ${status} X\r\n` +
    Object.entries(h)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

export function soapEnvelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" ' +
    'xmlns:tse="http://www.onvif.org/ver10/search/wsdl" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" ' +
    `xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** Local name of the operation in a SOAP request body ("GetSystemDateAndTime", ...). */
export function soapOperation(body: string): string {
  const m = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([\w-]+)/.exec(body);
  return m ? m[1] : '';
}

export function clockReply(d = new Date()): string {
  return soapEnvelope(
    '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:UTCDateTime>' +
      `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>` +
      `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
      '</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
  );
}

/**
 * Records uncaught exceptions and unhandled rejections while installed. Mocha has its own
 * handlers; ours only collect, and `assertNone` turns anything collected into a failed spec.
 */
export class EscapeWatch {
  readonly escaped: string[] = [];
  private readonly onUncaught = (e: unknown) => this.escaped.push(`uncaughtException: ${describeError(e)}`);
  private readonly onRejection = (e: unknown) => this.escaped.push(`unhandledRejection: ${describeError(e)}`);

  install(): void {
    process.on('uncaughtException', this.onUncaught);
    process.on('unhandledRejection', this.onRejection);
  }

  uninstall(): void {
    process.off('uncaughtException', this.onUncaught);
    process.off('unhandledRejection', this.onRejection);
  }

  /** Throws when anything escaped since the last call (and forgets it). */
  assertNone(): void {
    const list = this.escaped.splice(0);
    if (list.length) throw new Error(`escaped from an event handler:\n${list.join('\n')}`);
  }
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
}

export type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; error: Error; ms: number };

/** Settles `p` into an Outcome; fails (rejects) when it has not settled within `ms`. */
export async function settleWithin<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<Outcome<T>> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value): Outcome<T> => ({ ok: true, value, ms: Date.now() - started }),
        (e: unknown): Outcome<T> => ({ ok: false, error: e instanceof Error ? e : new Error(String(e)), ms: Date.now() - started }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
