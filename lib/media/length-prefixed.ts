// NAL units with a 4-byte big-endian length in front of each (ISO 14496-15, the MP4 sample
// format). The depacketizers write frames this way so the muxer stores them without converting.

/** NAL unit payloads of a length-prefixed buffer, as views into it; throws on a size past the end. */
export function splitLengthPrefixed(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 0;
  while (o + 4 <= buf.length) {
    const size = ((buf[o] << 24) >>> 0) + (buf[o + 1] << 16) + (buf[o + 2] << 8) + buf[o + 3];
    o += 4;
    if (o + size > buf.length) throw new Error('length-prefixed NAL unit runs past the end of the frame');
    out.push(buf.subarray(o, o + size));
    o += size;
  }
  if (o !== buf.length) throw new Error('trailing bytes after the last length-prefixed NAL unit');
  return out;
}

/** Joins NAL units into one length-prefixed access unit. */
export function joinLengthPrefixed(nals: Uint8Array[]): Buffer {
  let len = 0;
  for (const n of nals) len += 4 + n.length;
  const out = Buffer.allocUnsafe(len);
  let o = 0;
  for (const n of nals) {
    out.writeUInt32BE(n.length, o);
    out.set(n, o + 4);
    o += 4 + n.length;
  }
  return out;
}
