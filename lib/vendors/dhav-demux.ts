// Dahua DHAV (.dav) → video frames. Our own reading of the public format (FFmpeg's libavformat/dhav.c
// documents it): each frame is a 24-byte header "DHAV", type (0xFD keyframe, 0xFC other video, 0xF0
// audio, 0xF1 auxiliary), subtype, channel, sub-number, frame number (u32 LE), total length (u32 LE,
// header to trailer), date (u32 LE: seconds, minutes, hours, day, month, year-2000 packed in 6/6/5/5/4/6
// bits, device-local wall clock), a 16-bit millisecond counter, extension length, checksum; then the
// extensions (0x81 carries the video codec and frame rate, 0x80/0x82 the picture size), the payload,
// and an 8-byte trailer "dhav" + total length. Some files start with a 1024-byte "DAHUA" header.
// Streaming: push bytes, take frames; memory holds at most one DHAV frame.
import { isKeyframe, guessCodec, type VendorVideoCodec } from './nal';

export interface DhavFrame {
  data: Buffer;
  keyframe: boolean;
  codec: VendorVideoCodec;
  /** Device-local wall clock of the frame, whole seconds, as UTC-read ms. */
  wallSecMs: number;
  /** 16-bit millisecond counter (wraps at 65536). */
  ms16: number;
  frameNumber: number;
  width?: number;
  height?: number;
  fps?: number;
}

export interface DhavDemuxStats {
  skippedBytes: number;
  resyncs: number;
  audioFrames: number;
  /** Frames whose trailer was missing or did not match (accepted, as FFmpeg does). */
  badTrailers: number;
  /** Video frames of a codec we do not write (MPEG-4, MJPEG) or unknown. */
  unsupported: number;
}

const HEADER = 24;
const MAX_FRAME = 16 << 20;
/** Codec byte of extension 0x81 (FFmpeg dhav.c): 2, 4, 8 H.264; 0x0C H.265; 1 MPEG-4; 3 MJPEG. */
const CODECS: Record<number, VendorVideoCodec> = { 2: 'H264', 4: 'H264', 8: 'H264', 0x0c: 'H265' };

export function dhavWallMs(date: number): number {
  const sec = date & 0x3f;
  const min = (date >>> 6) & 0x3f;
  const hour = (date >>> 12) & 0x1f;
  const day = (date >>> 17) & 0x1f;
  const month = (date >>> 22) & 0x0f;
  const year = ((date >>> 26) & 0x3f) + 2000;
  return Date.UTC(year, month - 1, day, hour, min, sec);
}

export function dhavDate(wallMs: number): number {
  const d = new Date(wallMs);
  return (
    ((((d.getUTCFullYear() - 2000) & 0x3f) << 26) |
      ((d.getUTCMonth() + 1) << 22) |
      (d.getUTCDate() << 17) |
      (d.getUTCHours() << 12) |
      (d.getUTCMinutes() << 6) |
      d.getUTCSeconds()) >>>
    0
  );
}

