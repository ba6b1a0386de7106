// Our one MP4 writer, for every codec we replay: fragmented ISO BMFF (ISO/IEC 14496-12) with one
// video track. ftyp + moov (sample entry, no samples) first, then a moof + mdat per ~1 s fragment,
// then an mfra index. Sample entries: avc1 + avcC (H.264), hvc1 + hvcC (H.265), mp4v + esds
// (MPEG-4 Visual, object type 0x20; Motion-JPEG, 0x6C, as ffmpeg muxes it).
//
// Why our own and why this shape: frames arrive already in MP4 sample format (length-prefixed NAL
// units, or the bitstream), so writing them needs no copy at all. A fragment goes to disk as one
// writev of [moof + mdat header, frame, frame, ...]: the frame buffers are handed to the kernel as
// they are, and the headers are carved from one reused buffer (no allocation per fragment). Small
// fragments (low bitrates) are batched up to WRITE_BATCH_BYTES per writev: one call per 1 s
// fragment of 2 KB frames cost ~40 % of the worker's busy time at 360p. Memory is one batch plus
// one fragment, and two numbers per fragment for the mfra index (~1.5 MB per day of video),
// whatever the file's length. Finishing costs one small write (nothing is rewritten).
import { open, type FileHandle } from 'node:fs/promises';
import type { VideoCodec } from '../rtsp/sdp';

export interface Fmp4Track {
  codec: VideoCodec;
  width: number;
  height: number;
  /** H.264/H.265 decoder configuration record (avcC/hvcC body). */
  description?: Uint8Array;
  /** MPEG-4 Visual DecoderSpecificInfo (VOS/VOL headers); empty or absent = none (JPEG). */
  decoderConfig?: Uint8Array;
}

/** Media timescale: the RTP clock of every video payload format, so RTP-derived times are exact. */
export const TIMESCALE = 90000;
/** A new fragment starts at the first keyframe after this much media time... */
const FRAGMENT_TICKS = TIMESCALE;
/** ...or, whatever the keyframes, once one holds this many bytes or frames (bounds memory). */
const FRAGMENT_MAX_BYTES = 8 * 1024 * 1024;
const FRAGMENT_MAX_FRAMES = 512;

/** Fragments are written together once this many bytes are waiting (a 1080p fragment alone is more). */
const WRITE_BATCH_BYTES = 256 * 1024;

const TRACK_ID = 1;
const KEY_FLAGS = 0x02000000; // sample_depends_on = 2 (no other sample), sync sample
const DELTA_FLAGS = 0x01010000; // sample_depends_on = 1, sample_is_non_sync_sample

// ---- box building (only for the small, once-per-file boxes) ---------------------------------------

function box(type: string, ...parts: Uint8Array[]): Buffer {
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const h = Buffer.allocUnsafe(8);
  h.writeUInt32BE(size, 0);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, ...parts]);
}

function fullBox(type: string, version: number, flags: number, ...parts: Uint8Array[]): Buffer {
  return box(type, u32(((version & 0xff) << 24) | (flags & 0xffffff)), ...parts);
}

function u32(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(v.length * 4);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4));
  return b;
}

function u16(...v: number[]): Buffer {
  const b = Buffer.allocUnsafe(v.length * 2);
  v.forEach((x, i) => b.writeUInt16BE(x & 0xffff, i * 2));
  return b;
}

const zeros = (n: number) => Buffer.alloc(n);

/** ISO/IEC 14496-1 descriptor with a 4-byte size field (as ffmpeg writes it). */
function descriptor(tag: number, body: Uint8Array): Buffer {
  const n = body.length;
  return Buffer.concat([Buffer.from([tag, 0x80 | ((n >> 21) & 0x7f), 0x80 | ((n >> 14) & 0x7f), 0x80 | ((n >> 7) & 0x7f), n & 0x7f]), body]);
}

function sampleEntry(t: Fmp4Track): Buffer {
  const visual = (type: string, config: Buffer) =>
    box(
      type,
      zeros(6),
      u16(1), // data_reference_index
      zeros(16),
      u16(t.width, t.height),
      u32(0x480000, 0x480000, 0), // 72 dpi, reserved
      u16(1), // frame_count
      zeros(32), // compressorname
      u16(0x18, 0xffff), // depth, pre_defined
      config,
    );
  switch (t.codec) {
    case 'H264':
    case 'H265': {
      if (!t.description) throw new Error(`${t.codec} track without a decoder configuration record`);
      return t.codec === 'H264' ? visual('avc1', box('avcC', t.description)) : visual('hvc1', box('hvcC', t.description));
    }
    case 'MPEG4':
    case 'JPEG': {
      const cfg = t.decoderConfig ?? new Uint8Array(0);
      const esds = fullBox(
        'esds',
        0,
        0,
        descriptor(
          3,
          Buffer.concat([
            Buffer.from([0, 1, 0]), // ES_ID 1, no flags
            descriptor(
              4,
              Buffer.concat([
                Buffer.from([t.codec === 'JPEG' ? 0x6c : 0x20, 0x11]), // objectTypeIndication; streamType visual, reserved 1
                zeros(3), // bufferSizeDB: unknown when the header is written (players ignore it)
                u32(0, 0), // max and average bitrate: unknown
                ...(cfg.length > 0 ? [descriptor(5, cfg)] : []),
              ]),
            ),
            descriptor(6, Buffer.from([2])), // SLConfig: predefined MP4
          ]),
        ),
      );
      return visual('mp4v', esds);
    }
    default:
      throw new Error(`writing ${t.codec} is not implemented`);
  }
}

