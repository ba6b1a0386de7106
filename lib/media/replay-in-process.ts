// Replays one time range from an ONVIF replay URI into MP4 files, on the calling thread: frames
// stream from the RTSP session into the muxer (the muxer's pace pauses the socket), each file goes
// to `<final>.part`, then fsync + rename. A gap (E flag on the last frame before it, D flag after
// it) ends the file; the next file starts at the next keyframe, so no file ever spans a gap.
// replayToFiles runs this inside a worker thread (replay-worker.ts); tests may call it directly.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { replay, type ReplayFrame } from '../rtsp/replay-session';
import { finishFile } from './finish-file';
import { RtspError } from '../rtsp/errors';
import type { VideoTrack } from '../rtsp/sdp';
import { sdpParameterSets } from '../rtsp/depacketize';
import { maskUrl } from '../rtsp/url';
import { splitLengthPrefixed } from './length-prefixed';
import { avcDecoderConfig, hevcDecoderConfig } from './decoder-config';
import { parseH264Sps, parseH265Sps, parseMpeg4Vol, type PictureInfo } from './codec-params';
import { parseJpeg } from './jpeg';
import { openSegmentWriter, type SegmentInfo, type SegmentWriter } from './segment-writer';
import { ReplayToFilesError, type ReplayToFilesOptions, type WrittenFile } from './replay-types';
import { errorMessage } from '../errors';
import { fileNamer } from '../sync/naming';

export interface ReplayInProcessOptions extends ReplayToFilesOptions {
  /** Each file as soon as it is finished (before the whole range is done). */
  onFileWritten?(f: WrittenFile): void;
  /** Each `.part` path just before the file is created (the pool removes them if its worker dies). */
  onPartFile?(path: string): void;
}

interface OpenFile {
  writer: SegmentWriter;
  info: SegmentInfo;
  start: Date;
  firstRtp: number;
  frames: number;
  bytes: number;
  openedAt: number;
  lastDelta: number;
  /** Media seconds covered so far: last frame's offset + its (expected) duration. */
  mediaSec: number;
}

const PROGRESS_EVERY_MS = 250;
/** Frames further apart than this (wall clock) are on two sides of a gap: 1 fps cameras and
 * timestamp jitter stay well inside it. */
const MAX_FRAME_GAP_MS = 5000;

export async function replayInProcess(o: ReplayInProcessOptions): Promise<WrittenFile[]> {
  let name: (start: Date, end: Date) => string;
  try {
    name = fileNamer(o.naming);
  } catch (e) {
    throw new ReplayToFilesError(`replay of ${maskUrl(o.url)} failed: ${errorMessage(e)}`, [], 'write', e);
  }
  const completed: WrittenFile[] = [];
  let track: VideoTrack | undefined;
  let file: OpenFile | undefined;
  let held: ReplayFrame | undefined;
  let total = { bytes: 0, frames: 0 };
  let lastProgress = 0;
  let wallMark = Date.now();
  const clock = () => track?.clockRate ?? 90000;
  const nominal = () => 1 / (track?.fps ?? 15);

  const openFile = async (f: ReplayFrame): Promise<OpenFile> => {
    if (!track) throw new Error('no track');
    const info = segmentInfo(track, f.data);
    const part = name(f.ntpTime, o.to) + '.part';
    o.onPartFile?.(part);
    await mkdir(dirname(part), { recursive: true });
    return {
      writer: openSegmentWriter(part, info),
      info,
      start: f.ntpTime,
      firstRtp: f.rtpTimestamp,
      frames: 0,
      bytes: 0,
      openedAt: wallMark,
      lastDelta: nominal(),
      mediaSec: 0,
    };
  };

  const write = async (cur: OpenFile, f: ReplayFrame, durationSec: number) => {
    await cur.writer.add(f.data, f.keyframe, (f.rtpTimestamp - cur.firstRtp) / clock(), durationSec);
    cur.frames++;
    cur.bytes += f.data.length;
  };

  const closeFile = async () => {
    const cur = file;
    if (!cur) return;
    if (held) {
      await write(cur, held, cur.lastDelta);
      held = undefined;
    }
    file = undefined;
    if (cur.frames === 0) {
      await cur.writer.abort();
      return;
    }
    const durationSec = cur.mediaSec;
    const end = new Date(cur.start.getTime() + Math.round(durationSec * 1000));
    let written: WrittenFile;
    try {
      const path = name(cur.start, end);
      written = await finishFile(cur.writer, path, { start: cur.start, end, durationSec, frames: cur.frames, info: cur.info, openedAt: cur.openedAt });
    } catch (e) {
      // `file` is already cleared, so the failure path below would not see this .part: drop it here.
      await cur.writer.abort();
      throw e;
    }
    wallMark = Date.now();
    completed.push(written);
    o.onFileWritten?.(written);
  };

  const onFrame = async (f: ReplayFrame) => {
    // A jump in the frames' wall-clock times is a gap even without the D flag (some servers skip
    // lost or overwritten data silently): a file must never span time it holds no frames for.
    if (file && held && !f.flags.discontinuity && f.ntpTime.getTime() - held.ntpTime.getTime() > MAX_FRAME_GAP_MS) await closeFile();
    if (file && f.flags.discontinuity) await closeFile();
    if (!file) {
      if (!f.keyframe) return; // a file must start at a keyframe
      file = await openFile(f);
    }
    const cur = file;
    if (held) {
      let delta = (f.rtpTimestamp - held.rtpTimestamp) / clock();
      if (!(delta > 0 && delta < 5)) delta = cur.lastDelta; // broken timestamps: keep the rhythm
      cur.lastDelta = delta;
      await write(cur, held, delta);
    }
    held = f;
    cur.mediaSec = (f.rtpTimestamp - cur.firstRtp) / clock() + cur.lastDelta;
    total.bytes += f.data.length;
    total.frames++;
    const now = Date.now();
    if (o.onProgress && now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      o.onProgress({ bytes: total.bytes, frames: total.frames, mediaTime: f.ntpTime });
    }
    if (f.flags.end) await closeFile(); // last frame before a gap
  };

  // The session may fail (abort, timeout) while a frame is still being written or a file opened:
  // cleanup must wait for that frame, or a .part created just after the cleanup would stay behind.
  let inflight: Promise<void> = Promise.resolve();
  const trackedOnFrame = (f: ReplayFrame): Promise<void> => (inflight = onFrame(f));

  try {
    await replay({
      url: o.url,
      user: o.user,
      password: o.password,
      from: o.from,
      to: o.to,
      rateControl: o.rateControl,
      allowBasicAuth: o.allowBasicAuth,
      timeouts: o.timeouts,
      coverageToleranceMs: o.coverageToleranceMs,
      signal: o.signal,
      log: o.log,
      onTrack: (t) => {
        track = t;
      },
      onFrame: trackedOnFrame,
    });
    await closeFile();
    o.onProgress?.({ bytes: total.bytes, frames: total.frames, mediaTime: completed.length ? completed[completed.length - 1].end : o.from });
    return completed;
  } catch (e) {
    await inflight.catch(() => undefined);
    const kind = e instanceof RtspError ? e.kind : isDiskFull(e) ? 'disk-full' : 'write';
    // Keep what arrived: a replay cut short by the network, an idle server, its deadline or an
    // abort still leaves a valid file up to its last frame, and only the rest is fetched again.
    // A write failure (disk full...) cannot finish a file: it is dropped below.
    if (kind !== 'write' && kind !== 'disk-full' && file) await closeFile().catch(() => undefined);
    const cur = file;
    file = undefined;
    held = undefined;
    if (cur) await cur.writer.abort();
    total = { bytes: 0, frames: 0 };
    const msg = errorMessage(e);
    throw new ReplayToFilesError(`replay of ${maskUrl(o.url)} failed: ${msg}`, completed, kind, e);
  }
}

