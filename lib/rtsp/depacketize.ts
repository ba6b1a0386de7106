// RTP payload → access units. Each depacketizer takes the payloads of one frame (same RTP
// timestamp) and returns the frame's data: for H.264 (RFC 6184: single NAL, STAP-A, FU-A) and
// H.265 (RFC 7798: single, AP, FU) the NAL units each behind a 4-byte big-endian length — the MP4
// sample format, so the muxer stores frames as they are instead of converting (copying) each one;
// for MPEG-4 Visual (RFC 6416) the concatenated bitstream; for Motion-JPEG (RFC 2435,
// depacketize-jpeg.ts) a complete JPEG file. Malformed payloads throw; the caller drops that frame.
import type { VideoCodec, VideoTrack } from './sdp';
import { JpegDepacketizer } from './depacketize-jpeg';

export interface AccessUnit {
  data: Buffer;
  keyframe: boolean;
}

export interface Depacketizer {
  /** Adds one RTP payload of the current frame. */
  push(payload: Buffer): void;
  /** Ends the current frame; null when it produced no data. */
  finish(): AccessUnit | null;
  /** Drops a partly received frame (after packet loss). */
  reset(): void;
}

/** Frames are carved out of shared slabs instead of one allocation each: a buffer per frame is a
 * new ArrayBuffer each time (Node pools only buffers under 4 KB), and their count, not their bytes,
 * is what keeps the garbage collector busy. A slab is freed once every frame cut from it is gone
 * (written), so a slab holds about SLAB_FRAMES frames (~1 s of video): measured with fixed 1 MB
 * slabs, a 64-channel sync of 2 KB frames kept +110 MB of slabs alive (a slab lived ~30 s). A frame
 * never changes after it is returned. */
const SLAB_FRAMES = 16;
const SLAB_MIN = 64 * 1024;
const SLAB_MAX = 1024 * 1024;
class FrameSlab {
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;
  private avg = 0;
  alloc(len: number): Buffer {
    this.avg = this.avg === 0 ? len : this.avg + (len - this.avg) / 16;
    if (len > SLAB_MAX / 4) return Buffer.allocUnsafeSlow(len); // a huge frame would waste most of a slab
    if (this.used + len > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(len, Math.min(SLAB_MAX, Math.max(SLAB_MIN, SLAB_FRAMES * this.avg))));
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + len);
    // Keep the next frame 8-byte aligned (typed-array views of frames stay possible).
    this.used += (len + 7) & ~7;
    return out;
  }
}

abstract class NalDepacketizer implements Depacketizer {
  private readonly slab = new FrameSlab();
  /** NAL units of the frame, each as its parts (FU header + fragments), copied once in finish(). */
  protected nals: Buffer[][] = [];
  protected fu: Buffer[] | null = null;

  abstract push(payload: Buffer): void;
  protected abstract isKey(nal: Buffer): boolean;
  protected abstract isParamSet(nal: Buffer): boolean;
  /** Parameter sets from the SDP, put before a keyframe that lacks them in-band. */
  constructor(private readonly params: Buffer[]) {}

  /** Aggregation packet (H.264 STAP-A, H.265 AP): 16-bit size + NAL unit, repeated from `off`. */
  protected pushAggregated(p: Buffer, off: number, what: string): void {
    while (off < p.length) {
      if (off + 2 > p.length) throw new Error(`truncated ${what}`);
      const size = p.readUInt16BE(off);
      if (size === 0 || off + 2 + size > p.length) throw new Error(`truncated ${what}`);
      this.nals.push([p.subarray(off + 2, off + 2 + size)]);
      off += 2 + size;
    }
  }

  /** One fragmentation unit: `header` (the rebuilt NAL header) on the first fragment, else null. */
  protected pushFragment(header: Buffer | null, frag: Buffer, last: boolean): void {
    if (header) this.fu = [header, frag];
    else if (!this.fu) throw new Error('FU fragment without a start');
    else this.fu.push(frag);
    if (last) {
      this.nals.push(this.fu);
      this.fu = null;
    }
  }

