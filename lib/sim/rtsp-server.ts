// The simulator's RTSP server: live streams and ONVIF replay (Streaming spec §6) over TCP
// interleaved RTP. A replay sends the frames a camera's recording timeline holds in the PLAY range,
// starting at the keyframe at or before the range start (or, with `replayStart: 'next-keyframe'`,
// at the first keyframe at or after it), with the 0xABAC header extension
// (NTP time + C/E/D/T flags), then RTCP BYE. `Rate-Control: no` sends as fast as the socket drains.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { SimAuth, SimCameraSpec, SimDeviceSpec } from './types';
import { RecordingTimeline } from './timeline';
import { cameraIndexOf, livePath, replayPath } from './tokens';
import { loadClip, type Clip } from './clips';
import { clipPayloads } from './rtp-packetize';
import { splitAnnexB } from '../media/annexb';
import { formatClock, parseClockRange } from '../rtsp/clock';
import { waitDelivered } from './tcp-delivered';

export interface RtspServerOptions {
  host: string;
  port: number;
  auth?: SimAuth;
  device: SimDeviceSpec;
  now?: () => Date;
  /** 'ignore' reproduces servers that send in real time even when asked for `Rate-Control: no`. */
  rateControl?: 'honour' | 'ignore';
  /** Auth scheme offered in the 401 challenge (default digest). */
  authScheme?: 'digest' | 'basic';
  /** Seconds announced in the Session header; a session without requests for this long is closed. */
  sessionTimeoutSec?: number;
  /** false = behave like a server without ONVIF replay (551 on replay requests). */
  supportsReplay?: boolean;
  /** Replay requests without `Require: onvif-replay` are served too (GStreamer 1.22's rtspsrc in
   * onvif-mode sends none; the bench compares it with our client on this server). Default: 551. */
  requireOptional?: boolean;
  /** Test faults: stop sending (connection kept open) after this many frames of a PLAY. */
  stallAfterFrames?: number;
  /**
   * Test faults: answer this many replay PLAY requests (counted over the server's life) with
   * 503, like an NVR whose few replay sessions are all taken.
   */
  busyReplays?: { remaining: number; status?: string };
  /** Real-device behaviours (lib/sim/quirks.ts). */
  quirks?: { strictClock?: boolean; refuseRequire?: boolean; noAbac?: boolean };
  /** Test faults: how the next `remaining` replays end early (see ReplayFault). Shared counter. */
  replayFault?: { fault: ReplayFault; afterFrames: number; remaining: number };
  /** Test faults: frames in [fromSec, toSec) after each camera's recording start are gone (an NVR
   * overwriting or losing part of a recording its search still lists); the next frame sent after
   * the span carries the D flag. */
  unreplayable?: { fromSec: number; toSec: number };
  /** Where a replay starts: the clean point at or before the range start (ONVIF Streaming,
   * "Synchronization points"; the default), or the first one at or after it, as servers that seek
   * to the nearest or next keyframe do (test fault `next-keyframe`). */
  replayStart?: 'keyframe-before' | 'next-keyframe';
  /** Test faults: how a replay's connection ends (see END_FAULTS). */
  endFaults?: EndFaults;
}

// ---- End-of-replay faults (issue F: frame times decide) ----------------------------------------
/**
 * How real NVRs end the connection of a replay that did deliver its frames, each seen in public
 * trackers (see lib/rtsp/replay-session.ts): `reset-at-end` resets the TCP connection (RST) right
 * after the last frame of the range instead of sending RTCP BYE (and resets on a TEARDOWN that
 * comes first); `no-teardown-reply` never answers TEARDOWN (the connection stays open, silent).
 * `reset-mid` resets after a number of frames, before the range end (a shortfall, not an end).
 * Each reset waits until the client has received what was sent (tcp-delivered.ts), so what
 * arrives is exactly the frames sent.
 */
