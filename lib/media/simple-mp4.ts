// A small streaming MP4 (ISO BMFF) writer for one video track described by an MPEG-4 elementary
// stream descriptor ('mp4v' sample entry + esds): MPEG-4 Visual, or Motion-JPEG (object type
// 0x6C, how ffmpeg itself muxes MJPEG into MP4). ftyp, one mdat written as frames arrive (64-bit
// size patched at the end), moov last. Memory: a write buffer plus the sample tables (a few bytes
// per frame).
import { open, type FileHandle } from 'node:fs/promises';

export interface SimpleMp4Track {
  width: number;
  height: number;
  /** DecoderSpecificInfo: the VOS/VO/VOL headers (MPEG-4 Visual); empty = none (JPEG). */
  decoderConfig: Uint8Array;
  /** ISO/IEC 14496-1 objectTypeIndication: 0x20 MPEG-4 Visual (default), 0x6C JPEG. */
  objectTypeIndication?: number;
}

const TIMESCALE = 90000;
const FLUSH_AT = 1024 * 1024;

function box(type: string, ...parts: Buffer[]): Buffer {
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(size, 0);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, ...parts]);
}

function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4));
  return b;
}

function u32a(v: readonly number[]): Buffer {
  const b = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) b.writeUInt32BE(v[i] >>> 0, i * 4);
  return b;
}

function descriptor(tag: number, body: Buffer): Buffer {
  const n = body.length;
  return Buffer.concat([Buffer.from([tag, 0x80 | ((n >> 21) & 0x7f), 0x80 | ((n >> 14) & 0x7f), 0x80 | ((n >> 7) & 0x7f), n & 0x7f]), body]);
}

export class SimpleMp4Writer {
  private fh?: Promise<FileHandle>;
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private mdatStart = 0;
  private readonly sizes: number[] = [];
  private readonly offsets: number[] = [];
  private readonly durations: number[] = [];
  private readonly syncSamples: number[] = [];
  private maxSize = 0;

  constructor(
    path: string,
    private readonly track: SimpleMp4Track,
  ) {
    this.fh = open(path, 'w');
    const ftyp = box('ftyp', Buffer.from('isom', 'latin1'), u32s(0x200), Buffer.from('isomiso2mp41', 'latin1'));
    const mdatHeader = Buffer.alloc(16);
    mdatHeader.writeUInt32BE(1, 0); // size 1 → 64-bit size follows
    mdatHeader.write('mdat', 4, 'latin1');
    this.queue(ftyp);
    this.mdatStart = this.pos;
    this.queue(mdatHeader);
  }

  private queue(b: Buffer): void {
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.pos += b.length;
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const fh = await this.handle();
    const data = Buffer.concat(this.pending);
    const at = this.pos - this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    await fh.write(data, 0, data.length, at);
  }

  private handle(): Promise<FileHandle> {
    if (!this.fh) throw new Error('MP4 writer is closed');
    return this.fh;
  }

