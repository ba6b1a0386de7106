// Frames from a vendor download (already demuxed and timed) → MP4 files through the same segment
// writer as RTSP replays (lib/media/segment-writer: `.part`, fsync, rename). Files start at a
// keyframe; a gap in the frame times (motion recording) ends a file; frames are cut to the
// requested range at keyframes: the file starts at the last keyframe at or before `from` (or the
// first one after it), and frames at or after `to` are dropped.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { splitAnnexB } from '../media/annexb';
import { joinLengthPrefixed } from '../media/length-prefixed';
import { avcDecoderConfig, hevcDecoderConfig } from '../media/decoder-config';
import { parseH264Sps, parseH265Sps } from '../media/codec-params';
import { openSegmentWriter, type SegmentInfo, type SegmentWriter } from '../media/segment-writer';
import type { WrittenFile } from '../media/replay-types';
import { finishFile } from '../media/finish-file';
import type { VendorVideoCodec } from './nal';

export interface VendorFrame {
  /** Annex-B access unit. */
  data: Buffer;
  keyframe: boolean;
  codec: VendorVideoCodec;
  /** UTC ms of the frame. */
  timeMs: number;
}

/** Frames inside [from, to): from the last keyframe at or before `from` (held back while reading
 * up to `from`, so at most one GOP is buffered), dropping everything at or after `to`. */
export async function* cutToRange(frames: AsyncIterable<VendorFrame>, fromMs: number, toMs: number): AsyncGenerator<VendorFrame> {
  let gop: VendorFrame[] = [];
  let started = false;
  for await (const f of frames) {
    if (f.timeMs >= toMs) break;
    if (!started) {
      if (f.timeMs < fromMs) {
        if (f.keyframe) gop = [f];
        else if (gop.length) gop.push(f);
        continue;
      }
      started = true;
      if (!f.keyframe && gop.length) yield* gop; // the GOP that covers `from`
      gop = [];
    }
    yield f;
  }
}

export interface FramesToFilesOptions {
  /** Path of a file (without .part) for its first frame time and end (fileNamer). */
  finalPath(start: Date, end: Date): string;
  /** Each `.part` path just before the file is created (the pool removes them if its worker dies). */
  onPartFile?(path: string): void;
  /** A gap longer than this (ms) between frames ends a file. Default 2000 (and > 3 frame intervals). */
  maxGapMs?: number;
  onFileWritten?(f: WrittenFile): void;
  signal?: AbortSignal;
}

interface OpenFile {
  writer: SegmentWriter;
  info: SegmentInfo;
  startMs: number;
  frames: number;
  bytes: number;
  openedAt: number;
  lastDeltaMs: number;
  endMs: number;
}

export async function framesToFiles(frames: AsyncIterable<VendorFrame>, o: FramesToFilesOptions): Promise<WrittenFile[]> {
  const done: WrittenFile[] = [];
  let file: OpenFile | undefined;
  let held: VendorFrame | undefined;
  const maxGap = o.maxGapMs ?? 2000;

  const writeHeld = async (cur: OpenFile, durationMs: number) => {
    if (!held) return;
    const data = joinLengthPrefixed(splitAnnexB(held.data));
    await cur.writer.add(data, held.keyframe, (held.timeMs - cur.startMs) / 1000, durationMs / 1000);
    cur.frames++;
    cur.bytes += data.length;
    cur.endMs = held.timeMs + durationMs;
    held = undefined;
  };

  const close = async () => {
    const cur = file;
    if (!cur) return;
    file = undefined;
    try {
      await writeHeld(cur, cur.lastDeltaMs);
      if (cur.frames === 0) {
        await cur.writer.abort();
        return;
      }
      // Frame times may be fractional ms (90 kHz PTS, 15 fps): round, never truncate.
      const start = new Date(Math.round(cur.startMs));
      const end = new Date(Math.round(cur.endMs));
      const path = o.finalPath(start, end);
      const w = await finishFile(cur.writer, path, {
        start,
        end,
        durationSec: (cur.endMs - cur.startMs) / 1000,
        frames: cur.frames,
        info: cur.info,
        openedAt: cur.openedAt,
      });
      done.push(w);
      o.onFileWritten?.(w);
    } catch (e) {
      await cur.writer.abort();
      throw e;
    }
  };

  try {
    for await (const f of frames) {
      if (o.signal?.aborted) throw new Error('aborted');
      if (file && held) {
        const delta = f.timeMs - held.timeMs;
        const gap = delta > Math.max(maxGap, 3 * file.lastDeltaMs) || delta <= 0 || f.codec !== file.info.codec;
        if (gap) await close();
        else {
          file.lastDeltaMs = delta;
          await writeHeld(file, delta);
        }
      }
      if (!file) {
        if (!f.keyframe) continue; // a file starts at a keyframe
        const info = segmentInfo(f);
        const part = o.finalPath(new Date(Math.round(f.timeMs)), new Date(Math.round(f.timeMs))) + '.part';
        o.onPartFile?.(part);
        await mkdir(dirname(part), { recursive: true });
        file = {
          writer: openSegmentWriter(part, info),
          info,
          startMs: f.timeMs,
          frames: 0,
          bytes: 0,
          openedAt: Date.now(),
          lastDeltaMs: 1000 / 15,
          endMs: f.timeMs,
        };
      }
      held = f;
    }
    await close();
    return done;
  } catch (e) {
    const cur = file;
    file = undefined;
    held = undefined;
    if (cur) await cur.writer.abort();
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { completed: done });
  }
}

/** Picture size, codec string and decoder configuration from a keyframe's in-band parameter sets
 * (both vendors repeat them before every keyframe). */
export function segmentInfo(f: VendorFrame): SegmentInfo {
  const h265 = f.codec === 'H265';
  const nals = splitAnnexB(f.data);
  const typeOf = (n: Uint8Array) => (h265 ? (n[0] >> 1) & 0x3f : n[0] & 0x1f);
  const ofType = (t: number) => nals.filter((n) => n.length > 0 && typeOf(n) === t);
  const sps = ofType(h265 ? 33 : 7);
  if (sps.length === 0) throw new Error(`${f.codec} keyframe without an SPS: cannot describe the stream`);
  const pic = h265 ? parseH265Sps(sps[0]) : parseH264Sps(sps[0]);
  const description = h265 ? hevcDecoderConfig(ofType(32), sps, ofType(34), pic) : avcDecoderConfig(sps, ofType(8), pic);
  return { codec: f.codec, width: pic.width, height: pic.height, codecString: pic.codecString, description };
}