export const END_FAULTS = ['reset-at-end', 'reset-mid', 'no-teardown-reply'] as const;
export type EndFault = (typeof END_FAULTS)[number];
export interface EndFaults {
  resetAtEnd?: boolean;
  /** Reset after `afterFrames` frames (before the range end) of the next `remaining` replays. */
  resetMid?: { afterFrames: number; remaining: number };
  noTeardownReply?: boolean;
}
/** How long a reset waits for the client to take what was sent. */
const RESET_DELIVERY_BOUND_MS = 10_000;
// ---- end of end-of-replay faults ---------------------------------------------------------------

/**
 * Early endings real NVRs produce (sessions capped, recordings overwritten, firmware quirks), each
 * after `afterFrames` frames of a replay: `bye-early` sends RTCP BYE, `terminal-early` marks that
 * frame with the T flag and goes quiet, `quiet-close` closes the connection, `idle` goes silent with
 * the connection open, `rtcp-only` sends only RTCP sender reports every 2 s, forever.
 */
export const REPLAY_FAULTS = ['bye-early', 'terminal-early', 'quiet-close', 'idle', 'rtcp-only'] as const;
export type ReplayFault = (typeof REPLAY_FAULTS)[number];

export interface RtspServerHandle {
  port: number;
  close(): Promise<void>;
}

const NTP_EPOCH_OFFSET_S = 2208988800;
const REALM = 'VTrack Simulator';
const SEND_QUEUE = 1024 * 1024;
/** Request head and body limits: a client that sends more is cut off, not buffered. */
const MAX_HEAD = 64 * 1024;
const MAX_BODY = 64 * 1024;

interface PlannedFrame {
  timeMs: number;
  clipIndex: number;
  flags: number; // ONVIF extension flags byte: C=0x80 E=0x40 D=0x20 T=0x10
}

interface Session {
  id: string;
  cam: number;
  replay: boolean;
  channel: number;
  ssrc: number;
  seq: number;
  plan?: Iterator<PlannedFrame>;
  stop?: () => void;
  playCseq: number;
}

