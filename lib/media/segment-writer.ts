// One output file being written: frames in, `<final>.part` on disk, then fsync + rename.
// H.264/H.265 go through mediabunny's MP4 muxer. mediabunny cannot mux MPEG-4 Part 2 (its video
// codecs are avc/hevc/vp8/vp9/av1/prores), so MPEG-4 Visual uses our own small MP4 writer
// (mp4v sample entry + esds), which ffmpeg, VLC and most players decode. Motion-JPEG goes through
// the same writer with object type 0x6C (ffmpeg and VLC decode it; browsers do not play MJPEG in MP4).
import { open, rename, rm } from 'node:fs/promises';
import { EncodedPacket, EncodedVideoPacketSource, FilePathTarget, Mp4OutputFormat, Output } from 'mediabunny';
import { SimpleMp4Writer } from './simple-mp4';
import type { VideoCodec } from '../rtsp/sdp';

export interface SegmentInfo {
  codec: VideoCodec;
  width: number;
  height: number;
  /** RFC 6381 codec string (from SPS/VOL). */
  codecString: string;
  /** H.264/H.265 decoder configuration record (avcC/hvcC) for length-prefixed frames. */
  description?: Uint8Array;
  /** MPEG-4 Visual decoder config (VOS/VOL headers). */
  mpeg4Config?: Uint8Array;
}

/** ISO/IEC 14496-1 objectTypeIndication of the codecs written through SimpleMp4Writer. */
const OBJECT_TYPE: Partial<Record<VideoCodec, number>> = { MPEG4: 0x20, JPEG: 0x6c };

export interface SegmentWriter {
  /** Adds a frame; `timestampSec` from the file's first frame, `durationSec` until the next one. */
  add(data: Uint8Array, keyframe: boolean, timestampSec: number, durationSec: number): Promise<void>;
  /** Finishes the container, fsyncs, renames the .part file to `finalPath`. Returns its size in bytes. */
  finish(finalPath: string): Promise<number>;
  /** Stops and deletes the .part file. */
  abort(): Promise<void>;
}

async function fsyncAndRename(part: string, final: string): Promise<number> {
  const fh = await open(part, 'r+');
  try {
    await fh.sync();
    const { size } = await fh.stat();
    await rename(part, final);
    return size;
  } finally {
    await fh.close();
  }
}

const TRIM_EVERY_FRAMES = 64;

class MediabunnyWriter implements SegmentWriter {
  private readonly output: Output;
  private readonly source: EncodedVideoPacketSource;
  private started: Promise<void>;
  private first = true;
  private added = 0;
  private trimmedChunks = 0;

  constructor(
    private readonly partPath: string,
    private readonly info: SegmentInfo,
  ) {
    // Fragmented (moov up front, then moof+mdat per ~1 s, mfra index at the end): every player we
    // target reads it, and finishing costs nothing. Measured: a plain MP4 builds its whole sample
    // table as JS objects at finalize, a peak that grows with the file's length (+30 MB at 1 h).
    this.output = new Output({ format: new Mp4OutputFormat({ fastStart: 'fragmented' }), target: new FilePathTarget(partPath, { chunked: false }) });
    this.source = new EncodedVideoPacketSource(info.codec === 'H265' ? 'hevc' : 'avc');
    this.output.addVideoTrack(this.source);
    this.started = this.output.start();
  }

  async add(data: Uint8Array, keyframe: boolean, ts: number, dur: number): Promise<void> {
    await this.started;
    const packet = new EncodedPacket(data, keyframe ? 'key' : 'delta', ts, dur);
    if (this.first) {
      this.first = false;
      await this.source.add(packet, { decoderConfig: { codec: this.info.codecString, codedWidth: this.info.width, codedHeight: this.info.height, description: this.info.description } });
    } else {
      await this.source.add(packet);
    }
    if (++this.added % TRIM_EVERY_FRAMES === 0) this.trimWrittenFragments();
  }

  /** mediabunny keeps every written fragment's sample records (~150 B per frame, ~8 MB per hour)
   * until finalize, yet its fragmented finalize (the mfra index) reads only each fragment's first
   * sample. Dropping the rest keeps the muxer's memory flat whatever the file's length. This
   * reaches into mediabunny internals: if their shape differs, it does nothing. */
  private trimWrittenFragments(): void {
    const chunks = this.writtenFragments();
    if (!chunks) return;
    for (; this.trimmedChunks < chunks.length; this.trimmedChunks++) {
      const samples = chunks[this.trimmedChunks]?.samples;
      if (Array.isArray(samples) && samples.length > 1) samples.length = 1;
    }
  }

  private writtenFragments(): Array<{ samples?: unknown[] }> | undefined {
    const muxer = (this.output as unknown as { _muxer?: { trackDatas?: Array<{ finalizedChunks?: Array<{ samples?: unknown[] }> }> } })._muxer;
    const chunks = muxer?.trackDatas?.[0]?.finalizedChunks;
    return Array.isArray(chunks) ? chunks : undefined;
  }

  /** Sample records the muxer still holds for written fragments (undefined: internals unknown). */
  retainedSampleRecords(): number | undefined {
    return this.writtenFragments()?.reduce((n, c) => n + (Array.isArray(c.samples) ? c.samples.length : 0), 0);
  }

  async finish(finalPath: string): Promise<number> {
    await this.started;
    await this.output.finalize();
    return fsyncAndRename(this.partPath, finalPath);
  }

  async abort(): Promise<void> {
    try {
      await this.started;
      await this.output.cancel();
    } catch {
      // cancelling a broken output may throw; the file is removed below anyway
    }
    await rm(this.partPath, { force: true });
  }
}

/** MPEG-4 Visual or Motion-JPEG: our own writer (mp4v + esds). */
class EsdsWriter implements SegmentWriter {
  private readonly w: SimpleMp4Writer;
  constructor(
    private readonly partPath: string,
    info: SegmentInfo,
  ) {
    this.w = new SimpleMp4Writer(partPath, { width: info.width, height: info.height, decoderConfig: info.mpeg4Config ?? new Uint8Array(0), objectTypeIndication: OBJECT_TYPE[info.codec] });
  }
  add(data: Uint8Array, keyframe: boolean, ts: number, dur: number): Promise<void> {
    return this.w.add(data, keyframe, dur);
  }
  async finish(finalPath: string): Promise<number> {
    await this.w.finish();
    return fsyncAndRename(this.partPath, finalPath);
  }
  async abort(): Promise<void> {
    await this.w.close().catch(() => undefined);
    await rm(this.partPath, { force: true });
  }
}

/** For specs: how many per-frame records the H.264/H.265 muxer still holds for fragments already
 * on disk (stays about one per fragment while the trimming works). */
export function retainedSampleRecords(w: SegmentWriter): number | undefined {
  return w instanceof MediabunnyWriter ? w.retainedSampleRecords() : undefined;
}

/** Opens a writer on `partPath` (the caller names it `<final>.part`). */
export function openSegmentWriter(partPath: string, info: SegmentInfo): SegmentWriter {
  if (info.codec === 'H264' || info.codec === 'H265') return new MediabunnyWriter(partPath, info);
  if (info.codec === 'MPEG4' || info.codec === 'JPEG') return new EsdsWriter(partPath, info);
  throw new Error(`writing ${info.codec} is not implemented`);
}
