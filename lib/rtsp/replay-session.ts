// ONVIF replay client (Streaming spec §6): DESCRIBE/SETUP/PLAY with `Require: onvif-replay` over
// one TCP connection, RTP interleaved on it; frames are reassembled and handed to an async
// consumer. Flow control is the socket itself: when the consumer falls behind, the socket is
// paused, TCP's window fills and the server's writes block, so memory stays bounded whatever
// the length. The stream ends at RTCP BYE (draining to BYE keeps the last frame), when frames
// pass the range end, or — after the terminal frame — when the server goes quiet.
import { connect, type Socket } from 'node:net';
import { RtspStreamParser, type RtspMessage } from './stream-parser';
import { Authenticator, chooseChallenge } from './auth';
import { parseSdp, resolveControl, type VideoTrack } from './sdp';
import { parseRtp, rtcpHasBye, rtcpSenderReport } from './rtp';
import { createDepacketizer, type Depacketizer } from './depacketize';
import { clockRange, parseClockRange } from './clock';
import { maskUrl, parseRtspUrl } from './url';
import { RtspError } from './errors';
import { errorMessage, asError } from '../errors';

export interface ReplayFrame {
  /** Wall-clock time of the frame: the 0xABAC NTP time, else derived from the RTP timestamp. */
  ntpTime: Date;
  /** 90 kHz RTP timestamp, unwrapped (keeps growing past 2^32) — orders frames and gives durations. */
  rtpTimestamp: number;
  keyframe: boolean;
  flags: { clean: boolean; end: boolean; discontinuity: boolean; terminal: boolean };
  /** H.264/H.265: NAL units each behind a 4-byte big-endian length (MP4 sample format);
   * MPEG-4 Visual: the bitstream. */
  data: Uint8Array;
}

export interface ReplayTimeouts {
  /** TCP connect. Default 10 s. */
  connectMs?: number;
  /** Each RTSP request's response. Default 10 s. */
  responseMs?: number;
  /** No media (RTP of the video track; RTCP does not count) for this long while the consumer
   * keeps up → error. Default 20 s. */
  idleMs?: number;
  /** After the terminal (T) frame: how long to wait for RTCP BYE. Default 3 s. */
  endGraceMs?: number;
  /** Whole replay deadline. Default: the range's length at real-time speed plus `slackMs`, so a
   * server that replays in real time still finishes and a stuck one is torn down. */
  totalMs?: number;
  /** Added to the range length for the default deadline. Default 60 s. */
  slackMs?: number;
}

/** The whole-replay deadline for a range (see ReplayTimeouts.totalMs). */
export function replayDeadlineMs(from: Date, to: Date, t: ReplayTimeouts = {}): number {
  return t.totalMs ?? Math.max(0, to.getTime() - from.getTime()) + (t.slackMs ?? 60_000);
}

export interface ReplayOptions {
  url: string;
  user?: string;
  password?: string;
  from: Date;
  to: Date;
  /** true = ask for real-time pacing (`Rate-Control: yes`); default false = as fast as possible. */
  rateControl?: boolean;
  /** Answer a Basic-only server (password in clear); default false. A per-source opt-in. */
  allowBasicAuth?: boolean;
  timeouts?: ReplayTimeouts;
  signal?: AbortSignal;
  /** Called once after DESCRIBE with the video track. */
  onTrack?(track: VideoTrack): void | Promise<void>;
  /** Called per frame in order; a returned promise is awaited before the next frame (backpressure). */
  onFrame(frame: ReplayFrame): void | Promise<void>;
  log?(message: string): void;
}

export type ReplayEndReason = 'bye' | 'range-end' | 'quiet-after-terminal';

export interface ReplayStats {
  track: VideoTrack;
  frames: number;
  bytes: number;
  /** Frames dropped because packets were missing or malformed. */
  droppedFrames: number;
  endReason: ReplayEndReason;
  wallMs: number;
  /** Pacing the server confirmed in its PLAY reply (`Rate-Control`), if it said. */
  serverRateControl?: string;
  /** Media time received (first to last frame) per wall time since PLAY; ~1 = real time. */
  speedX?: number;
  /**
   * Asked for `Rate-Control: no` and got clearly faster than real time (true), or about real time
   * (false: the NVR ignores Rate-Control — "NVR replays in real time"); undefined when too little
   * media arrived to tell or real-time pacing was asked for.
   */
  rateControlHonoured?: boolean;
  /** The server refused `Require: onvif-replay` (551); replayed without it, frame times checked. */
  withoutOnvifReplay?: boolean;
  /** Where frame times came from: 0xABAC extension, RTCP sender reports, RTP-Info + PLAY Range, or the asked start. */
  timeSource?: 'onvif-extension' | 'rtcp-sr' | 'rtp-info' | 'range-start';
}