export async function startRtspServer(o: RtspServerOptions): Promise<RtspServerHandle> {
  const now = o.now ?? (() => new Date());
  const nonce = randomBytes(16).toString('hex');
  const timeoutSec = o.sessionTimeoutSec ?? 60;
  const sockets = new Set<Socket>();
  // Load every clip up front: a bad clip fails the start, not the first client.
  const clips = o.device.cameras.map((c) => loadClip(c.clip));
  for (const c of clips) clipPayloads(c);

  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    const conn = new Connection(sock, o, clips, now, nonce, timeoutSec);
    sock.on('close', () => {
      sockets.delete(sock);
      conn.closed();
    });
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Request {
  method: string;
  url: string;
  headers: Map<string, string>;
}

class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private session?: Session;
  private lastRequest = Date.now();
  private watchdog?: NodeJS.Timeout;
  private isClosed = false;

  constructor(
    private readonly sock: Socket,
    private readonly o: RtspServerOptions,
    private readonly clips: Clip[],
    private readonly now: () => Date,
    private readonly nonce: string,
    private readonly timeoutSec: number,
  ) {
    sock.on('data', (d: Buffer) => this.onData(d));
  }

  closed(): void {
    this.isClosed = true;
    this.session?.stop?.();
    if (this.watchdog) clearInterval(this.watchdog);
  }

  private onData(d: Buffer): void {
    if (this.isClosed) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length === 0) return;
      if (this.buf[0] === 0x24) {
        // Interleaved data from the client (RTCP receiver reports): skip it.
        if (this.buf.length < 4) return;
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) return;
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0 || end > MAX_HEAD) {
        if (this.buf.length > MAX_HEAD) this.sock.destroy();
        return;
      }
      const head = this.buf.subarray(0, end).toString('latin1');
      const headers = new Map<string, string>();
      const lines = head.split('\r\n');
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
      }
      const cl = headers.get('content-length') ?? '0';
      // Digits only: NaN or a negative length would re-read the same request forever.
      if (!/^\d+$/.test(cl) || Number(cl) > MAX_BODY) {
        this.badRequest(headers, `Content-Length ${cl.slice(0, 20)} is not 0-${MAX_BODY}`);
        return;
      }
      const bodyLen = Number(cl);
      if (this.buf.length < end + 4 + bodyLen) return;
      this.buf = this.buf.subarray(end + 4 + bodyLen);
      const m = /^([A-Z_]+) (\S+) RTSP\/1\.0$/.exec(lines[0]);
      if (!m) return this.badRequest(headers, 'malformed request line');
      if (!/^\d{1,9}$/.test(headers.get('cseq') ?? '')) return this.badRequest(headers, 'missing or malformed CSeq');
      this.lastRequest = Date.now();
      this.handle({ method: m[1], url: m[2], headers });
      if (this.isClosed) return;
    }
    // A client that pipelines requests but never reads the replies: stop reading until it does.
    if (this.sock.writableLength > SEND_QUEUE && !this.sock.isPaused()) {
      this.sock.pause();
      this.sock.once('drain', () => this.sock.resume());
    }
  }

  /** 400 and close: after a malformed request the byte stream cannot be trusted to resync. */
  private badRequest(headers: Map<string, string>, why: string): void {
    const cseq = /^\d{1,9}$/.test(headers.get('cseq') ?? '') ? (headers.get('cseq') as string) : '0';
    this.buf = Buffer.alloc(0);
    if (!this.isClosed) this.sock.end(`RTSP/1.0 400 Bad Request\r\nCSeq: ${cseq}\r\nServer: VTrack Simulator\r\nX-Reason: ${why}\r\nConnection: close\r\n\r\n`);
    this.isClosed = true;
    this.session?.stop?.();
  }

  private reply(req: Request, status: string, headers: Record<string, string | number> = {}, body = ''): void {
    if (this.isClosed) return;
    let s = `RTSP/1.0 ${status}\r\nCSeq: ${req.headers.get('cseq') ?? '0'}\r\nServer: VTrack Simulator\r\n`;
    for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
    if (body) s += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    this.sock.write(s + '\r\n' + body);
  }

  private authorized(req: Request): boolean {
    const a = this.o.auth;
    if (!a) return true;
    const h = req.headers.get('authorization') ?? '';
    if (/^basic /i.test(h)) {
      return Buffer.from(h.slice(6).trim(), 'base64').toString() === `${a.user}:${a.password}`;
    }
    if (!/^digest /i.test(h)) return false;
    const p = new Map<string, string>();
    for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p.set(m[1].toLowerCase(), m[2] ?? m[3]);
    if (p.get('username') !== a.user || p.get('nonce') !== this.nonce) return false;
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`${a.user}:${REALM}:${a.password}`);
    const ha2 = md5(`${req.method}:${p.get('uri') ?? ''}`);
    return p.get('response') === md5(`${ha1}:${this.nonce}:${ha2}`);
  }

  private handle(req: Request): void {
    try {
      this.dispatch(req);
    } catch (err) {
      this.reply(req, '500 Internal Server Error');
      this.sock.destroy(err instanceof Error ? err : undefined);
    }
  }

  private dispatch(req: Request): void {
    if (req.method === 'OPTIONS') {
      return this.reply(req, '200 OK', { Public: 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN' });
    }
    if (!this.authorized(req)) {
      const challenge = this.o.authScheme === 'basic' ? `Basic realm="${REALM}"` : `Digest realm="${REALM}", nonce="${this.nonce}", algorithm=MD5`;
      return this.reply(req, '401 Unauthorized', { 'WWW-Authenticate': challenge });
    }
    const path = pathOf(req.url);
    const cam = cameraIndexOf(path);
    const camSpec = this.o.device.cameras[cam];
    const isReplay = cam >= 0 && path.startsWith(replayPath(cam));
    const isLive = cam >= 0 && path.startsWith(livePath(cam));
    if (req.method === 'GET_PARAMETER') return this.reply(req, '200 OK', this.sessionHeader());
    if (req.method === 'TEARDOWN') {
      const replay = !!this.session?.replay;
      this.session?.stop?.();
      this.session = undefined;
      if (replay && this.teardownFault()) return; // end-of-replay faults
      this.reply(req, '200 OK');
      return;
    }
    if (!camSpec || (!isReplay && !isLive)) return this.reply(req, '404 Not Found');
    if (isReplay) {
      if (this.o.supportsReplay === false) return this.reply(req, '551 Option not supported', { Unsupported: 'onvif-replay' });
      const require = (req.headers.get('require') ?? '').toLowerCase();
      // Quirk refuse-onvif-replay: 551 to the header, yet a correct replay without it.
      if (this.o.quirks?.refuseRequire && require.includes('onvif-replay')) return this.reply(req, '551 Option not supported', { Unsupported: 'onvif-replay' });
      if (!this.o.quirks?.refuseRequire && !this.o.requireOptional && ['DESCRIBE', 'SETUP', 'PLAY'].includes(req.method) && !require.includes('onvif-replay')) {
        return this.reply(req, '551 Option not supported', { Unsupported: 'onvif-replay' });
      }
    }
    const clip = this.clips[cam];
    switch (req.method) {
      case 'DESCRIBE': {
        const base = req.url.endsWith('/') ? req.url : req.url + '/';
        return this.reply(req, '200 OK', { 'Content-Type': 'application/sdp', 'Content-Base': base }, sdpFor(camSpec, clip, isReplay, this.now()));
      }
      case 'SETUP': {
        const t = req.headers.get('transport') ?? '';
        const m = /interleaved=(\d+)(?:-(\d+))?/.exec(t);
        if (!/RTP\/AVP\/TCP/i.test(t) || !m) return this.reply(req, '461 Unsupported Transport');
        this.session?.stop?.();
        const ssrc = randomBytes(4).readUInt32BE(0);
        const ch = Number(m[1]);
        this.session = {
          id: randomBytes(8).toString('hex').toUpperCase(),
          cam,
          replay: isReplay,
          channel: ch,
          ssrc,
          seq: randomBytes(2).readUInt16BE(0),
          playCseq: 0,
        };
        this.startWatchdog();
        return this.reply(req, '200 OK', {
          Transport: `RTP/AVP/TCP;unicast;interleaved=${ch}-${ch + 1};ssrc=${ssrc.toString(16).toUpperCase().padStart(8, '0')}`,
          ...this.sessionHeader(),
        });
      }
      case 'PLAY': {
        const s = this.session;
        if (!s || !this.sessionMatches(req)) return this.reply(req, '454 Session Not Found');
        s.stop?.();
        s.playCseq = Number(req.headers.get('cseq') ?? 0) & 0xff;
        const range = req.headers.get('range');
        let rangeHeader = '';
        if (s.replay && this.o.busyReplays && this.o.busyReplays.remaining > 0) {
          this.o.busyReplays.remaining--;
          return this.reply(req, this.o.busyReplays.status ?? '503 Service Unavailable', { 'Retry-After': '1' });
        }
        if (s.replay) {
          if (range || !s.plan) {
            const r = parseClockRange(range ?? '');
            if (!r) return this.reply(req, '457 Invalid Range');
            if (this.o.quirks?.strictClock && /clock=[^-]*\.\d|-[^-]*\.\d/.test(range ?? '')) return this.reply(req, '457 Invalid Range');
            const timeline = new RecordingTimeline(camSpec.recording, this.now);
            const to = r.to ?? recordedUntil(timeline, this.now());
            s.plan = replayPlan(camSpec, clip, timeline, r.from.getTime(), to.getTime(), this.o.replayStart === 'next-keyframe');
            rangeHeader = `clock=${formatClock(r.from)}-${formatClock(to)}`;
          }
        } else if (!s.plan) {
          s.plan = livePlan(camSpec, clip, this.now().getTime());
        }
        const rc = (req.headers.get('rate-control') ?? 'yes').toLowerCase();
        const realTime = !s.replay || rc !== 'no' || this.o.rateControl === 'ignore';
        this.reply(req, '200 OK', { ...this.sessionHeader(), ...(rangeHeader ? { Range: rangeHeader } : {}), 'Rate-Control': realTime ? 'yes' : 'no' });
        void this.send(s, realTime);
        return;
      }
      case 'PAUSE': {
        const s = this.session;
        if (!s || !this.sessionMatches(req)) return this.reply(req, '454 Session Not Found');
        s.stop?.();
        return this.reply(req, '200 OK', this.sessionHeader());
      }
      default:
        return this.reply(req, '405 Method Not Allowed', { Allow: 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN' });
    }
  }

  private sessionHeader(): Record<string, string> {
    return this.session ? { Session: `${this.session.id};timeout=${this.timeoutSec}` } : {};
  }

  private sessionMatches(req: Request): boolean {
    const id = (req.headers.get('session') ?? '').split(';')[0].trim();
    return !!this.session && id === this.session.id;
  }

  private startWatchdog(): void {
    if (this.watchdog) return;
    // Like real servers: a session without any request for `timeout` seconds is dropped.
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastRequest > this.timeoutSec * 1000) this.sock.destroy();
    }, 250);
    this.watchdog.unref();
  }

  /** Sends the session's planned frames; stops on PAUSE/TEARDOWN/close; RTCP BYE at the end. */
  private async send(s: Session, realTime: boolean): Promise<void> {
    let stopped = false;
    let wake: (() => void) | undefined;
    s.stop = () => {
      stopped = true;
      wake?.();
    };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    const drain = () =>
      new Promise<void>((resolve) => {
        const done = () => {
          this.sock.off('drain', done);
          this.sock.off('close', done);
          wake = undefined;
          resolve();
        };
        this.sock.on('drain', done);
        this.sock.on('close', done);
        wake = done;
      });
    const clip = this.clips[s.cam];
    const payloads = clipPayloads(clip);
    const pt = payloadTypeOf(clip);
    const plan = s.plan;
    if (!plan) return;
    const wallStart = Date.now();
    let mediaStart = -1;
    let tsBase = -1;
    let sent = 0;
    const recStart = this.o.device.cameras[s.cam]?.recording.start.getTime() ?? 0;
    const gone = this.o.unreplayable ? { from: recStart + this.o.unreplayable.fromSec * 1000, to: recStart + this.o.unreplayable.toSec * 1000 } : undefined;
    let skipped = false;
    const rf = s.replay && this.o.replayFault && this.o.replayFault.remaining > 0 ? this.o.replayFault : undefined;
    if (rf) rf.remaining--;
    const faultAt = rf ? rf.afterFrames : Infinity;
    const resetMid = s.replay ? this.o.endFaults?.resetMid : undefined; // end-of-replay faults
    for (;;) {
      if (stopped || this.isClosed) return;
      if (this.o.stallAfterFrames !== undefined && sent >= this.o.stallAfterFrames) return; // stays silent
      if (rf && sent >= faultAt && rf.fault !== 'terminal-early') return this.endEarly(s, rf.fault, () => stopped);
      if (resetMid && sent >= resetMid.afterFrames && resetMid.remaining > 0) {
        resetMid.remaining--; // counted when it fires: a replay shorter than afterFrames is not one
        return this.resetWhenDelivered(); // end-of-replay faults
      }
      const next = plan.next();
      if (next.done) break;
      let f = next.value;
      if (gone && f.timeMs >= gone.from && f.timeMs < gone.to) {
        skipped = true;
        continue;
      }
      if (skipped) {
        f = { ...f, flags: f.flags | 0x20 };
        skipped = false;
      }
      if (mediaStart < 0) {
        mediaStart = f.timeMs;
        tsBase = randomBytes(4).readUInt32BE(0);
        // Quirk no-abac: frame times only through an RTCP sender report (NTP ↔ RTP).
        if (s.replay && this.o.quirks?.noAbac) this.sock.write(rtcpSenderReport(s, f.timeMs, tsBase));
      }
      if (realTime) {
        const wait = wallStart + (f.timeMs - mediaStart) - Date.now();
        if (wait > 0) await sleep(wait);
        if (stopped || this.isClosed) return;
      }
      const ts = (tsBase + Math.round((f.timeMs - mediaStart) * 90)) >>> 0;
      const terminalNow = rf?.fault === 'terminal-early' && sent + 1 >= faultAt;
      const onvif = s.replay && !this.o.quirks?.noAbac ? (terminalNow ? { ...f, flags: f.flags | 0x10 } : f) : undefined;
      const buf = buildFrame(payloads[f.clipIndex], s, ts, pt, onvif);
      sent++;
      this.sock.write(buf);
      // Backpressure with a bounded queue: up to SEND_QUEUE bytes wait in the socket, then we wait
      // for 'drain' (waiting at every write() === false would stall on each 16 KB).
      if (this.sock.writableLength > SEND_QUEUE) await drain();
      else if ((sent & 63) === 0) await new Promise<void>((r) => setImmediate(r)); // let requests in
      if (terminalNow) return; // T flag sent: quiet from here, no BYE
    }
    if (stopped || this.isClosed) return;
    s.plan = undefined;
    if (s.replay && this.o.endFaults?.resetAtEnd) return this.resetWhenDelivered(); // end-of-replay faults
    this.sock.write(rtcpBye(s));
  }

  // ---- End-of-replay faults (END_FAULTS) -------------------------------------------------------
  /** TEARDOWN of a replay: true when a fault answers it (reset, or nothing at all). */
  private teardownFault(): boolean {
    const f = this.o.endFaults;
    if (f?.resetAtEnd) {
      this.reset();
      return true;
    }
    return !!f?.noTeardownReply;
  }

  /** Resets once the client has taken what was sent (data an RST would otherwise discard). */
  private async resetWhenDelivered(): Promise<void> {
    await waitDelivered(this.sock, RESET_DELIVERY_BOUND_MS);
    this.reset();
  }

  private reset(): void {
    if (this.isClosed || this.sock.destroyed) return;
    this.isClosed = true;
    this.session?.stop?.();
    this.sock.resetAndDestroy();
  }
  // ---- end of end-of-replay faults -------------------------------------------------------------

  private async endEarly(s: Session, fault: ReplayFault, stopped: () => boolean): Promise<void> {
    s.plan = undefined;
    switch (fault) {
      case 'bye-early':
        this.sock.write(rtcpBye(s));
        return;
      case 'quiet-close':
        this.sock.destroy();
        return;
      case 'rtcp-only':
        // Keeps the connection busy with RTCP only: a client whose idle timer counts any packet
        // would wait forever.
        while (!stopped() && !this.isClosed) {
          this.sock.write(rtcpSenderReport(s, Date.now(), 0));
          await new Promise((r) => setTimeout(r, 2000).unref());
        }
        return;
      default:
        return; // idle: silent, connection open
    }
  }
}

