// ONVIF replay client (Streaming spec §6): DESCRIBE/SETUP/PLAY with `Require: onvif-replay` over
// one TCP connection, RTP interleaved on it; frames are reassembled and handed to an async
// consumer. Three parts, wired here: the connection (connection.ts: requests, auth, keep-alive,
// channels), the frame assembler (frame-assembler.ts: packets → frames, no socket) and a bounded
// queue (frame-queue.ts) whose backpressure pauses the socket, so memory stays bounded whatever
// the length. The stream ends at RTCP BYE (draining to BYE keeps the last frame), when frames
// pass the range end, or — after the terminal frame — when the server goes quiet. Frame times, not
// the server's manners, decide whether a replay is complete: a connection reset, closed or gone
// quiet once the frames reach the asked end (within the coverage tolerance) ends it as complete;
// before that it is an error, after what arrived was handed out. This file owns the session's
// life (one state, transitions checked) and its timers.
import { RtspConnection } from './connection';
import { FrameAssembler, type ReplayFrame, type TimeSource } from './frame-assembler';
import { FrameQueue } from './frame-queue';
import { parseSdp, resolveControl, type VideoTrack } from './sdp';
import { clockRange } from './clock';
import { maskUrl, parseRtspUrl } from './url';
import { RtspError } from './errors';
import { errorMessage, asError } from '../errors';
import type { Credentials } from '../credentials';
import type { RequestedRange } from '../time/range';

export { MAX_FRAME_BYTES, type ReplayFrame } from './frame-assembler';

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

export interface ReplayOptions extends Partial<Credentials>, RequestedRange {
  url: string;
  /** true = ask for real-time pacing (`Rate-Control: yes`); default false = as fast as possible. */
  rateControl?: boolean;
  timeouts?: ReplayTimeouts;
  signal?: AbortSignal;
  /**
   * Frames reaching this close to `to` cover the asked range: a connection that is then reset,
   * closed or silent ends the replay as complete. Default 2 s, the sync runner's default
   * `coverageToleranceSec` (it passes its own), so "complete" here is "no hole" there.
   */
  coverageToleranceMs?: number;
  /** Called once after DESCRIBE with the video track. */
  onTrack?(track: VideoTrack): void | Promise<void>;
  /** Called per frame in order; a returned promise is awaited before the next frame (backpressure). */
  onFrame(frame: ReplayFrame): void | Promise<void>;
  log?(message: string): void;
}

/**
 * 'closed-after-range': the connection was reset or closed once the frames covered the range;
 * 'quiet-after-range': the server went quiet then (no T flag, no BYE).
 */
export type ReplayEndReason = 'bye' | 'range-end' | 'quiet-after-terminal' | 'closed-after-range' | 'quiet-after-range';

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
  timeSource?: TimeSource;
}

// Frames queued for the consumer before the socket is paused. Small on purpose: a longer queue
// does not add speed (measured) but keeps more objects alive at each GC, which makes V8 grow
// its young generation (peak RSS).
const HIGH_WATER_BYTES = 1024 * 1024;
const HIGH_WATER_FRAMES = 8;
/**
 * How long TEARDOWN may take before the finished replay is reported anyway. Short: the replay is
 * already complete, and servers that close or reset instead of answering are common. Public
 * reports (issue F): rtsp-simple-server ≤ 0.12.2 closed the connection on TEARDOWN without a reply
 * (github.com/bluenviron/mediamtx/issues/151); an MRCP server never answering TEARDOWN
 * (github.com/unispeech/unimrcp/issues/125); Reolink cameras on live555 older than 2017.06.04
 * mishandle RTP/TCP session ends (github.com/scottlamb/retina/issues/17) and cameras reset RTSP
 * connections ("Connection reset by peer (os error 104)", github.com/scottlamb/retina/issues/34);
 * a Dahua-style NVR playback session (/cam/playback?…starttime…endtime) reset by the device
 * ("connection reset by peer", github.com/ZLMediaKit/ZLMediaKit/issues/3632).
 */
const TEARDOWN_WAIT_MS = 2000;
/** The last frame's end this close to the asked end is all of it (millisecond rounding of frame times). */
const FULLY_COVERED_SLACK_MS = 50;
/** Default of ReplayOptions.coverageToleranceMs; the sync runner's default coverageToleranceSec is derived from it. */
export const DEFAULT_COVERAGE_TOLERANCE_MS = 2000;

export function replay(o: ReplayOptions): Promise<ReplayStats> {
  return new ReplaySession(o).run();
}

/**
 * The life of one replay. Media is handled in described, set-up and playing (a server may send
 * before its PLAY reply); `ending` delivers what is queued, `closing` waits for TEARDOWN.
 */
