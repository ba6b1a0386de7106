// Keyframe spacing of a file we wrote, from its own index: fmp4-writer ends every file with an mfra
// box whose tfra lists [decode time, moof offset] of each fragment that starts with a keyframe, and
// a fragment starts at the first keyframe after 1 s of media. So the largest step between two tfra
// times is the camera's largest GOP in that file (rounded up to whole GOPs when its GOP is under
// 1 s, or when a fragment was cut at its frame or byte cap): an upper bound, which is the safe side
// for the sync, which asks one GOP early. Two small reads at the end of the file, whatever its size.
import { open } from 'node:fs/promises';
import { TIMESCALE } from './fmp4-writer';

/** An index larger than this is not one of ours (a day of 1 s fragments is ~1.6 MB). */
const MAX_MFRA_BYTES = 4 * 1024 * 1024;

/** Largest interval between keyframe-led fragments in `path`, in ms; undefined when the file has
 * fewer than two, has no mfra index, or cannot be read. */
export async function largestKeyframeIntervalMs(path: string): Promise<number | undefined> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    if (size < 16) return undefined;
    const mfro = Buffer.alloc(16);
    await fh.read(mfro, 0, 16, size - 16);
    if (mfro.toString('latin1', 4, 8) !== 'mfro') return undefined;
    const mfraSize = mfro.readUInt32BE(12);
    if (mfraSize < 16 + 16 || mfraSize > Math.min(size, MAX_MFRA_BYTES)) return undefined;
    const mfra = Buffer.alloc(mfraSize);
    await fh.read(mfra, 0, mfraSize, size - mfraSize);
    if (mfra.toString('latin1', 4, 8) !== 'mfra') return undefined;
    const times = tfraTimes(mfra.subarray(8, mfraSize - 16));
    let largest = 0;
    for (let i = 1; i < times.length; i++) largest = Math.max(largest, times[i] - times[i - 1]);
    return largest > 0 ? (largest / TIMESCALE) * 1000 : undefined;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Decode times of the first tfra box among `boxes` (ISO/IEC 14496-12 §8.8.10). */
function tfraTimes(boxes: Buffer): number[] {
  let o = 0;
  while (o + 8 <= boxes.length) {
    const size = boxes.readUInt32BE(o);
    if (size < 8 || o + size > boxes.length) return [];
    if (boxes.toString('latin1', o + 4, o + 8) === 'tfra' && size >= 24) {
      const version = boxes[o + 8];
      const sizes = boxes.readUInt32BE(o + 16);
      const entries = boxes.readUInt32BE(o + 20);
      const wide = version === 1 ? 8 : 4;
      const entryBytes = 2 * wide + ((sizes >> 4) & 3) + 1 + ((sizes >> 2) & 3) + 1 + (sizes & 3) + 1;
      const out: number[] = [];
      let p = o + 24;
      for (let i = 0; i < entries && p + entryBytes <= o + size; i++, p += entryBytes) {
        out.push(wide === 8 ? Number(boxes.readBigUInt64BE(p)) : boxes.readUInt32BE(p));
      }
      return out;
    }
    o += size;
  }
  return [];
}