/** RTCP sender report: NTP time `timeMs` corresponds to RTP timestamp `rtpTs`. */
function rtcpSenderReport(s: Session, timeMs: number, rtpTs: number): Buffer {
  const b = rtcpPacket(s, 0x80, 200, 6); // V=2, RC=0, SR
  const sec = Math.floor(timeMs / 1000);
  b.writeUInt32BE((sec + NTP_EPOCH_OFFSET_S) >>> 0, 12);
  b.writeUInt32BE(Math.round(((timeMs - sec * 1000) / 1000) * 2 ** 32) >>> 0, 16);
  b.writeUInt32BE(rtpTs >>> 0, 20);
  return b;
}

/** End of the recorded data so far. Looks at the last day only: RecordingTimeline.dataTo() walks
 * every motion interval since the start, which is slow for long histories. */
function recordedUntil(tl: RecordingTimeline, now: Date): Date {
  const from = new Date(Math.max(tl.dataFrom().getTime(), now.getTime() - 86_400_000));
  const last = tl.intervals(from, now).pop();
  return last ? last.end : from;
}

function pathOf(url: string): string {
  const m = /^rtsp:\/\/[^/]*(\/[^?]*)?/i.exec(url);
  return (m ? (m[1] ?? '/') : url).replace(/\/+$/, '');
}

