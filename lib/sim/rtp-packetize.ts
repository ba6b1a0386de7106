// Cuts one clip access unit into RTP payloads (no RTP header yet): RFC 6184 (H.264 single NAL /
// FU-A), RFC 7798 (H.265 single / FU), RFC 6416 (MPEG-4 Visual, the frame split at the MTU),
// RFC 2435 (Motion-JPEG, rtp-packetize-jpeg.ts).
// Payloads depend only on the clip, so the server computes them once per clip frame.
import type { Clip } from './clips';
import { splitAnnexB } from '../media/annexb';
import { packetizeJpeg } from './rtp-packetize-jpeg';

export const MAX_PAYLOAD = 1400;

export function packetizeH264(au: Uint8Array, max = MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of splitAnnexB(au)) {
    if (nal.length <= max) {
      out.push(Buffer.from(nal));
      continue;
    }
    const indicator = (nal[0] & 0xe0) | 28; // F + NRI from the NAL, type FU-A
    const type = nal[0] & 0x1f;
    for (let off = 1; off < nal.length; off += max - 2) {
      const end = Math.min(nal.length, off + max - 2);
      const p = Buffer.allocUnsafe(2 + end - off);
      p[0] = indicator;
      p[1] = (off === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
      p.set(nal.subarray(off, end), 2);
      out.push(p);
    }
  }
  return out;
}

export function packetizeH265(au: Uint8Array, max = MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of splitAnnexB(au)) {
    if (nal.length <= max) {
      out.push(Buffer.from(nal));
      continue;
    }
    const type = (nal[0] >> 1) & 0x3f;
    const h0 = (nal[0] & 0x81) | (49 << 1); // keep F and LayerId high bit, type FU
    const h1 = nal[1];
    for (let off = 2; off < nal.length; off += max - 3) {
      const end = Math.min(nal.length, off + max - 3);
      const p = Buffer.allocUnsafe(3 + end - off);
      p[0] = h0;
      p[1] = h1;
      p[2] = (off === 2 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
      p.set(nal.subarray(off, end), 3);
      out.push(p);
    }
  }
  return out;
}

export function packetizeMpeg4(au: Uint8Array, max = MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < au.length; off += max) out.push(Buffer.from(au.subarray(off, Math.min(au.length, off + max))));
  return out;
}

const cache = new WeakMap<Clip, Buffer[][]>();

/** RTP payloads of every frame of a clip, cached per clip. */
export function clipPayloads(clip: Clip): Buffer[][] {
  let p = cache.get(clip);
  if (!p) {
    const fn =
      clip.codec === 'H264'
        ? packetizeH264
        : clip.codec === 'H265'
          ? packetizeH265
          : clip.codec === 'MPEG4'
            ? packetizeMpeg4
            : clip.codec === 'JPEG'
              ? (au: Uint8Array) => packetizeJpeg(au)
              : undefined;
    if (!fn) throw new Error(`RTP packetizing of ${clip.codec} is not implemented`);
    p = clip.frames.map((f) => fn(f.data));
    cache.set(clip, p);
  }
  return p;
}
