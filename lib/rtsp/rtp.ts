// RTP fixed header (RFC 3550) and the ONVIF replay header extension 0xABAC (ONVIF Streaming
// spec §6.3): NTP time of the frame and flags C (clean point), E (end of contiguous section),
// D (discontinuity), T (terminal).

export interface OnvifExtension {
  /** Milliseconds since the Unix epoch. */
  timeMs: number;
  clean: boolean;
  end: boolean;
  discontinuity: boolean;
  terminal: boolean;
  cseq: number;
}

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
  onvif?: OnvifExtension;
}

const NTP_EPOCH_OFFSET_S = 2208988800;

export function parseRtp(b: Buffer): RtpPacket {
  if (b.length < 12 || b[0] >> 6 !== 2) throw new Error('not an RTP v2 packet');
  const cc = b[0] & 0x0f;
  let off = 12 + cc * 4;
  let onvif: OnvifExtension | undefined;
  if (b[0] & 0x10) {
    if (b.length < off + 4) throw new Error('truncated RTP header extension');
    const profile = b.readUInt16BE(off);
    const words = b.readUInt16BE(off + 2);
    if (b.length < off + 4 + words * 4) throw new Error('truncated RTP header extension');
    if (profile === 0xabac && words >= 3) {
      const sec = b.readUInt32BE(off + 4);
      const frac = b.readUInt32BE(off + 8);
      const f = b[off + 12];
      onvif = {
        timeMs: (sec - NTP_EPOCH_OFFSET_S) * 1000 + Math.round((frac / 2 ** 32) * 1000),
        clean: (f & 0x80) !== 0,
        end: (f & 0x40) !== 0,
        discontinuity: (f & 0x20) !== 0,
        terminal: (f & 0x10) !== 0,
        cseq: b[off + 13],
      };
    }
    off += 4 + words * 4;
  }
  let end = b.length;
  if (b[0] & 0x20) {
    end -= b[b.length - 1];
    if (end < off) throw new Error('bad RTP padding');
  }
  return {
    marker: (b[1] & 0x80) !== 0,
    payloadType: b[1] & 0x7f,
    seq: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(off, end),
    onvif,
  };
}

/** Whether an RTCP compound packet contains a BYE (PT 203). */
export function rtcpHasBye(b: Buffer): boolean {
  let off = 0;
  while (off + 4 <= b.length) {
    if (b[off + 1] === 203) return true;
    off += (b.readUInt16BE(off + 2) + 1) * 4;
  }
  return false;
}

/** NTP↔RTP time pair of an RTCP sender report (PT 200) in a compound packet, if any. */
export function rtcpSenderReport(b: Buffer): { ntpMs: number; rtpTimestamp: number } | undefined {
  let off = 0;
  while (off + 20 <= b.length) {
    if (b[off + 1] === 200) {
      const sec = b.readUInt32BE(off + 8);
      const frac = b.readUInt32BE(off + 12);
      return { ntpMs: (sec - NTP_EPOCH_OFFSET_S) * 1000 + Math.round((frac / 2 ** 32) * 1000), rtpTimestamp: b.readUInt32BE(off + 16) };
    }
    off += (b.readUInt16BE(off + 2) + 1) * 4;
  }
  return undefined;
}