/** ftyp + moov for a fragmented file: the track and its sample entry, no samples. */
export function initSegment(t: Fmp4Track): Buffer {
  const ftyp = box('ftyp', Buffer.from('iso6', 'latin1'), u32(0), Buffer.from('iso6isomiso2mp41', 'latin1'));
  const matrix = u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x10000), u16(0x100, 0), zeros(8), matrix, zeros(24), u32(TRACK_ID + 1));
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, TRACK_ID, 0, 0), zeros(8), zeros(4), u32(0), matrix, u32(t.width << 16, t.height << 16));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, TIMESCALE, 0), Buffer.from([0x55, 0xc4, 0, 0])); // language 'und'
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide', 'latin1'), zeros(12), Buffer.from('VideoHandler\0', 'latin1'));
  const vmhd = fullBox('vmhd', 0, 1, zeros(8));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), sampleEntry(t)),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', vmhd, dinf, stbl)));
  const mvex = box('mvex', fullBox('trex', 0, 0, u32(TRACK_ID, 1, 0, 0, 0)));
  return Buffer.concat([ftyp, box('moov', mvhd, trak, mvex)]);
}

// ---- the writer ---------------------------------------------------------------------------------------

export class Fmp4Writer {
  private fh: Promise<FileHandle> | undefined;
  private pos = 0;
  private sequence = 0;
  /** Decode time of the next sample, in TIMESCALE ticks. */
  private dts = 0;
  // The fragment being collected: frame buffers (not copied) and their sample fields.
  private frames: Uint8Array[] = [];
  private readonly sizes: number[] = [];
  private readonly durations: number[] = [];
  private readonly ctsOffsets: number[] = [];
  private readonly keys: boolean[] = [];
  private fragmentBytes = 0;
  private fragmentTicks = 0;
  private fragmentDts = 0;
  /** The headers of the batch being collected are carved from this; reused once the batch is written. */
  private header = Buffer.allocUnsafe(16 * 1024);
  private headerUsed = 0;
  /** Written fragments waiting for one writev, and their size; `pos` already counts them. */
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  /** mfra index: [decode time, moof offset] of each fragment that starts with a keyframe. */
  private readonly index: number[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(path: string, track: Fmp4Track) {
    const init = initSegment(track);
    this.fh = open(path, 'w');
    this.queue([init]);
  }

  /** Adds one frame (decode order). `timestampSec`: presentation time from the file's first frame;
   * `durationSec`: until the next frame. The buffer is kept, not copied, until its fragment is
   * written: the caller must not change it afterwards. */
  async add(data: Uint8Array, keyframe: boolean, timestampSec: number, durationSec: number): Promise<void> {
    if (
      this.frames.length > 0 &&
      ((keyframe && this.fragmentTicks >= FRAGMENT_TICKS) || this.fragmentBytes + data.length > FRAGMENT_MAX_BYTES || this.frames.length >= FRAGMENT_MAX_FRAMES)
    ) {
      await this.flush();
    }
    if (this.frames.length === 0) this.fragmentDts = this.dts;
    const dur = Math.max(1, Math.round(durationSec * TIMESCALE));
    this.frames.push(data);
    this.sizes.push(data.length);
    this.durations.push(dur);
    this.ctsOffsets.push(Math.round(timestampSec * TIMESCALE) - this.dts);
    this.keys.push(keyframe);
    this.fragmentBytes += data.length;
    this.fragmentTicks += dur;
    this.dts += dur;
  }

  /** Media time written or collected so far, in seconds. */
  get durationSec(): number {
    return this.dts / TIMESCALE;
  }

  /** Index entries held (one per keyframe-led fragment) plus frames not yet written. */
  get retainedRecords(): number {
    return this.index.length / 2 + this.frames.length;
  }

  /** Writes what is collected, then the mfra index; closes the file. Returns its size in bytes. */
  async finish(): Promise<number> {
    await this.flush();
    this.queue([this.mfra()]);
    await this.writeQueued();
    const size = this.pos;
    await this.close();
    return size;
  }

  /** Closes the file without finishing it (the caller deletes it). */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await this.writing.catch(() => undefined);
    if (fh) await (await fh).close();
  }

