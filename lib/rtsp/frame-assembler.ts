// RTP/RTCP packets of one video track → frames with wall-clock times, without a socket or a timer:
// fed the payloads of the interleaved channels as byte buffers, it depacketizes (depacketize.ts:
// SDP parameter sets put before keyframes that lack them), unwraps timestamps, maps them to wall
// time (the ONVIF 0xABAC extension, else an RTCP sender report, else RTP-Info + the PLAY Range,
// else the asked start), drops damaged frames and waits for a keyframe after loss, and says why
// the stream ended (RTCP BYE, a frame past the range end). Waiting for BYE after the terminal (T)
// frame is a matter of time, so it is the session's: it reads `terminalSeen`.
import { parseRtp, rtcpHasBye, rtcpSenderReport, type OnvifExtension } from './rtp';
import { createDepacketizer, type AccessUnit, type Depacketizer } from './depacketize';
import { parseClockRange } from './clock';
import { RtspError } from './errors';
import type { VideoTrack } from './sdp';
import type { RequestedRange } from '../time/range';

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

export type TimeSource = 'onvif-extension' | 'rtcp-sr' | 'rtp-info' | 'range-start';

/** Why the assembler stopped on its own ('quiet-after-terminal' needs a clock: the session's). */
export type AssemblerEnd = 'bye' | 'range-end';

export interface AssemblerOutput {
  /** A complete frame, in order. */
  frame(f: ReplayFrame): void;
  /** The stream is over; frames already given stay valid. Nothing follows. */
  end(reason: AssemblerEnd): void;
  /** The stream cannot be used (range not proven, see FrameAssembler.mustProveRange). Nothing follows. */
  fail(err: RtspError): void;
}

export interface FrameAssemblerOptions extends RequestedRange {
  /** The server refused `Require: onvif-replay`: the first frame must prove it is inside the range. */
  mustProveRange?: boolean;
}

// One frame larger than this is dropped instead of collected: a server that never ends a frame
// (no marker, same timestamp) must not grow memory without bound. 4K intra frames stay far below.
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

// A first frame this much before the asked start is still the asked range (a start at an earlier keyframe).
const RANGE_PROOF_SLACK_MS = 60_000;

// Frames further apart than this are on two sides of a gap: the step says nothing of a frame's
// duration (1 fps cameras stay inside it).
const MAX_FRAME_STEP_MS = 1000;

interface FrameInProgress {
  ts: number;
  onvif?: OnvifExtension;
  damaged: boolean;
  /** Payload bytes handed to the depacketizer so far. */
  bytes: number;
}

export class FrameAssembler {
  /** Frames dropped because packets were missing or malformed. */
  dropped = 0;
  /** A frame with the ONVIF T flag went by: the server has nothing after it. */
  terminalSeen = false;
  timeSource?: TimeSource;
  /** Wall times of the first and last frame given out. */
  firstFrameMs?: number;
  lastFrameMs?: number;
  /** Wall-time step between the last two frames given out (the last frame's expected duration). */
  private lastStepMs = 0;
  private mustProveRange: boolean;
  private done = false;
  private readonly depack: Depacketizer;
  private cur?: FrameInProgress;
  private expectedSeq = -1;
  private needKey = true;
  private lastTs = -1;
  private extTs = 0;
  private firstExtTs = -1;
  private rtpBase?: { rtp: number; ms: number; source: 'rtcp-sr' | 'rtp-info' };
  private rangeChecked = false;

  /** Throws when the track's codec cannot be depacketized. */
  constructor(
    private readonly track: VideoTrack,
    private readonly o: FrameAssemblerOptions,
    private readonly out: AssemblerOutput,
  ) {
    this.depack = createDepacketizer(track);
    this.mustProveRange = !!o.mustProveRange;
  }

  /** True once end() or fail() was given: later packets are ignored. */
  get finished(): boolean {
    return this.done;
  }

  /**
   * Where the frames given out end: the last frame's time plus its expected duration (the step
   * before it; nothing across a gap). What the written file will cover, by frame times.
   */
  get coveredUntilMs(): number | undefined {
    return this.lastFrameMs === undefined ? undefined : this.lastFrameMs + this.lastStepMs;
  }

  /** The server refused `Require: onvif-replay` after this assembler was made (at SETUP or PLAY). */
  requireRangeProof(): void {
    this.mustProveRange = true;
  }

  /** RTP-Info rtptime + the PLAY reply's Range start: the wall time of that RTP timestamp. */
  playReply(rtpInfo: string | undefined, range: string | undefined): void {
    const m = /rtptime=(\d+)/i.exec(rtpInfo ?? '');
    const start = range ? parseClockRange(range)?.from : undefined;
    if (m && start && !this.rtpBase) this.rtpBase = { rtp: Number(m[1]) >>> 0, ms: start.getTime(), source: 'rtp-info' };
  }

  /** One RTCP compound packet: a sender report anchors wall time; BYE ends the stream. */
  rtcp(payload: Buffer): void {
    if (this.done) return;
    const sr = rtcpSenderReport(payload);
    if (sr && (!this.rtpBase || this.rtpBase.source !== 'rtcp-sr')) this.rtpBase = { rtp: sr.rtpTimestamp, ms: sr.ntpMs, source: 'rtcp-sr' };
    if (rtcpHasBye(payload)) {
      this.completeFrame();
      this.stop('bye');
    }
  }

  /** One RTP packet of the video channel. */
  rtp(payload: Buffer): void {
    if (this.done) return;
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
    if (this.done) return;
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

  private stop(reason: AssemblerEnd): void {
    if (this.done) return;
    this.done = true;
    this.out.end(reason);
  }

  private completeFrame(): void {
    const f = this.cur;
    this.cur = undefined;
    if (!f || this.done) return;
    let au: AccessUnit | null = null;
    if (f.damaged) this.depack.reset();
    else {
      try {
        au = this.depack.finish();
      } catch {
        this.depack.reset();
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
    const ms = f.onvif ? f.onvif.timeMs : this.wallTime(f.ts, this.track.clockRate ?? 90000);
    this.timeSource ??= f.onvif ? 'onvif-extension' : (this.rtpBase?.source ?? 'range-start');
    if (!this.checkRange(ms, !!f.onvif)) return;
    this.firstFrameMs ??= ms;
    if (ms >= this.o.to.getTime()) {
      // Past the range end: the server goes on, we are done.
      this.stop('range-end');
      return;
    }
    const step = this.lastFrameMs === undefined ? 0 : ms - this.lastFrameMs;
    this.lastStepMs = step > 0 && step <= MAX_FRAME_STEP_MS ? step : 0;
    this.lastFrameMs = ms;
    this.out.frame({
      ntpTime: new Date(ms),
      rtpTimestamp: this.extTs,
      keyframe,
      flags: { clean: keyframe, end: !!f.onvif?.end, discontinuity: !!f.onvif?.discontinuity, terminal: !!f.onvif?.terminal },
      data: au.data,
    });
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
    if (!this.mustProveRange || this.rangeChecked) return true;
    this.rangeChecked = true;
    const proven = fromExtension || this.rtpBase !== undefined;
    if (proven && ms >= this.o.from.getTime() - RANGE_PROOF_SLACK_MS && ms < this.o.to.getTime()) return true;
    this.done = true;
    this.out.fail(
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
}