type SessionState = 'connecting' | 'described' | 'set-up' | 'playing' | 'ending' | 'closing' | 'ended' | 'failed';

const NEXT: Record<SessionState, readonly SessionState[]> = {
  connecting: ['described', 'failed'],
  described: ['set-up', 'ending', 'failed'],
  'set-up': ['playing', 'ending', 'failed'],
  playing: ['ending', 'failed'],
  ending: ['closing', 'failed'],
  closing: ['ended', 'failed'],
  ended: [],
  failed: [],
};

class ReplaySession {
  private readonly url: string;
  private readonly t: Required<ReplayTimeouts>;
  private readonly conn: RtspConnection;
  private readonly queue: FrameQueue<ReplayFrame>;
  private state: SessionState = 'connecting';
  private endReason: ReplayEndReason = 'bye';
  private assembler?: FrameAssembler;
  private track?: VideoTrack;
  private sessionId?: string;
  /** Sent `Require: onvif-replay` until the server refused it with 551 (DESIGN.md §4). */
  private requireReplay = true;
  private resolveRun!: (s: ReplayStats) => void;
  private rejectRun!: (e: Error) => void;
  private timers: NodeJS.Timeout[] = [];
  private cleanupAbort = (): void => undefined;
  private readonly startedAt = Date.now();
  private playAt = 0;
  private lastMediaAt = Date.now();
  private serverRateControl?: string;
  /** The connection broke before the frames covered the range: the replay fails with this once
   * what arrived has been handed to the consumer. */
  private lostWith?: Error;

  constructor(private readonly o: ReplayOptions) {
    const u = parseRtspUrl(o.url);
    this.url = u.url;
    const t = o.timeouts ?? {};
    this.t = {
      connectMs: t.connectMs ?? 10_000,
      responseMs: t.responseMs ?? 10_000,
      idleMs: t.idleMs ?? 20_000,
      endGraceMs: t.endGraceMs ?? 3_000,
      slackMs: t.slackMs ?? 60_000,
      totalMs: replayDeadlineMs(o.from, o.to, t),
    };
    this.conn = new RtspConnection({
      host: u.host,
      port: u.port,
      user: o.user ?? u.user,
      password: o.password ?? u.password,
      allowBasicAuth: o.allowBasicAuth,
      connectMs: this.t.connectMs,
      responseMs: this.t.responseMs,
      log: o.log,
      onError: (e) => this.connectionLost(e),
      onClose: () => this.connectionLost(new RtspError('network', `RTSP connection to ${this.conn.endpoint} closed by the server`)),
    });
    this.queue = new FrameQueue<ReplayFrame>({
      consume: (f) => this.o.onFrame(f),
      maxFrames: HIGH_WATER_FRAMES,
      maxBytes: HIGH_WATER_BYTES,
      pause: () => this.conn.pause(),
      resume: () => this.conn.resume(),
      drained: () => {
        this.lastMediaAt = Date.now(); // time spent waiting on the consumer is not server idleness
        if (this.state === 'ending') void this.teardown();
      },
      failed: (e) => this.fail(asError(e)),
    });
  }

