// MPEG program stream (ISO/IEC 13818-1 §2.5) → video access units, for Hikvision downloads. Our own
// small demuxer (no maintained npm package demuxes PS incrementally; mux.js does TS only): push
// bytes as they arrive, take frames out; memory stays at one PES packet plus one access unit.
// Hikvision puts a vendor header before the first pack (a 40-byte "IMKH" media header, on some
// firmware inside a 64-byte envelope, public captures in hikvision-downloader style tools): we skip
// everything up to the first pack header 00 00 01 BA rather than trusting either length.
import { guessCodec, isKeyframe, type VendorVideoCodec } from './nal';

export interface PsFrame {
  data: Buffer;
  keyframe: boolean;
  codec: VendorVideoCodec;
  /** 90 kHz presentation time, unwrapped (monotonic across the 33-bit wrap). */
  pts: number;
}

export interface PsDemuxStats {
  /** Bytes skipped before the first pack header (vendor header) and while resynchronising. */
  skippedBytes: number;
  resyncs: number;
  /** PES packets of streams we do not want (audio, Hikvision private data 0xBD). */
  otherPackets: number;
}

const MAX_PREFIX = 1 << 20; // bytes we accept before the first pack header
const MAX_AU = 16 << 20;
/** PSM stream types (ISO/IEC 13818-1 Table 2-34). */
const STREAM_TYPES: Record<number, VendorVideoCodec> = { 0x1b: 'H264', 0x24: 'H265' };

