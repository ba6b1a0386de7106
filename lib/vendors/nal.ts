// What the demuxers need to know about H.264/H.265 access units: is it a keyframe, which codec.
export type VendorVideoCodec = 'H264' | 'H265';

/** Start offsets of the NAL units (after their 00 00 01 / 00 00 00 01 start codes). */
function* nalStarts(b: Uint8Array): Generator<number> {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 0 && b[i + 1] === 0) {
      if (b[i + 2] === 1) {
        yield i + 3;
        i += 2;
      } else if (b[i + 2] === 0 && b[i + 3] === 1) {
        yield i + 4;
        i += 3;
      }
    }
  }
}

/** An IDR (H.264 type 5) or IRAP (H.265 types 16–21) picture in the access unit. */
export function isKeyframe(au: Uint8Array, codec: VendorVideoCodec): boolean {
  for (const s of nalStarts(au)) {
    if (s >= au.length) continue;
    const t = codec === 'H265' ? (au[s] >> 1) & 0x3f : au[s] & 0x1f;
    if (codec === 'H265' ? t >= 16 && t <= 21 : t === 5) return true;
  }
  return false;
}

/** Guess the codec from the first NAL header when no stream map says it: H.265 parameter sets
 * and AUDs start 0x40/0x42/0x44/0x46 (types 32–35), which are invalid (type 0) in H.264. */
export function guessCodec(au: Uint8Array): VendorVideoCodec | undefined {
  for (const s of nalStarts(au)) {
    if (s >= au.length) continue;
    const b = au[s];
    if (b === 0x40 || b === 0x42 || b === 0x44 || b === 0x46) return 'H265';
    const t = b & 0x1f;
    if ((b & 0x80) === 0 && t >= 1 && t <= 12) return 'H264';
    return undefined;
  }
  return undefined;
}