  async add(data: Uint8Array, keyframe: boolean, durationSec: number): Promise<void> {
    this.offsets.push(this.pos);
    this.sizes.push(data.length);
    this.maxSize = Math.max(this.maxSize, data.length);
    this.durations.push(Math.max(1, Math.round(durationSec * TIMESCALE)));
    if (keyframe) this.syncSamples.push(this.sizes.length);
    this.queue(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (this.pendingBytes >= FLUSH_AT) await this.flush();
  }

  async finish(): Promise<void> {
    await this.flush();
    const fh = await this.handle();
    const mdatSize = Buffer.alloc(8);
    mdatSize.writeBigUInt64BE(BigInt(this.pos - this.mdatStart), 0);
    await fh.write(mdatSize, 0, 8, this.mdatStart + 8);
    const moov = this.moov();
    await fh.write(moov, 0, moov.length, this.pos);
    this.pos += moov.length;
    await this.close();
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await (await fh).close();
  }

  private moov(): Buffer {
    const n = this.sizes.length;
    const total = this.durations.reduce((a, b) => a + b, 0);
    const movieDur = Math.round((total / TIMESCALE) * 1000);
    const matrix = u32s(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);
    const mvhd = fullBox('mvhd', 0, 0, u32s(0, 0, 1000, movieDur), u32s(0x10000), Buffer.from([1, 0, 0, 0]), Buffer.alloc(8), matrix, Buffer.alloc(24), u32s(2));
    const tkhd = fullBox('tkhd', 0, 3, u32s(0, 0, 1, 0, movieDur), Buffer.alloc(8), Buffer.alloc(4), u32s(0), matrix, u32s(this.track.width << 16, this.track.height << 16));
    const mdhd = fullBox('mdhd', 0, 0, u32s(0, 0, TIMESCALE, total), Buffer.from([0x55, 0xc4, 0, 0]));
    const hdlr = fullBox('hdlr', 0, 0, u32s(0), Buffer.from('vide', 'latin1'), Buffer.alloc(12), Buffer.from('VideoHandler\0', 'latin1'));
    const vmhd = fullBox('vmhd', 0, 1, Buffer.alloc(8));
    const dinf = box('dinf', fullBox('dref', 0, 0, u32s(1), fullBox('url ', 0, 1)));
    const esdsBody = descriptor(
      3,
      Buffer.concat([
        Buffer.from([0, 1, 0]), // ES_ID 1, no flags
        descriptor(
          4,
          Buffer.concat([
            Buffer.from([this.track.objectTypeIndication ?? 0x20, 0x11]), // streamType visual, upStream 0, reserved 1
            Buffer.from([(this.maxSize >> 16) & 0xff, (this.maxSize >> 8) & 0xff, this.maxSize & 0xff]),
            u32s(0, 0),
            ...(this.track.decoderConfig.length > 0 ? [descriptor(5, Buffer.from(this.track.decoderConfig))] : []),
          ]),
        ),
        descriptor(6, Buffer.from([2])),
      ]),
    );
    const esds = fullBox('esds', 0, 0, esdsBody);
    const mp4v = box(
      'mp4v',
      Buffer.alloc(6),
      Buffer.from([0, 1]), // data_reference_index
      Buffer.alloc(16),
      Buffer.from([this.track.width >> 8, this.track.width & 0xff, this.track.height >> 8, this.track.height & 0xff]),
      u32s(0x480000, 0x480000, 0),
      Buffer.from([0, 1]), // frame_count
      Buffer.alloc(32), // compressorname
      Buffer.from([0, 0x18, 0xff, 0xff]),
      esds,
    );
    const stsd = fullBox('stsd', 0, 0, u32s(1), mp4v);
    // stts: run-length coded sample durations.
    const runs: number[] = [];
    for (const d of this.durations) {
      if (runs.length && runs[runs.length - 1] === d) runs[runs.length - 2]++;
      else runs.push(1, d);
    }
    const stts = fullBox('stts', 0, 0, u32s(runs.length / 2), u32a(runs));
    const stss = fullBox('stss', 0, 0, u32s(this.syncSamples.length), u32a(this.syncSamples));
    const stsz = fullBox('stsz', 0, 0, u32s(0, n), u32a(this.sizes));
    const stsc = fullBox('stsc', 0, 0, u32s(1, 1, 1, 1)); // one sample per chunk
    const co = Buffer.alloc(n * 8);
    this.offsets.forEach((o, i) => co.writeBigUInt64BE(BigInt(o), i * 8));
    const co64 = fullBox('co64', 0, 0, u32s(n), co);
    const stbl = box('stbl', stsd, stts, stss, stsz, stsc, co64);
    const minf = box('minf', vmhd, dinf, stbl);
    const mdia = box('mdia', mdhd, hdlr, minf);
    const trak = box('trak', tkhd, mdia);
    return box('moov', mvhd, trak);
  }
}