export class PsDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes `buf` must hold before parsing can make progress. */
  private need = 0;
  private synced = false;
  private readonly streamCodec = new Map<number, VendorVideoCodec>();
  private au: Buffer[] = [];
  private auBytes = 0;
  private auPts?: number;
  private lastPts?: number;
  private ptsBase = 0;
  readonly stats: PsDemuxStats = { skippedBytes: 0, resyncs: 0, otherPackets: 0 };

  /** Feed bytes; returns the access units completed by them. */
  push(chunk: Uint8Array): PsFrame[] {
    // While waiting for the rest of a unit, only collect: concatenating on every chunk would copy a
    // large unit over and over (quadratic in its size).
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingLen += chunk.byteLength;
    if (this.buf.length + this.pendingLen < this.need) return [];
    this.buf = Buffer.concat([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingLen = 0;
    this.need = 0;
    const out: PsFrame[] = [];
    let p = 0;
    const b = this.buf;
    while (p + 4 <= b.length) {
      if (!(b[p] === 0 && b[p + 1] === 0 && b[p + 2] === 1) || (!this.synced && b[p + 3] !== 0xba)) {
        const next = findPack(b, p + 1);
        const to = next < 0 ? Math.max(p, b.length - 3) : next;
        this.stats.skippedBytes += to - p;
        if (this.synced && to > p) this.stats.resyncs++;
        p = to;
        if (!this.synced && this.stats.skippedBytes > MAX_PREFIX)
          throw new Error(`no MPEG-PS pack header in the first ${MAX_PREFIX} bytes (not a program stream)`);
        if (next < 0) break;
        continue;
      }
      const id = b[p + 3];
      let len: number;
      if (id === 0xba) {
        if (p + 14 > b.length) break;
        // MPEG-2 pack header: 14 bytes + stuffing; MPEG-1: 12 bytes.
        len = (b[p + 4] & 0xc0) === 0x40 ? 14 + (b[p + 13] & 0x07) : 12;
        this.synced = true;
      } else if (id === 0xb9) {
        len = 4;
      } else if (id >= 0xbb) {
        if (p + 6 > b.length) break;
        len = 6 + b.readUInt16BE(p + 4);
      } else {
        // Not a PS start code at a unit boundary: resynchronise at the next pack.
        const next = findPack(b, p + 1);
        this.stats.resyncs++;
        const to = next < 0 ? Math.max(p + 1, b.length - 3) : next;
        this.stats.skippedBytes += to - p;
        p = to;
        if (next < 0) break;
        continue;
      }
      if (p + len > b.length) {
        this.need = len;
        break;
      }
      const unit = b.subarray(p, p + len);
      p += len;
      if (id === 0xbc) this.readPsm(unit);
      else if (id >= 0xe0 && id <= 0xef) this.readVideoPes(unit, out);
      else if (id !== 0xba && id !== 0xb9 && id !== 0xbb && id !== 0xbe) this.stats.otherPackets++;
    }
    this.buf = b.subarray(p);
    // Keep a copy of a small remainder, not a view pinning the whole chunk.
    if (this.buf.length < 65536 && p > 0) this.buf = Buffer.from(this.buf);
    return out;
  }

  /** End of stream: the access unit still open. */
  flush(): PsFrame[] {
    const out: PsFrame[] = [];
    this.emit(out);
    return out;
  }

  private readPsm(u: Buffer): void {
    // 6-byte PES-style header, then: version byte, marker byte, info length, descriptors,
    // ES map length, entries (type, id, info length, descriptors), CRC.
    if (u.length < 16) return;
    const infoLen = u.readUInt16BE(8);
    let q = 10 + infoLen;
    if (q + 2 > u.length) return;
    const mapLen = u.readUInt16BE(q);
    q += 2;
    const end = Math.min(u.length - 4, q + mapLen);
    while (q + 4 <= end) {
      const type = u[q];
      const esId = u[q + 1];
      const esInfo = u.readUInt16BE(q + 2);
      const codec = STREAM_TYPES[type];
      if (codec && esId >= 0xe0 && esId <= 0xef) this.streamCodec.set(esId, codec);
      q += 4 + esInfo;
    }
  }

  private readVideoPes(u: Buffer, out: PsFrame[]): void {
    if (u.length < 9 || (u[6] & 0xc0) !== 0x80) return; // MPEG-1 PES headers: not from these devices
    const hdrLen = u[8];
    const payloadStart = 9 + hdrLen;
    if (payloadStart > u.length) return;
    let pts: number | undefined;
    if (u[7] & 0x80 && hdrLen >= 5) {
      const t = (u[9] & 0x0e) * 0x20000000 + ((u[10] << 7) | (u[11] >> 1)) * 0x8000 + ((u[12] << 7) | (u[13] >> 1));
      pts = this.unwrap(t);
    }
    // A PES with a new PTS starts a new access unit; PES without PTS continue the current one.
    if (pts !== undefined && this.auPts !== undefined && pts !== this.auPts) this.emit(out);
    if (pts !== undefined && this.au.length === 0) this.auPts = pts;
    const payload = u.subarray(payloadStart);
    if (payload.length === 0) return;
    if (this.au.length === 0 && this.auPts === undefined) return; // continuation of a unit we never saw begin
    this.auBytes += payload.length;
    if (this.auBytes > MAX_AU) {
      this.au = [];
      this.auBytes = 0;
      this.auPts = undefined;
      throw new Error(`MPEG-PS access unit larger than ${MAX_AU} bytes`);
    }
    this.au.push(Buffer.from(payload));
    if (!this.currentId) this.currentId = u[3];
  }

  private currentId?: number;

  private emit(out: PsFrame[]): void {
    if (this.au.length === 0 || this.auPts === undefined) {
      this.au = [];
      this.auBytes = 0;
      return;
    }
    const data = this.au.length === 1 ? this.au[0] : Buffer.concat(this.au);
    const codec = (this.currentId !== undefined ? this.streamCodec.get(this.currentId) : undefined) ?? guessCodec(data);
    if (codec) out.push({ data, keyframe: isKeyframe(data, codec), codec, pts: this.auPts });
    this.au = [];
    this.auBytes = 0;
    this.auPts = undefined;
    this.currentId = undefined;
  }

  private unwrap(t: number): number {
    const WRAP = 2 ** 33;
    if (this.lastPts !== undefined) {
      const prev = this.lastPts - this.ptsBase;
      if (t < prev - WRAP / 2) this.ptsBase += WRAP;
      else if (t > prev + WRAP / 2 && this.ptsBase >= WRAP) this.ptsBase -= WRAP;
    }
    this.lastPts = t + this.ptsBase;
    return this.lastPts;
  }
}

function findPack(b: Buffer, from: number): number {
  for (let i = b.indexOf(0, from); i >= 0 && i + 3 < b.length; i = b.indexOf(0, i + 1)) {
    if (b[i + 1] === 0 && b[i + 2] === 1 && b[i + 3] === 0xba) return i;
  }
  return -1;
}
