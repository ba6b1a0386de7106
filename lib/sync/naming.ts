// File names sortable by time and safe on every filesystem (no ':'):
// <camera folder>/<YYYY-MM-DD>/<Camera>_<YYYY-MM-DDTHH-MM-SSZ>_<YYYY-MM-DDTHH-MM-SSZ>.mp4 (UTC,
// so names never jump or repeat at daylight-saving changes).
import { join, basename } from 'node:path';

export function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
}

/** Every codec we write (H.264, H.265, MPEG-4 Visual, Motion-JPEG) goes into MP4; the codec
 * parameter stays for a future codec that needs another container. */
export function extensionFor(_codec: string): string {
  return 'mp4';
}

export function segmentPath(cameraFolder: string, start: Date, end: Date, codec: string): string {
  const day = start.toISOString().slice(0, 10);
  return join(cameraFolder, day, `${basename(cameraFolder)}_${stamp(start)}_${stamp(end)}.${extensionFor(codec)}`);
}
