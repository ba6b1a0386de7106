// The last step of every file we write, whichever way its frames came (RTSP replay or a vendor
// download): the writer fsyncs and renames `.part` into place, then the folder is fsynced too
// (or a power loss can lose a file the catalog already lists), and the file is described once.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SegmentInfo, SegmentWriter } from './segment-writer';
import type { WrittenFile } from './replay-types';

/** What the writer knows of a file when it closes it; finishFile adds the rest of a WrittenFile. */
export interface FinishedRange extends Pick<WrittenFile, 'start' | 'end' | 'durationSec' | 'frames'> {
  info: SegmentInfo;
  /** Wall-clock ms when the file was opened (for speedX). */
  openedAt: number;
}

/** Rename the writer's file to `path` durably and describe it. The caller aborts the writer if this throws. */
export async function finishFile(writer: SegmentWriter, path: string, r: FinishedRange): Promise<WrittenFile> {
  await mkdir(dirname(path), { recursive: true });
  const bytes = await writer.finish(path);
  await fsyncDir(dirname(path));
  const wallSec = Math.max(1, Date.now() - r.openedAt) / 1000;
  return {
    path,
    start: r.start,
    end: r.end,
    durationSec: r.durationSec,
    frames: r.frames,
    bytes,
    codec: r.info.codec,
    width: r.info.width,
    height: r.info.height,
    speedX: r.durationSec / wallSec,
  };
}

/** Some filesystems (SMB, Windows) refuse fsync on a folder: best effort. */
async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r').catch(() => undefined);
  if (!h) return;
  try {
    await h.sync();
  } catch {
    // not supported here
  } finally {
    await h.close();
  }
}