  private queue(bufs: Uint8Array[]): void {
    for (const b of bufs) {
      this.queued.push(b);
      this.queuedBytes += b.length;
      this.pos += b.length;
    }
  }

  /** Writes every queued buffer with one writev (libuv splits past IOV_MAX and loops on short writes). */
  private async writeQueued(): Promise<void> {
    await this.writing;
    if (this.queuedBytes === 0) return;
    if (!this.fh) throw new Error('MP4 writer is closed');
    const bufs = this.queued;
    const len = this.queuedBytes;
    const at = this.pos - len;
    this.queued = [];
    this.queuedBytes = 0;
    this.writing = (async () => {
      const fh = await (this.fh as Promise<FileHandle>);
      const { bytesWritten } = await fh.writev(bufs, at);
      if (bytesWritten !== len) throw new Error(`short write: ${bytesWritten} of ${len} bytes`);
    })();
    await this.writing;
    this.headerUsed = 0; // the batch's headers are on disk: their buffer is free again
  }

  /** Ends the fragment being collected: its header is built and it joins the batch to write. */
  private async flush(): Promise<void> {
    const n = this.frames.length;
    if (n === 0) return;
    const withCts = this.ctsOffsets.some((c) => c !== 0);
    const perSample = withCts ? 16 : 12;
    const trunSize = 12 + 8 + n * perSample;
    const trafSize = 8 + 16 + 20 + trunSize;
    const moofSize = 8 + 16 + trafSize;
    const headerSize = moofSize + 8;
    if (this.headerUsed + headerSize > this.header.length) {
      await this.writeQueued();
      if (headerSize > this.header.length) this.header = Buffer.allocUnsafe(Math.max(headerSize, this.header.length * 2));
    }
    const h = this.header;
    const base = this.headerUsed;
    let o = base;
    const u32w = (v: number) => {
      h.writeUInt32BE(v >>> 0, o);
      o += 4;
    };
    const tag = (size: number, type: string) => {
      u32w(size);
      h.write(type, o, 'latin1');
      o += 4;
    };
    const moofAt = this.pos;
    tag(moofSize, 'moof');
    tag(16, 'mfhd');
    u32w(0);
    u32w(++this.sequence);
    tag(trafSize, 'traf');
    tag(16, 'tfhd');
    u32w(0x020000); // default-base-is-moof: data offsets count from this moof
    u32w(TRACK_ID);
    tag(20, 'tfdt');
    u32w(0x01000000); // version 1: 64-bit baseMediaDecodeTime
    u32w(Math.floor(this.fragmentDts / 2 ** 32));
    u32w(this.fragmentDts);
    tag(trunSize, 'trun');
    // version 1 (signed composition offsets) | data-offset, duration, size, flags [, cts offset]
    u32w((withCts ? 0x01000000 : 0) | 0x000701 | (withCts ? 0x800 : 0));
    u32w(n);
    u32w(headerSize); // data_offset: first sample right after the mdat header
    for (let i = 0; i < n; i++) {
      u32w(this.durations[i]);
      u32w(this.sizes[i]);
      u32w(this.keys[i] ? KEY_FLAGS : DELTA_FLAGS);
      if (withCts) {
        h.writeInt32BE(this.ctsOffsets[i], o);
        o += 4;
      }
    }
    tag(8 + this.fragmentBytes, 'mdat');
    if (this.keys[0]) this.index.push(this.fragmentDts, moofAt);
    this.headerUsed = o;
    this.queue([h.subarray(base, o)]);
    this.queue(this.frames);
    this.frames = [];
    this.sizes.length = 0;
    this.durations.length = 0;
    this.ctsOffsets.length = 0;
    this.keys.length = 0;
    this.fragmentBytes = 0;
    this.fragmentTicks = 0;
    if (this.queuedBytes >= WRITE_BATCH_BYTES) await this.writeQueued();
  }

  private mfra(): Buffer {
    const entries = this.index.length / 2;
    const tfra = Buffer.allocUnsafe(12 + 12 + entries * 19);
    let o = tfra.writeUInt32BE(tfra.length, 0);
    o += tfra.write('tfra', o, 'latin1');
    o = tfra.writeUInt32BE(0x01000000, o); // version 1: 64-bit time and offset
    o = tfra.writeUInt32BE(TRACK_ID, o);
    o = tfra.writeUInt32BE(0, o); // 1-byte traf/trun/sample numbers
    o = tfra.writeUInt32BE(entries, o);
    for (let i = 0; i < this.index.length; i += 2) {
      o = tfra.writeBigUInt64BE(BigInt(this.index[i]), o);
      o = tfra.writeBigUInt64BE(BigInt(this.index[i + 1]), o);
      tfra[o++] = 1;
      tfra[o++] = 1;
      tfra[o++] = 1;
    }
    const mfroSize = 16;
    return box('mfra', tfra, fullBox('mfro', 0, 0, u32(8 + tfra.length + mfroSize)));
  }
}