function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Picture size, codec string and decoder config from the keyframe's in-band parameter sets,
 * else from the SDP. A JPEG frame's size is in its SOF (the depacketizer built it). */
function segmentInfo(track: VideoTrack, keyframe: Uint8Array): SegmentInfo {
  const sdpSets = sdpParameterSets(track);
  let pic: PictureInfo | undefined;
  let mpeg4Config: Uint8Array | undefined;
  let description: Uint8Array | undefined;
  if (track.codec === 'H264' || track.codec === 'H265') {
    const h265 = track.codec === 'H265';
    const typeOf = (n: Uint8Array) => (h265 ? (n[0] >> 1) & 0x3f : n[0] & 0x1f);
    const inBand = splitLengthPrefixed(keyframe);
    // One source for all sets, so SPS and PPS always belong together.
    const sets = inBand.some((n) => typeOf(n) === (h265 ? 33 : 7)) ? inBand : sdpSets;
    const ofType = (t: number) => sets.filter((n) => n.length > 0 && typeOf(n) === t);
    const sps = ofType(h265 ? 33 : 7);
    if (sps.length > 0) {
      pic = h265 ? parseH265Sps(sps[0]) : parseH264Sps(sps[0]);
      description = h265 ? hevcDecoderConfig(ofType(32), sps, ofType(34), pic) : avcDecoderConfig(sps, ofType(8), pic);
    }
  } else if (track.codec === 'MPEG4') {
    const cfg = sdpSets[0];
    mpeg4Config = cfg && cfg.length > 0 ? cfg : mpeg4HeadersOf(keyframe);
    pic = parseMpeg4Vol(mpeg4Config.length ? mpeg4Config : keyframe);
  } else if (track.codec === 'JPEG') {
    const { width, height } = parseJpeg(Buffer.from(keyframe.buffer, keyframe.byteOffset, keyframe.byteLength));
    pic = { width, height, codecString: 'jpeg' };
  }
  const width = pic?.width ?? track.width;
  const height = pic?.height ?? track.height;
  if (!width || !height) throw new Error(`cannot tell the picture size of the ${track.codec} stream (no SPS/VOL in the stream or SDP)`);
  if ((track.codec === 'H264' || track.codec === 'H265') && !description)
    throw new Error(`${track.codec} stream without an SPS (neither in-band nor in the SDP)`);
  return { codec: track.codec, width, height, codecString: pic?.codecString ?? '', description, mpeg4Config };
}

/** MPEG-4 Visual: the VOS/VO/VOL headers in front of the first GOV/VOP of a keyframe. */
function mpeg4HeadersOf(frame: Uint8Array): Uint8Array {
  for (let i = 0; i + 3 < frame.length; i++) {
    if (frame[i] === 0 && frame[i + 1] === 0 && frame[i + 2] === 1 && (frame[i + 3] === 0xb3 || frame[i + 3] === 0xb6)) return frame.subarray(0, i);
  }
  return new Uint8Array(0);
}
