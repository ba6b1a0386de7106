// File names sortable by time and safe on every filesystem (no ':'):
// <camera folder>/<YYYY-MM-DD>/<Camera>_<YYYY-MM-DDTHH-MM-SSZ>_<YYYY-MM-DDTHH-MM-SSZ>.mp4 (UTC,
// so names never jump or repeat at daylight-saving changes).
import { join, basename } from 'node:path';
import type { TimeRange } from '../time/range';

export function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-');
}

/** Every codec we write (H.264, H.265, MPEG-4 Visual, Motion-JPEG) goes into MP4. */
export function segmentPath(cameraFolder: string, start: Date, end: Date): string {
  const day = start.toISOString().slice(0, 10);
  return join(cameraFolder, day, `${basename(cameraFolder)}_${stamp(start)}_${stamp(end)}.mp4`);
}

const NAME_TIMES = /_(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)_(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)\.mp4$/;

/** Start and end from a name segmentPath made (whole seconds: the name drops milliseconds). */
export function parseSegmentName(file: string): TimeRange | undefined {
  const m = NAME_TIMES.exec(basename(file));
  if (!m) return undefined;
  const back = (st: string) => new Date(st.replace(/T(\d\d)-(\d\d)-(\d\d)Z$/, 'T$1:$2:$3Z'));
  const start = back(m[1]);
  const end = back(m[2]);
  return Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start ? undefined : { start, end };
}

/** How a replay or download names its files, as plain data: it crosses to the worker thread by
 * structured clone, and the worker names each file itself (no question to the main thread).
 * - camera-folder: the archive's rule, segmentPath(folder, start, end);
 * - numbered: one requested file, further ones beside it as `<file>-1.mp4`, `-2` … (the replay CLI). */
export type FileNaming = { kind: 'camera-folder'; folder: string } | { kind: 'numbered'; file: string };

/** The rule as a function for one job: a file is named by its start (and end) time. The `.part`
 * name is that of (start, range end) while writing, the final one that of (start, end). The
 * numbered rule remembers the starts it has named, so one job gets one namer. */
export function fileNamer(n: FileNaming): (start: Date, end: Date) => string {
  if (n.kind === 'camera-folder') {
    if (!n.folder || !basename(n.folder)) throw new Error(`file naming: "${n.folder}" is not a camera folder`);
    return (start, end) => segmentPath(n.folder, start, end);
  }
  if (!n.file) throw new Error('file naming: no output file');
  const names = new Map<number, string>();
  const base = n.file.replace(/\.mp4$/i, '');
  return (start) => {
    let p = names.get(start.getTime());
    if (!p) {
      p = names.size === 0 ? n.file : `${base}-${names.size}.mp4`;
      names.set(start.getTime(), p);
    }
    return p;
  };
}
