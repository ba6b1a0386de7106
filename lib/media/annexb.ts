// Annex-B byte streams: NAL units separated by 00 00 01 / 00 00 00 01 start codes.

/** NAL unit payloads (without start codes) of an Annex-B buffer, as views into it. */
export function splitAnnexB(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = -1;
  const n = buf.length;
  let i = 0;
  while (i + 2 < n) {
    if (buf[i + 2] > 1) {
      i += 3; // fast skip: no start code can end at i+2
      continue;
    }
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && buf[end - 1] === 0) end--; // trailing zero of a 4-byte start code
        out.push(buf.subarray(start, end));
      }
      start = i + 3;
      i += 3;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < n) out.push(buf.subarray(start, n));
  return out;
}

const START_CODE = Buffer.from([0, 0, 0, 1]);

/** Joins NAL units into one Annex-B access unit with 4-byte start codes. */
export function joinAnnexB(nals: Uint8Array[]): Buffer {
  let len = 0;
  for (const n of nals) len += 4 + n.length;
  const out = Buffer.allocUnsafe(len);
  let o = 0;
  for (const n of nals) {
    START_CODE.copy(out, o);
    out.set(n, o + 4);
    o += 4 + n.length;
  }
  return out;
}