  run(): Promise<ReplayStats> {
    return new Promise<ReplayStats>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
      const sig = this.o.signal;
      if (sig?.aborted) return this.fail(new RtspError('aborted', 'replay aborted'));
      // Waiting for the TEARDOWN answer, the replay is complete: stopping now loses nothing.
      const onAbort = () => (this.isIn('closing') ? this.finish() : this.fail(new RtspError('aborted', 'replay aborted')));
      sig?.addEventListener('abort', onAbort, { once: true });
      this.cleanupAbort = () => sig?.removeEventListener('abort', onAbort);
      this.timers.push(
        setTimeout(() => {
          // Waiting for the TEARDOWN answer: the replay is over, its end already decided.
          if (this.isIn('closing')) return void this.finish();
          this.fail(
            new RtspError(
              'timeout',
              `replay deadline: not finished within ${Math.round(this.t.totalMs / 1000)} s (range length at real-time speed plus slack)`,
            ),
          );
        }, this.t.totalMs),
      );
      this.start().catch((e: unknown) => this.fail(asError(e)));
    });
  }

  private move(to: SessionState): void {
    if (!NEXT[this.state].includes(to)) throw new Error(`replay session: no move from ${this.state} to ${to}`);
    this.state = to;
  }

  // A method, not a comparison: TypeScript would keep `state` narrowed across awaits and moves.
  private isIn(s: SessionState): boolean {
    return this.state === s;
  }

  /** DESCRIBE done and no end yet: media counts. */
  private inStream(): boolean {
    return this.state === 'described' || this.state === 'set-up' || this.state === 'playing';
  }

  private async start(): Promise<void> {
    await this.conn.connect();
    if (!this.isIn('connecting')) return;
    const describe = await this.request('DESCRIBE', this.url, { Accept: 'application/sdp', ...this.requireHeader() });
    if (!this.isIn('connecting')) return;
    const base = describe.headers.get('content-base') ?? describe.headers.get('content-location') ?? this.url;
    let track: VideoTrack;
    try {
      track = parseSdp(describe.body.toString('utf8'), base);
      this.assembler = new FrameAssembler(
        track,
        { from: this.o.from, to: this.o.to, mustProveRange: !this.requireReplay },
        {
          frame: (f) => this.queue.push(f),
          end: (reason) => this.end(reason),
          fail: (e) => this.fail(e),
        },
      );
    } catch (e) {
      // The server's SDP is the problem: say so with the kind callers sort errors by.
      throw new RtspError('protocol', `DESCRIBE ${maskUrl(this.url)}: unusable SDP: ${errorMessage(e)}`);
    }
    this.track = track;
    this.move('described');
    this.listen(0, 1);
    await this.o.onTrack?.(track);
    if (!this.isIn('described')) return;
    const setup = await this.request('SETUP', track.controlUrl, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', ...this.requireHeader() });
    if (!this.isIn('described')) return;
    const sess = setup.headers.get('session');
    if (!sess) throw new RtspError('protocol', 'SETUP reply has no Session header');
    this.sessionId = sess.split(';')[0].trim();
    const tm = /timeout=(\d+)/i.exec(sess);
    const sessionTimeoutSec = tm ? Math.max(1, Number(tm[1])) : 60;
    const il = /interleaved=(\d+)(?:-(\d+))?/.exec(setup.headers.get('transport') ?? '');
    if (il) this.listen(Number(il[1]), il[2] !== undefined ? Number(il[2]) : Number(il[1]) + 1);
    this.move('set-up');
    const playUrl = resolveControl(base, undefined);
    this.move('playing');
    this.lastMediaAt = Date.now();
    const play = await this.request('PLAY', playUrl, {
      Session: this.sessionId,
      ...this.requireHeader(),
      Range: clockRange(this.o.from, this.o.to),
      'Rate-Control': this.o.rateControl ? 'yes' : 'no',
    });
    if (!this.isIn('playing')) return;
    this.playAt = Date.now();
    this.serverRateControl = play.headers.get('rate-control');
    this.assembler.playReply(play.headers.get('rtp-info'), play.headers.get('range'));
    this.conn.startKeepAlive(playUrl, this.sessionId, sessionTimeoutSec);
    this.timers.push(setInterval(() => this.checkIdle(), Math.min(250, this.t.idleMs / 4)));
  }

  /** Routes the RTP and RTCP channels to the assembler (the server's SETUP reply may move them). */
  private listen(rtpChannel: number, rtcpChannel: number): void {
    const a = this.assembler;
    if (!a) return;
    this.conn.listen(0, undefined);
    this.conn.listen(1, undefined);
    this.conn.listen(rtpChannel, (p) => {
      if (!this.inStream()) return;
      // Only media proves progress: a server trickling RTCP alone would otherwise hold the replay
      // (and one of the NVR's few sessions) forever.
      this.lastMediaAt = Date.now();
      a.rtp(p);
    });
    this.conn.listen(rtcpChannel, (p) => {
      if (this.inStream()) a.rtcp(p);
    });
  }

  /** A request; a 551 to `Require: onvif-replay` is tried once without it (DESIGN.md §4). */
  private async request(method: string, url: string, headers: Record<string, string>) {
    try {
      return await this.conn.request(method, url, headers);
    } catch (e) {
      if (!(e instanceof RtspError && e.status === 551 && headers.Require && this.requireReplay)) throw e;
      // Some servers refuse `Require: onvif-replay` yet replay: accepted only if frame times prove
      // the asked range (FrameAssembler's range proof).
      this.requireReplay = false;
      this.assembler?.requireRangeProof();
      this.o.log?.(`${method}: 551 to Require: onvif-replay; trying once without it`);
      const { Require: _dropped, ...rest } = headers;
      return this.conn.request(method, url, rest);
    }
  }

  private requireHeader(): Record<string, string> {
    return this.requireReplay ? { Require: 'onvif-replay' } : {};
  }

  /** The frames handed out reach the asked end, within `slackMs` (default: the coverage tolerance). */
  private covered(slackMs = this.o.coverageToleranceMs ?? DEFAULT_COVERAGE_TOLERANCE_MS): boolean {
    const until = this.assembler?.coveredUntilMs;
    return until !== undefined && until >= this.o.to.getTime() - slackMs;
  }

  /**
   * The socket broke (reset, EPIPE, unparsable data) or the server closed it. Before DESCRIBE it
   * is the error. While streaming, the frame times decide: covering the range, the replay is
   * complete (NVR firmwares reset or close right after the last packet instead of BYE: see
   * TEARDOWN_WAIT_MS for the public reports);
   * short of it, the error stands — after the frames already queued reach the consumer, so the
   * caller keeps all that arrived. Once the end was decided (ending, closing), it changes nothing:
   * it only cuts the TEARDOWN short.
   */
  private connectionLost(err: Error): void {
    if (this.state === 'ended' || this.state === 'failed') return;
    if (this.isIn('connecting')) return this.fail(err);
    if (!this.inStream()) {
      this.o.log?.(`after the end of the replay: ${errorMessage(err)} (ignored)`);
      return;
    }
    if (this.covered()) {
      this.o.log?.(`${errorMessage(err)} after the frames covered the asked range: the replay is complete`);
      return this.end('closed-after-range');
    }
    this.lostWith = err;
    this.end('closed-after-range');
  }

  private checkIdle(): void {
    if (this.state !== 'playing' || this.queue.busy) return;
    const quiet = Date.now() - this.lastMediaAt;
    if (this.assembler?.terminalSeen && quiet > this.t.endGraceMs) return this.end('quiet-after-terminal');
    // Quiet with the frames right up to the end (no T flag, no BYE): done after the end grace. Quiet
    // with them only within the tolerance might be a pause before the last frames: wait the idle time.
    if (quiet > (this.covered(FULLY_COVERED_SLACK_MS) ? this.t.endGraceMs : this.t.idleMs) && this.covered()) {
      this.o.log?.(`no data for ${Math.round(quiet / 1000)} s after the frames covered the asked range (no BYE, no T flag): the replay is complete`);
      return this.end('quiet-after-range');
    }
    if (quiet > this.t.idleMs) {
      this.fail(new RtspError('idle', `no data from the server for ${Math.round(quiet / 1000)} s (idle timeout)`));
    }
  }

  private end(reason: ReplayEndReason): void {
    if (!this.inStream()) return;
    this.endReason = reason;
    this.move('ending');
    this.conn.stopKeepAlive();
    // Keep reading so the TEARDOWN reply can arrive; data is ignored from now on.
    this.queue.release();
    if (!this.queue.busy) void this.teardown();
  }

  private async teardown(): Promise<void> {
    if (!this.isIn('ending')) return;
    if (this.lostWith) return this.fail(this.lostWith); // what arrived is with the consumer now
    this.move('closing');
    if (this.sessionId && this.conn.open) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const answer = await Promise.race([
          this.conn.send('TEARDOWN', resolveControl(this.url, undefined), { Session: this.sessionId }),
          new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), TEARDOWN_WAIT_MS))),
        ]);
        if (!answer) this.o.log?.(`TEARDOWN: no answer within ${TEARDOWN_WAIT_MS} ms (ignored: the replay is complete)`);
      } catch (e) {
        // Reset or closed instead of an answer: the replay itself is complete.
        this.o.log?.(`TEARDOWN: ${errorMessage(e)} (ignored: the replay is complete)`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.finish();
  }

  /** The end is decided and TEARDOWN done (or given up): report the replay. */
  private finish(): void {
    if (!this.isIn('closing')) return;
    const track = this.track;
    if (!track) return this.fail(new RtspError('protocol', 'stream ended before DESCRIBE'));
    this.move('ended');
    this.cleanup();
    this.resolveRun({
      track,
      frames: this.queue.delivered.frames,
      bytes: this.queue.delivered.bytes,
      droppedFrames: this.assembler?.dropped ?? 0,
      endReason: this.endReason,
      wallMs: Date.now() - this.startedAt,
      serverRateControl: this.serverRateControl,
      ...this.speed(),
      withoutOnvifReplay: this.requireReplay ? undefined : true,
      timeSource: this.assembler?.timeSource,
    });
  }

  private speed(): Pick<ReplayStats, 'speedX' | 'rateControlHonoured'> {
    const first = this.assembler?.firstFrameMs;
    const last = this.assembler?.lastFrameMs;
    if (first === undefined || last === undefined || !this.playAt) return {};
    const mediaMs = last - first;
    const wall = Math.max(1, Date.now() - this.playAt);
    const speedX = mediaMs / wall;
    // Only a few seconds of media tell real time from fast; below that, say nothing.
    const rateControlHonoured = this.o.rateControl || mediaMs < 2000 ? undefined : speedX > 1.5;
    return { speedX: Math.round(speedX * 100) / 100, rateControlHonoured };
  }

  private fail(err: Error): void {
    if (this.state === 'ended' || this.state === 'failed') return;
    this.move('failed');
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
    this.queue.close();
    this.conn.close();
  }
}