/** JPEG has the static payload type 26 (RFC 3551); the others a dynamic one. */
function payloadTypeOf(clip: Clip): number {
  return clip.codec === 'JPEG' ? 26 : 96;
}

/** One frame as interleaved RTP packets in a single buffer (one socket write per frame). */
function buildFrame(payloads: Buffer[], s: Session, ts: number, pt: number, onvif?: PlannedFrame): Buffer {
  let total = 0;
  for (const p of payloads) total += 4 + 12 + p.length;
  if (onvif) total += 16;
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i];
    const ext = onvif && i === 0;
    const rtpLen = 12 + (ext ? 16 : 0) + p.length;
    out[o] = 0x24;
    out[o + 1] = s.channel;
    out.writeUInt16BE(rtpLen, o + 2);
    out[o + 4] = ext ? 0x90 : 0x80;
    out[o + 5] = (i === payloads.length - 1 ? 0x80 : 0) | pt;
    out.writeUInt16BE(s.seq, o + 6);
    s.seq = (s.seq + 1) & 0xffff;
    out.writeUInt32BE(ts, o + 8);
    out.writeUInt32BE(s.ssrc, o + 12);
    o += 16;
    if (ext && onvif) {
      out.writeUInt16BE(0xabac, o);
      out.writeUInt16BE(3, o + 2);
      const ms = onvif.timeMs;
      const sec = Math.floor(ms / 1000);
      out.writeUInt32BE((sec + NTP_EPOCH_OFFSET_S) >>> 0, o + 4);
      out.writeUInt32BE(Math.round(((ms - sec * 1000) / 1000) * 2 ** 32) >>> 0, o + 8);
      out[o + 12] = onvif.flags;
      out[o + 13] = s.playCseq;
      out[o + 14] = 0;
      out[o + 15] = 0;
      o += 16;
    }
    p.copy(out, o);
    o += p.length;
  }
  return out;
}