// Frames queued for the consumer before the socket is paused. Small on purpose: a longer queue
// does not add speed (measured) but keeps more objects alive at each GC, which makes V8 grow
// its young generation (peak RSS).
const HIGH_WATER_BYTES = 1024 * 1024;
const HIGH_WATER_FRAMES = 8;

export function replay(o: ReplayOptions): Promise<ReplayStats> {
  return new ReplaySession(o).run();
}

interface PendingRequest {
  resolve(m: RtspMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

interface FrameInProgress {
  ts: number;
  onvif?: ReturnType<typeof parseRtp>['onvif'];
  damaged: boolean;
  /** Payload bytes handed to the depacketizer so far. */
  bytes: number;
}

// One frame larger than this is dropped instead of collected: a server that never ends a frame
// (no marker, same timestamp) must not grow memory without bound. 4K intra frames stay far below.
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

class ReplaySession {
  private readonly url: string;
  private readonly host: string;
  private readonly port: number;
  private readonly user?: string;
  private readonly password?: string;
  private readonly t: Required<ReplayTimeouts>;
  private sock?: Socket;
  private readonly parser: RtspStreamParser;
  private cseq = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private auth?: Authenticator;
  private sessionId?: string;
  private sessionTimeoutSec = 60;
  private track?: VideoTrack;
  private depack?: Depacketizer;
  private rtpChannel = 0;
  private rtcpChannel = 1;
  private settled = false;
  private resolveRun!: (s: ReplayStats) => void;
  private rejectRun!: (e: Error) => void;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();
  // stream state
  private playing = false;
  private ending?: ReplayEndReason;
  private cur?: FrameInProgress;
  private expectedSeq = -1;
  private needKey = true;
  private lastTs = -1;
  private extTs = 0;
  private firstExtTs = -1;
  private lastFrameMs = -1;
  private terminalSeen = false;
  private lastDataAt = Date.now();
  private queue: ReplayFrame[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private paused = false;
  private frames = 0;
  private bytes = 0;
  private dropped = 0;
  private serverRateControl?: string;
  private useOptionsForKeepAlive = false;

  constructor(private readonly o: ReplayOptions) {
    const u = parseRtspUrl(o.url);
    this.url = u.url;
    this.host = u.host;
    this.port = u.port;
    this.user = o.user ?? u.user;
    this.password = o.password ?? u.password;
    const t = o.timeouts ?? {};
    this.t = {
      connectMs: t.connectMs ?? 10_000,
      responseMs: t.responseMs ?? 10_000,
      idleMs: t.idleMs ?? 20_000,
      endGraceMs: t.endGraceMs ?? 3_000,
      slackMs: t.slackMs ?? 60_000,
      totalMs: replayDeadlineMs(o.from, o.to, t),
    };
    this.parser = new RtspStreamParser({ message: (m) => this.onMessage(m), data: (ch, p) => this.onData(ch, p) });
  }

  run(): Promise<ReplayStats> {
    return new Promise<ReplayStats>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
      const sig = this.o.signal;
      if (sig?.aborted) return this.fail(new RtspError('aborted', 'replay aborted'));
      const onAbort = () => this.fail(new RtspError('aborted', 'replay aborted'));
      sig?.addEventListener('abort', onAbort, { once: true });
      this.cleanupAbort = () => sig?.removeEventListener('abort', onAbort);
      this.timers.push(
        setTimeout(
          () =>
            this.fail(
              new RtspError(
                'timeout',
                `replay deadline: not finished within ${Math.round(this.t.totalMs / 1000)} s (range length at real-time speed plus slack)`,
              ),
            ),
          this.t.totalMs,
        ),
      );
      this.start().catch((e: unknown) => this.fail(asError(e)));
    });
  }

  private cleanupAbort = (): void => undefined;

  private async start(): Promise<void> {
    await this.connect();
    const describe = await this.request('DESCRIBE', this.url, { Accept: 'application/sdp', ...this.requireHeader() });
    const base = describe.headers.get('content-base') ?? describe.headers.get('content-location') ?? this.url;
    let track: VideoTrack;
    try {
      track = parseSdp(describe.body.toString('utf8'), base);
      this.depack = createDepacketizer(track);
    } catch (e) {
      // The server's SDP is the problem: say so with the kind callers sort errors by.
      throw new RtspError('protocol', `DESCRIBE ${maskUrl(this.url)}: unusable SDP: ${errorMessage(e)}`);
    }
    this.track = track;
    await this.o.onTrack?.(track);
    if (this.settled) return;
    const setup = await this.request('SETUP', track.controlUrl, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', ...this.requireHeader() });
    const sess = setup.headers.get('session');
    if (!sess) throw new RtspError('protocol', 'SETUP reply has no Session header');
    this.sessionId = sess.split(';')[0].trim();
    const tm = /timeout=(\d+)/i.exec(sess);
    if (tm) this.sessionTimeoutSec = Math.max(1, Number(tm[1]));
    const il = /interleaved=(\d+)(?:-(\d+))?/.exec(setup.headers.get('transport') ?? '');
    if (il) {
      this.rtpChannel = Number(il[1]);
      this.rtcpChannel = il[2] !== undefined ? Number(il[2]) : this.rtpChannel + 1;
    }
    this.playing = true;
    this.lastDataAt = Date.now();
    const playUrl = resolveControl(base, undefined);
    const play = await this.request('PLAY', playUrl, {
      Session: this.sessionId,
      ...this.requireHeader(),
      Range: clockRange(this.o.from, this.o.to),
      'Rate-Control': this.o.rateControl ? 'yes' : 'no',
    });
    this.playAt = Date.now();
    this.serverRateControl = play.headers.get('rate-control');
    this.noteRtpInfo(play.headers.get('rtp-info'), play.headers.get('range'));
    // Keep the session alive at half its timeout (GET_PARAMETER; OPTIONS if the server lacks it).
    const every = Math.max(500, (this.sessionTimeoutSec * 1000) / 2);
    this.timers.push(setInterval(() => this.keepAlive(playUrl), every));
    this.timers.push(setInterval(() => this.checkIdle(), Math.min(250, this.t.idleMs / 4)));
  }

  private connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sock = connect({ host: this.host, port: this.port });
      this.sock = sock;
      sock.setNoDelay(true);
      const timer = setTimeout(() => {
        reject(new RtspError('timeout', `connect to ${this.host}:${this.port} timed out after ${this.t.connectMs} ms`));
        sock.destroy();
      }, this.t.connectMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      sock.on('data', (chunk: Buffer) => {
        try {
          this.parser.push(chunk);
        } catch (e) {
          this.fail(asError(e));
        }
      });
      sock.on('error', (e) => {
        clearTimeout(timer);
        const err = new RtspError('network', `RTSP connection to ${this.host}:${this.port} failed: ${e.message}`);
        reject(err);
        this.fail(err);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!this.settled && !this.ending) {
          const err = new RtspError('network', `RTSP connection to ${this.host}:${this.port} closed by the server`);
          reject(err);
          this.fail(err);
        }
      });
    });
  }

  private send(method: string, url: string, headers: Record<string, string>): Promise<RtspMessage> {
    const sock = this.sock;
    if (!sock || sock.destroyed) return Promise.reject(new RtspError('network', 'not connected'));
    const cseq = ++this.cseq;
    let s = `${method} ${url} RTSP/1.0\r\nCSeq: ${cseq}\r\nUser-Agent: vtrack-onvif\r\n`;
    if (this.auth) s += `Authorization: ${this.auth.header(method, url)}\r\n`;
    for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
    return new Promise<RtspMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cseq);
        reject(new RtspError('timeout', `no reply to ${method} within ${this.t.responseMs} ms`));
      }, this.t.responseMs);
      this.pending.set(cseq, { resolve, reject, timer });
      sock.write(s + '\r\n');
    });
  }

  /** Sends a request, answering one 401 challenge; non-2xx replies become RtspErrors. */
  private async request(method: string, url: string, headers: Record<string, string>): Promise<RtspMessage> {
    let res = await this.send(method, url, headers);
    if (res.status === 401) {
      const ch = chooseChallenge(res.headers.get('www-authenticate'), this.o.allowBasicAuth, `${method} ${maskUrl(url)}`);
      const hadAuth = !!this.auth;
      if (!ch) throw new RtspError('auth', `${method} ${maskUrl(url)}: 401 without a usable challenge`, 401);
      if (this.user === undefined) throw new RtspError('auth', `${method} ${maskUrl(url)}: authentication required but no credentials given`, 401);
      const stale = ch.params.get('stale')?.toLowerCase() === 'true';
      if (!hadAuth || stale) {
        this.auth = new Authenticator(this.user, this.password ?? '', ch);
        res = await this.send(method, url, headers);
      }
      if (res.status === 401) throw new RtspError('auth', `authentication failed for ${maskUrl(url)} (wrong user or password?)`, 401);
    }
    if (res.status === 551 && headers.Require && this.requireReplay) {
      // Some servers refuse `Require: onvif-replay` yet replay (DESIGN.md §4): once without it,
      // accepted only if frame times prove the asked range (see checkRange).
      this.requireReplay = false;
      this.o.log?.(`${method}: 551 to Require: onvif-replay; trying once without it`);
      const { Require: _dropped, ...rest } = headers;
      return this.request(method, url, rest);
    }
    if (res.status === 551) {
      throw new RtspError(
        'unsupported',
        `${method} ${maskUrl(url)}: server does not support ONVIF replay (551 ${res.reason}${res.headers.get('unsupported') ? `; Unsupported: ${res.headers.get('unsupported')}` : ''})`,
        551,
      );
    }
    if (res.status === 461) throw new RtspError('unsupported', `${method} ${maskUrl(url)}: server refuses RTP over TCP (461 ${res.reason})`, 461);
    if (res.status === 429 || res.status === 453 || res.status === 503) {
      throw new RtspError('busy', `${method} ${maskUrl(url)}: the NVR has no replay session free (${res.status} ${res.reason})`, res.status);
    }
    if (res.status === 403) throw new RtspError('auth', `${method} ${maskUrl(url)}: access denied (403 ${res.reason})`, 403);
    if (res.status >= 400 && res.status < 500) {
      throw new RtspError('permanent', `${method} ${maskUrl(url)} refused: ${res.status} ${res.reason} (the same request would fail again)`, res.status);
    }
    if (res.status < 200 || res.status >= 300) throw new RtspError('status', `${method} ${maskUrl(url)} failed: ${res.status} ${res.reason}`, res.status);
    return res;
  }

  private onMessage(m: RtspMessage): void {
    if (m.status === 0) {
      // A request from the server (ANNOUNCE, GET_PARAMETER…): say we do not implement it.
      const cseq = m.headers.get('cseq') ?? '0';
      this.sock?.write(`RTSP/1.0 501 Not Implemented\r\nCSeq: ${cseq}\r\n\r\n`);
      return;
    }
    const cseq = Number(m.headers.get('cseq'));
    const p = this.pending.get(cseq);
    if (!p) return; // late reply to a timed-out request
    this.pending.delete(cseq);
    clearTimeout(p.timer);
    p.resolve(m);
  }

  private keepAlive(url: string): void {
    if (this.settled || this.ending || !this.sessionId) return;
    const method = this.useOptionsForKeepAlive ? 'OPTIONS' : 'GET_PARAMETER';
    this.request(method, url, { Session: this.sessionId }).catch((e: unknown) => {
      if (e instanceof RtspError && (e.status === 405 || e.status === 501)) this.useOptionsForKeepAlive = true;
      else this.o.log?.(`keep-alive ${method}: ${errorMessage(e)}`);
    });
  }

  private checkIdle(): void {
    if (this.settled || this.ending || !this.playing || this.paused || this.pumping) return;
    const quiet = Date.now() - this.lastDataAt;
    if (this.terminalSeen && quiet > this.t.endGraceMs) return this.end('quiet-after-terminal');
    if (quiet > this.t.idleMs) {
      this.fail(new RtspError('idle', `no data from the server for ${Math.round(quiet / 1000)} s (idle timeout)`));
    }
  }

  private onData(channel: number, payload: Buffer): void {
    if (this.settled || this.ending) return;
    if (channel === this.rtcpChannel) {
      const sr = rtcpSenderReport(payload);
      if (sr && (!this.rtpBase || this.rtpBase.source !== 'rtcp-sr')) this.rtpBase = { rtp: sr.rtpTimestamp, ms: sr.ntpMs, source: 'rtcp-sr' };
      if (rtcpHasBye(payload)) {
        this.completeFrame();
        this.end('bye');
      }
      return;
    }
    if (channel !== this.rtpChannel || !this.depack || !this.track) return;
    // Only media proves progress: a server trickling RTCP alone would otherwise hold the replay
    // (and one of the NVR's few sessions) forever.
    this.lastDataAt = Date.now();
    let pkt: ReturnType<typeof parseRtp>;
    try {
      pkt = parseRtp(payload);
    } catch {
      this.dropped++;
      return;
    }
    if (pkt.payloadType !== this.track.payloadType) return;
    if (this.expectedSeq >= 0 && pkt.seq !== this.expectedSeq) {
      // Lost packets: the frame in progress (and maybe the next) is incomplete.
      if (this.cur) this.cur.damaged = true;
      this.needKey = true;
      if (this.cur && this.cur.ts !== pkt.timestamp) {
        this.completeFrame();
        this.cur = { ts: pkt.timestamp, onvif: pkt.onvif, damaged: true, bytes: 0 };
      }
    }
    this.expectedSeq = (pkt.seq + 1) & 0xffff;
    if (this.cur && this.cur.ts !== pkt.timestamp) this.completeFrame(); // marker lost or absent
    if (!this.cur) this.cur = { ts: pkt.timestamp, onvif: pkt.onvif, damaged: false, bytes: 0 };
    this.cur.onvif ??= pkt.onvif;
    this.cur.bytes += pkt.payload.length;
    if (!this.cur.damaged && this.cur.bytes > MAX_FRAME_BYTES) {
      this.cur.damaged = true;
      this.depack.reset(); // frees what was collected; the rest of this frame is ignored
    }
    if (!this.cur.damaged) {
      try {
        this.depack.push(pkt.payload);
      } catch {
        this.cur.damaged = true;
      }
    }
    if (pkt.marker) this.completeFrame();
  }

  private completeFrame(): void {
    const f = this.cur;
    const depack = this.depack;
    this.cur = undefined;
    if (!f || !depack) return;
    let au: ReturnType<Depacketizer['finish']> = null;
    if (f.damaged) depack.reset();
    else {
      try {
        au = depack.finish();
      } catch {
        depack.reset();
      }
    }
    // Unwrap the 32-bit timestamp: frames are in order, steps are small.
    if (this.lastTs < 0) this.extTs = f.ts;
    else this.extTs += (f.ts - this.lastTs) | 0;
    this.lastTs = f.ts;
    if (this.firstExtTs < 0) this.firstExtTs = this.extTs;
    if (f.onvif?.terminal) this.terminalSeen = true;
    if (!au) {
      this.dropped++;
      this.needKey = true;
      return;
    }
    const keyframe = au.keyframe || !!f.onvif?.clean;
    if (this.needKey && !keyframe) {
      this.dropped++;
      return;
    }
    this.needKey = false;
    const clock = this.track?.clockRate ?? 90000;
    const ms = f.onvif ? f.onvif.timeMs : this.wallTime(f.ts, clock);
    this.timeSource ??= f.onvif ? 'onvif-extension' : (this.rtpBase?.source ?? 'range-start');
    if (!this.checkRange(ms, !!f.onvif)) return;
    this.firstFrameMs ??= ms;
    if (ms >= this.o.to.getTime()) {
      // Past the range end: the server goes on, we are done.
      this.end('range-end');
      return;
    }
    this.lastFrameMs = ms;
    const frame: ReplayFrame = {
      ntpTime: new Date(ms),
      rtpTimestamp: this.extTs,
      keyframe,
      flags: { clean: keyframe, end: !!f.onvif?.end, discontinuity: !!f.onvif?.discontinuity, terminal: !!f.onvif?.terminal },
      data: au.data,
    };
    this.queue.push(frame);
    this.queuedBytes += au.data.length;
    if (!this.paused && (this.queuedBytes > HIGH_WATER_BYTES || this.queue.length > HIGH_WATER_FRAMES)) {
      this.paused = true;
      this.sock?.pause();
    }
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.queue.length > 0 && !this.settled) {
      const f = this.queue.shift() as ReplayFrame;
      this.queuedBytes -= f.data.length;
      try {
        const r = this.o.onFrame(f);
        if (r) await r;
      } catch (e) {
        this.pumping = false;
        this.fail(asError(e));
        return;
      }
      this.frames++;
      this.bytes += f.data.length;
    }
    this.pumping = false;
    this.lastDataAt = Date.now(); // time spent waiting on the consumer is not server idleness
    if (this.paused && !this.settled) {
      this.paused = false;
      this.sock?.resume();
    }
    if (this.ending && !this.settled) void this.finish();
  }

  private end(reason: ReplayEndReason): void {
    if (this.ending || this.settled) return;
    this.ending = reason;
    if (this.paused) {
      // Keep reading so the TEARDOWN reply can arrive; data is ignored from now on.
      this.paused = false;
      this.sock?.resume();
    }
    if (!this.pumping) void this.finish();
  }

  private async finish(): Promise<void> {
    if (this.settled || this.finishing) return;
    this.finishing = true;
    if (this.sessionId && this.sock && !this.sock.destroyed) {
      try {
        await Promise.race([
          this.send('TEARDOWN', resolveControl(this.url, undefined), { Session: this.sessionId }),
          new Promise((r) => setTimeout(r, 2000).unref()),
        ]);
      } catch {
        // the server may already have closed: the replay itself is complete
      }
    }
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    if (!this.track) return this.rejectRun(new RtspError('protocol', 'stream ended before DESCRIBE'));
    this.resolveRun({
      track: this.track,
      frames: this.frames,
      bytes: this.bytes,
      droppedFrames: this.dropped,
      endReason: this.ending ?? 'bye',
      wallMs: Date.now() - this.startedAt,
      serverRateControl: this.serverRateControl,
      ...this.speed(),
      withoutOnvifReplay: this.requireReplay ? undefined : true,
      timeSource: this.timeSource,
    });
  }

  // --- Real-device replay behaviours (DESIGN.md §4, issue #9): 551 to Require, no 0xABAC, Rate-Control ignored ---
  private requireReplay = true;
  private playAt = 0;
  private firstFrameMs?: number;
  private timeSource?: ReplayStats['timeSource'];
  private rtpBase?: { rtp: number; ms: number; source: 'rtcp-sr' | 'rtp-info' };
  private rangeChecked = false;

  private requireHeader(): Record<string, string> {
    return this.requireReplay ? { Require: 'onvif-replay' } : {};
  }

  /** RTP-Info rtptime + the PLAY reply's Range start: the wall time of that RTP timestamp. */
  private noteRtpInfo(rtpInfo: string | undefined, range: string | undefined): void {
    const m = /rtptime=(\d+)/i.exec(rtpInfo ?? '');
    const start = range ? parseClockRange(range)?.from : undefined;
    if (m && start && !this.rtpBase) this.rtpBase = { rtp: Number(m[1]) >>> 0, ms: start.getTime(), source: 'rtp-info' };
  }

  /** Wall time of an RTP timestamp without the 0xABAC extension: sender report / RTP-Info, else the asked start. */
  private wallTime(ts: number, clock: number): number {
    if (this.rtpBase) return Math.round(this.rtpBase.ms + (((ts - this.rtpBase.rtp) | 0) * 1000) / clock);
    return this.o.from.getTime() + ((this.extTs - this.firstExtTs) * 1000) / clock;
  }

  /**
   * Without `Require: onvif-replay` a server may stream live or from the recording start: accept the
   * first frame only if its time is known (0xABAC, RTCP SR, RTP-Info) and inside the asked range.
   */
  private checkRange(ms: number, fromExtension: boolean): boolean {
    if (this.requireReplay || this.rangeChecked) return true;
    this.rangeChecked = true;
    const proven = fromExtension || this.rtpBase !== undefined;
    const slackMs = 60_000; // a start at an earlier keyframe
    if (proven && ms >= this.o.from.getTime() - slackMs && ms < this.o.to.getTime()) return true;
    this.fail(
      new RtspError(
        'permanent',
        proven
          ? `the server refused onvif-replay (551) and, without it, streamed ${new Date(ms).toISOString()} instead of the asked range (live or the recording start)`
          : 'the server refused onvif-replay (551) and its stream carries no frame times: cannot prove the asked range came back',
        551,
      ),
    );
    return false;
  }

  private speed(): Pick<ReplayStats, 'speedX' | 'rateControlHonoured'> {
    if (this.firstFrameMs === undefined || this.lastFrameMs < 0 || !this.playAt) return {};
    const mediaMs = this.lastFrameMs - this.firstFrameMs;
    const wall = Math.max(1, Date.now() - this.playAt);
    const speedX = mediaMs / wall;
    // Only a few seconds of media tell real time from fast; below that, say nothing.
    const rateControlHonoured = this.o.rateControl || mediaMs < 2000 ? undefined : speedX > 1.5;
    return { speedX: Math.round(speedX * 100) / 100, rateControlHonoured };
  }

  private finishing = false;

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.rejectRun(err);
  }

  private cleanup(): void {
    for (const t of this.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers = [];
    this.cleanupAbort();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RtspError('aborted', 'session closed'));
    }
    this.pending.clear();
    this.queue = [];
    this.sock?.destroy();
  }
}
