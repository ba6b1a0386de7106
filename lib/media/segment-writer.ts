// One output file being written: frames in, `<final>.part` on disk, then fsync + rename. Every
// codec goes through our one fragmented-MP4 writer (fmp4-writer.ts): avc1/hvc1 for H.264/H.265,
// mp4v + esds for MPEG-4 Visual and Motion-JPEG (ffmpeg and VLC decode those; browsers do not play
// MPEG-4 Part 2 or MJPEG in MP4).
import { open, rename, rm } from 'node:fs/promises';
import { Fmp4Writer } from './fmp4-writer';
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

export interface SegmentWriter {
  /** Adds a frame; `timestampSec` from the file's first frame, `durationSec` until the next one.
   * The frame's buffer is kept until written: do not change it afterwards. */
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

class FragmentedWriter implements SegmentWriter {
  readonly w: Fmp4Writer;
  constructor(
    private readonly partPath: string,
    info: SegmentInfo,
  ) {
    this.w = new Fmp4Writer(partPath, {
      codec: info.codec,
      width: info.width,
      height: info.height,
      description: info.description,
      decoderConfig: info.mpeg4Config,
    });
  }
  add(data: Uint8Array, keyframe: boolean, ts: number, dur: number): Promise<void> {
    return this.w.add(data, keyframe, ts, dur);
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

/** For specs: records the writer holds (mfra index entries + frames of the fragment being
 * collected); stays about one per written fragment, not one per frame. */
export function retainedSampleRecords(w: SegmentWriter): number | undefined {
  return w instanceof FragmentedWriter ? w.w.retainedRecords : undefined;
}

/** Opens a writer on `partPath` (the caller names it `<final>.part`). */
export function openSegmentWriter(partPath: string, info: SegmentInfo): SegmentWriter {
  if (info.codec === 'H264' || info.codec === 'H265' || info.codec === 'MPEG4' || info.codec === 'JPEG') return new FragmentedWriter(partPath, info);
  throw new Error(`writing ${info.codec} is not implemented`);
}