/** An interleaved RTCP packet of `words` 32-bit words after the header, SSRC first. */
function rtcpPacket(s: Session, first: number, type: number, words: number): Buffer {
  const b = Buffer.alloc(4 + 4 + words * 4);
  b[0] = 0x24;
  b[1] = s.channel + 1;
  b.writeUInt16BE(4 + words * 4, 2);
  b[4] = first;
  b[5] = type;
  b.writeUInt16BE(words, 6);
  b.writeUInt32BE(s.ssrc, 8);
  return b;
}

function rtcpBye(s: Session): Buffer {
  return rtcpPacket(s, 0x81, 203, 1); // V=2, SC=1, BYE
}

/**
 * Frames of a replay: from the keyframe at or before `fromMs` (`nextKeyframe`: the first one at or
 * after it) up to `toMs`, only inside recorded intervals. Frame n of the recording is at
 * start + n/fps and shows clip frame n mod length.
 */
function* replayPlan(cam: SimCameraSpec, clip: Clip, timeline: RecordingTimeline, fromMs: number, toMs: number, nextKeyframe = false): Generator<PlannedFrame> {
  const ivs = timeline.intervals(new Date(fromMs), new Date(toMs));
  const L = clip.frames.length;
  const recStart = cam.recording.start.getTime();
  const timeOf = (n: number) => recStart + (n * 1000) / cam.fps;
  const firstAtOrAfter = (t: number) => Math.ceil(((t - recStart) * cam.fps) / 1000 - 1e-6);
  const isKey = (n: number) => clip.frames[((n % L) + L) % L].keyframe;
  type Run = { first: number; end: number };
  const runs: Run[] = [];
  for (let i = 0; i < ivs.length; i++) {
    let first = firstAtOrAfter(ivs[i].start.getTime());
    const end = firstAtOrAfter(ivs[i].end.getTime());
    if (i === 0 && !nextKeyframe) {
      // Back up to the keyframe at or before the range start, if that stays inside recorded data.
      let n = Math.floor(((Math.max(fromMs, ivs[0].start.getTime()) - recStart) * cam.fps) / 1000 + 1e-6);
      while (n > 0 && !isKey(n)) n--;
      let ok = isKey(n);
      for (let k = n; ok && k <= first; k++) if (!timeline.has(new Date(timeOf(k)))) ok = false;
      if (ok && n <= first) first = n;
    }
    while (first < end && !isKey(first)) first++; // a stream can only start at a keyframe
    if (first < end) runs.push({ first, end });
  }
  for (let r = 0; r < runs.length; r++) {
    for (let n = runs[r].first; n < runs[r].end; n++) {
      const ci = ((n % L) + L) % L;
      let flags = clip.frames[ci].keyframe ? 0x80 : 0;
      const last = n === runs[r].end - 1;
      if (last && r < runs.length - 1) flags |= 0x40;
      if (n === runs[r].first && r > 0) flags |= 0x20;
      if (last && r === runs.length - 1) flags |= 0x10;
      yield { timeMs: timeOf(n), clipIndex: ci, flags };
    }
  }
}