export class DhavDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes `buf` must hold before parsing can make progress. */
  private need = 0;
  private codec?: VendorVideoCodec;
  private codecByte?: number;
  private width?: number;
  private height?: number;
  private fps?: number;
  readonly stats: DhavDemuxStats = { skippedBytes: 0, resyncs: 0, audioFrames: 0, badTrailers: 0, unsupported: 0 };
  private started = false;

  push(chunk: Uint8Array): DhavFrame[] {
    // While waiting for the rest of a unit, only collect: concatenating on every chunk would copy a
    // large unit over and over (quadratic in its size).
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingLen += chunk.byteLength;
    if (this.buf.length + this.pendingLen < this.need) return [];
    this.buf = Buffer.concat([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingLen = 0;
    this.need = 0;
    const b = this.buf;
    const out: DhavFrame[] = [];
    let p = 0;
    if (!this.started && b.length >= 5) {
      this.started = true;
      if (b.toString('latin1', 0, 5) === 'DAHUA') {
        // 1 KB file header of .dav files saved by Dahua tools; loadfile streams usually lack it.
        this.stats.skippedBytes += Math.min(1024, b.length);
        p = 1024;
      }
    }
    while (p + HEADER <= b.length) {
      if (!(b[p] === 0x44 && b[p + 1] === 0x48 && b[p + 2] === 0x41 && b[p + 3] === 0x56)) {
        const next = b.indexOf('DHAV', p + 1, 'latin1');
        const to = next < 0 ? Math.max(p, b.length - 3) : next;
        this.stats.skippedBytes += to - p;
        if (this.stats.skippedBytes > 0 && to > p) this.stats.resyncs++;
        p = to;
        if (next < 0) break;
        continue;
      }
      const len = b.readUInt32LE(p + 12);
      const extLen = b[p + 22];
      if (len < HEADER + extLen + 8 || len > MAX_FRAME) {
        // Not a real header (a "DHAV" inside a payload, or corrupt): look further.
        this.stats.resyncs++;
        this.stats.skippedBytes += 1;
        p += 1;
        continue;
      }
      if (p + len > b.length) {
        this.need = len;
        break;
      }
      const type = b[p + 4];
      const frame = b.subarray(p, p + len);
      p += len;
      if (frame.readUInt32LE(len - 4) !== len || frame.toString('latin1', len - 8, len - 4) !== 'dhav') this.stats.badTrailers++;
      if (type === 0xf0) {
        this.stats.audioFrames++;
        continue;
      }
      if (type !== 0xfd && type !== 0xfc && type !== 0xfb) continue; // 0xF1 auxiliary and others
      this.readExtensions(frame.subarray(HEADER, HEADER + extLen));
      const data = Buffer.from(frame.subarray(HEADER + extLen, len - 8));
      if (data.length === 0) continue;
      const codec = this.codec ?? (this.codecByte === undefined ? guessCodec(data) : undefined);
      if (!codec) {
        this.stats.unsupported++;
        continue;
      }
      out.push({
        data,
        // The frame type says keyframe; we also check the NAL types (a 0xFD without an IDR cannot start a file).
        keyframe: type === 0xfd && isKeyframe(data, codec),
        codec,
        wallSecMs: dhavWallMs(frame.readUInt32LE(16)),
        ms16: frame.readUInt16LE(20),
        frameNumber: frame.readUInt32LE(8),
        width: this.width,
        height: this.height,
        fps: this.fps,
      });
    }
    this.buf = b.subarray(p);
    if (this.buf.length < 65536 && p > 0) this.buf = Buffer.from(this.buf);
    return out;
  }

  private readExtensions(e: Buffer): void {
    let q = 0;
    while (q < e.length) {
      const t = e[q];
      const size = extSize(t);
      if (size === 0 || q + size > e.length) return; // unknown: FFmpeg skips the rest too
      if (t === 0x81) {
        this.codecByte = e[q + 2];
        this.codec = CODECS[e[q + 2]];
        if (e[q + 3]) this.fps = e[q + 3];
      } else if (t === 0x80) {
        this.width = 8 * e[q + 2];
        this.height = 8 * e[q + 3];
      } else if (t === 0x82) {
        this.width = e.readUInt16LE(q + 4);
        this.height = e.readUInt16LE(q + 6);
      }
      q += size;
    }
  }
}

/** Sizes of the extension records FFmpeg's dhav.c knows. */
function extSize(t: number): number {
  switch (t) {
    case 0x80:
    case 0x81:
    case 0x83:
    case 0x84:
    case 0x85:
    case 0x8b:
    case 0x94:
    case 0x96:
    case 0xa0:
    case 0xb2:
    case 0xb4:
      return 4;
    case 0x82:
    case 0x88:
    case 0x8c:
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x95:
    case 0x9a:
    case 0x9b:
    case 0xb3:
      return 8;
    default:
      return 0;
  }
}

/**
 * Frame times from DHAV's whole-second wall clock and 16-bit millisecond counter. The counter gives
 * spacing; the second stamps give the absolute time. Frames before the first second change are held
 * back (at most `maxHeld`, about a second of video) so their times can be derived backwards from the
 * first frame of a new second, which starts that second within one frame interval.
 */
export class DhavTimer {
  private held: DhavFrame[] = [];
  private lastMs?: number;
  private last?: DhavFrame;
  private anchored = false;

  constructor(private readonly maxHeld = 300) {}

  push(f: DhavFrame): Array<{ frame: DhavFrame; wallMs: number }> {
    if (!this.anchored) {
      const prev = this.held[this.held.length - 1];
      if (prev && f.wallSecMs !== prev.wallSecMs && f.wallSecMs - prev.wallSecMs <= 2000 && f.wallSecMs > prev.wallSecMs) {
        // First second change: f is the first frame of its second.
        this.anchored = true;
        const out: Array<{ frame: DhavFrame; wallMs: number }> = [];
        let t = f.wallSecMs;
        const times: number[] = [t];
        for (let i = this.held.length - 1; i >= 0; i--) {
          t -= spacing(this.held[i], i + 1 < this.held.length ? this.held[i + 1] : f);
          times.unshift(t);
        }
        this.held.forEach((h, i) => out.push({ frame: h, wallMs: Math.max(times[i], h.wallSecMs) }));
        this.held = [];
        out.push({ frame: f, wallMs: f.wallSecMs });
        this.lastMs = f.wallSecMs;
        this.last = f;
        return out;
      }
      this.held.push(f);
      if (this.held.length > this.maxHeld || (prev && f.wallSecMs !== prev.wallSecMs)) {
        // No usable second change (a jump): fall back to the second stamp of the first held frame.
        this.anchored = true;
        const held = this.held;
        this.held = [];
        const out: Array<{ frame: DhavFrame; wallMs: number }> = [];
        for (const h of held) out.push(...this.step(h));
        return out;
      }
      return [];
    }
    return this.step(f);
  }

  private step(f: DhavFrame): Array<{ frame: DhavFrame; wallMs: number }> {
    let t: number;
    if (this.lastMs === undefined || !this.last) t = f.wallSecMs;
    else {
      t = this.lastMs + spacing(this.last, f);
      // The counter drifted from the second stamps (or the recording jumped): the stamp wins.
      if (t < f.wallSecMs || t >= f.wallSecMs + 1000) t = f.wallSecMs;
    }
    this.lastMs = t;
    this.last = f;
    return [{ frame: f, wallMs: t }];
  }

  /** End of stream: frames still held (no second change seen) get their stamps plus counter spacing. */
  flush(): Array<{ frame: DhavFrame; wallMs: number }> {
    const held = this.held;
    this.held = [];
    this.anchored = true;
    const out: Array<{ frame: DhavFrame; wallMs: number }> = [];
    for (const h of held) out.push(...this.step(h));
    return out;
  }
}

/** Milliseconds between two frames from the 16-bit counter. The counter is whole ms: at a frame
 * rate whose interval is not (15 fps: 66.67 ms) it alternates 66/67, so a difference within 1 ms of
 * the nominal interval (extension 0x81's rate) is taken as exactly that interval. */
function spacing(a: DhavFrame, b: DhavFrame): number {
  const d = diff16(a.ms16, b.ms16);
  const fps = b.fps ?? a.fps;
  if (fps && fps > 0) {
    const nominal = 1000 / fps;
    const k = Math.round(d / nominal);
    if (k >= 1 && k <= 4 && Math.abs(d - k * nominal) <= 1) return k * nominal;
  }
  return d;
}

function diff16(a: number, b: number): number {
  return (b - a + 65536) % 65536;
}