  finish(): AccessUnit | null {
    if (this.fu) throw new Error('frame ended inside a fragmented NAL unit');
    const nals = this.nals;
    this.nals = [];
    if (nals.length === 0) return null;
    const keyframe = nals.some((n) => this.isKey(n[0]));
    const all = keyframe && this.params.length > 0 && !nals.some((n) => this.isParamSet(n[0])) ? [...this.params.map((p) => [p]), ...nals] : nals;
    // One allocation per frame: lengths and NAL parts copied straight in.
    let len = 0;
    for (const parts of all) {
      len += 4;
      for (const p of parts) len += p.length;
    }
    const out = this.slab.alloc(len);
    let o = 0;
    for (const parts of all) {
      const sizeAt = o;
      o += 4;
      for (const p of parts) {
        p.copy(out, o);
        o += p.length;
      }
      out.writeUInt32BE(o - sizeAt - 4, sizeAt);
    }
    return { data: out, keyframe };
  }

  reset(): void {
    this.nals = [];
    this.fu = null;
  }
}

export class H264Depacketizer extends NalDepacketizer {
  push(p: Buffer): void {
    if (p.length < 1) throw new Error('empty H.264 payload');
    const type = p[0] & 0x1f;
    if (type >= 1 && type <= 23) this.nals.push([p]);
    else if (type === 24) this.pushAggregated(p, 1, 'STAP-A');
    else if (type === 28) {
      if (p.length < 3) throw new Error('truncated FU-A');
      const start = (p[1] & 0x80) !== 0;
      this.pushFragment(start ? Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)]) : null, p.subarray(2), (p[1] & 0x40) !== 0);
    } else throw new Error(`unsupported H.264 payload type ${type}`);
  }
  protected isKey(n: Buffer): boolean {
    return (n[0] & 0x1f) === 5;
  }
  protected isParamSet(n: Buffer): boolean {
    return (n[0] & 0x1f) === 7;
  }
}

export class H265Depacketizer extends NalDepacketizer {
  push(p: Buffer): void {
    if (p.length < 3) throw new Error('short H.265 payload');
    const type = (p[0] >> 1) & 0x3f;
    if (type < 48) this.nals.push([p]);
    else if (type === 48)
      this.pushAggregated(p, 2, 'AP'); // no DONL: sprop-max-don-diff is not used
    else if (type === 49) {
      const start = (p[2] & 0x80) !== 0;
      this.pushFragment(start ? Buffer.from([(p[0] & 0x81) | ((p[2] & 0x3f) << 1), p[1]]) : null, p.subarray(3), (p[2] & 0x40) !== 0);
    } else throw new Error(`unsupported H.265 payload type ${type}`);
  }
  protected isKey(n: Buffer): boolean {
    const t = (n[0] >> 1) & 0x3f;
    return t >= 16 && t <= 21;
  }
  protected isParamSet(n: Buffer): boolean {
    return ((n[0] >> 1) & 0x3f) === 33;
  }
}

export class Mpeg4Depacketizer implements Depacketizer {
  private parts: Buffer[] = [];
  push(p: Buffer): void {
    this.parts.push(p);
  }
  finish(): AccessUnit | null {
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    if (data.length === 0) return null;
    let keyframe = false;
    for (let i = 0; i + 4 < data.length; i++) {
      if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1 && data[i + 3] === 0xb6) {
        keyframe = data[i + 4] >> 6 === 0;
        break;
      }
    }
    return { data, keyframe };
  }
  reset(): void {
    this.parts = [];
  }
}

/** Codec configuration from the SDP fmtp: parameter sets (no start codes) or the MPEG-4 config. */
export function sdpParameterSets(track: VideoTrack): Buffer[] {
  const f = track.fmtp;
  const b64 = (s: string | undefined) =>
    s
      ? s
          .split(',')
          .filter(Boolean)
          .map((x) => Buffer.from(x, 'base64'))
      : [];
  if (track.codec === 'H264') return b64(f.get('sprop-parameter-sets'));
  if (track.codec === 'H265') return [...b64(f.get('sprop-vps')), ...b64(f.get('sprop-sps')), ...b64(f.get('sprop-pps'))];
  if (track.codec === 'MPEG4' && f.get('config')) return [Buffer.from(f.get('config') ?? '', 'hex')];
  return [];
}

export function createDepacketizer(track: VideoTrack): Depacketizer {
  const codec: VideoCodec = track.codec;
  switch (codec) {
    case 'H264':
      return new H264Depacketizer(sdpParameterSets(track));
    case 'H265':
      return new H265Depacketizer(sdpParameterSets(track));
    case 'MPEG4':
      return new Mpeg4Depacketizer();
    case 'JPEG':
      return new JpegDepacketizer();
    default:
      throw new Error(`${codec} depacketizing is not implemented`);
  }
}