function* livePlan(cam: SimCameraSpec, clip: Clip, startMs: number): Generator<PlannedFrame> {
  for (let n = 0; ; n++) {
    const ci = n % clip.frames.length;
    yield { timeMs: startMs + (n * 1000) / cam.fps, clipIndex: ci, flags: clip.frames[ci].keyframe ? 0x80 : 0 };
  }
}

function sdpFor(cam: SimCameraSpec, clip: Clip, replay: boolean, now: Date): string {
  const lines = ['v=0', `o=- ${Date.now()} 1 IN IP4 127.0.0.1`, `s=${cam.name}`, 't=0 0', 'a=control:*'];
  if (replay) {
    const tl = new RecordingTimeline(cam.recording, () => now);
    lines.push(`a=range:clock=${formatClock(tl.dataFrom())}-${formatClock(recordedUntil(tl, now))}`);
  }
  lines.push(`m=video 0 RTP/AVP ${payloadTypeOf(clip)}`, 'c=IN IP4 0.0.0.0');
  const b64 = (b?: Buffer) => (b ?? Buffer.alloc(0)).toString('base64');
  switch (clip.codec) {
    case 'H264': {
      const sps = clip.config.sps ?? Buffer.alloc(4);
      lines.push(
        'a=rtpmap:96 H264/90000',
        `a=fmtp:96 packetization-mode=1;profile-level-id=${sps.subarray(1, 4).toString('hex')};sprop-parameter-sets=${b64(clip.config.sps)},${b64(clip.config.pps)}`,
      );
      break;
    }
    case 'H265':
      lines.push('a=rtpmap:96 H265/90000', `a=fmtp:96 sprop-vps=${b64(clip.config.vps)};sprop-sps=${b64(clip.config.sps)};sprop-pps=${b64(clip.config.pps)}`);
      break;
    case 'MPEG4': {
      const vol = clip.config.vol ?? Buffer.alloc(0);
      const vos = splitAnnexB(vol).find((u) => u[0] === 0xb0);
      lines.push('a=rtpmap:96 MP4V-ES/90000', `a=fmtp:96 profile-level-id=${vos ? vos[1] : 1};config=${vol.toString('hex').toUpperCase()}`);
      break;
    }
    case 'JPEG':
      // Static payload type: the rtpmap is optional but most cameras send it.
      lines.push('a=rtpmap:26 JPEG/90000');
      break;
    default:
      throw new Error(`SDP for ${clip.codec} is not implemented`);
  }
  lines.push(`a=framerate:${cam.fps}`, `a=x-dimensions:${clip.width},${clip.height}`, 'a=control:trackID=0', '');
  return lines.join('\r\n');
}
