// What the vendor simulators send: the recording's frames (the same clip frames, at the same times,
// as the RTSP replay server's) wrapped as Hikvision MPEG-PS or Dahua DHAV. Our own reading of the
// public formats (ISO/IEC 13818-1 for PS; FFmpeg's libavformat/dhav.c for DHAV).
import type { Clip } from './clips';
import type { SimCameraSpec } from './types';
import type { RecordingTimeline } from './timeline';
import { dhavDate } from '../vendors/dhav-demux';

export interface PlannedVendorFrame {
  /** UTC ms of the frame. */
  timeMs: number;
  /** Frame number since the recording start. */
  n: number;
  clipIndex: number;
  keyframe: boolean;
}

/**
 * Frames recorded in [fromMs, toMs): frame n is at start + n/fps and shows clip frame n mod length.
 * `backToKeyframe`: begin at the keyframe at or before `fromMs` when it is recorded (Dahua);
 * otherwise at the first frame at or after `fromMs` (Hikvision, see lib/vendors/hikvision.ts).
 */
export function* vendorFrames(
  cam: SimCameraSpec,
  clip: Clip,
  timeline: RecordingTimeline,
  fromMs: number,
  toMs: number,
  backToKeyframe: boolean,
): Generator<PlannedVendorFrame> {
  const L = clip.frames.length;
  const rec = cam.recording.start.getTime();
  const timeOf = (n: number) => rec + (n * 1000) / cam.fps;
  const firstAtOrAfter = (t: number) => Math.max(0, Math.ceil(((t - rec) * cam.fps) / 1000 - 1e-6));
  const key = (n: number) => clip.frames[n % L].keyframe;
  for (const [i, iv] of timeline.intervals(new Date(fromMs), new Date(toMs)).entries()) {
    let n = firstAtOrAfter(iv.start.getTime());
    const end = firstAtOrAfter(iv.end.getTime());
    if (i === 0 && backToKeyframe && !key(n)) {
      let k = n;
      while (k > 0 && !key(k)) k--;
      if (key(k) && timeline.has(new Date(timeOf(k)))) n = k;
    }
    for (; n < end; n++) yield { timeMs: timeOf(n), n, clipIndex: n % L, keyframe: key(n) };
  }
}

// ---- Hikvision: IMKH media header + MPEG program stream ----

/** 40-byte "IMKH" header. Its fields (version, system format, codecs, audio parameters) are not
 * interpreted by our client; these values only make it look like the public hex dumps. */
export function imkhHeader(codec: 'H264' | 'H265'): Buffer {
  const b = Buffer.alloc(40);
  b.write('IMKH', 0, 'latin1');
  b.writeUInt16LE(0x0102, 4); // version
  b.writeUInt16LE(0x0002, 6); // system format: PS
  b.writeUInt16LE(codec === 'H265' ? 0x0005 : 0x0100, 8); // video codec
  b.writeUInt16LE(0x7110, 10); // audio codec
  b[12] = 1; // audio channels
  b[13] = 16; // bits per sample
  b.writeUInt32LE(8000, 16); // sample rate
  b.writeUInt32LE(16000, 20); // audio bit rate
  return b;
}

/** Some firmware sends the IMKH header inside a 64-byte block (the rest unknown to us; zeros). */
export function imkhEnvelope(codec: 'H264' | 'H265'): Buffer {
  const b = Buffer.alloc(64);
  imkhHeader(codec).copy(b, 0);
  return b;
}

function packHeader(scr: number): Buffer {
  // MPEG-2 pack header, SCR base = scr (90 kHz), mux rate arbitrary, no stuffing.
  const b = Buffer.alloc(14);
  b.writeUInt32BE(0x000001ba, 0);
  const hi = Math.floor(scr / 2 ** 30) & 0x07;
  const mid = Math.floor(scr / 2 ** 15) & 0x7fff;
  const lo = scr & 0x7fff;
  b[4] = 0x44 | (hi << 3) | (mid >> 13);
  b[5] = (mid >> 5) & 0xff;
  b[6] = ((mid & 0x1f) << 3) | 0x04 | (lo >> 13);
  b[7] = (lo >> 5) & 0xff;
  b[8] = ((lo & 0x1f) << 3) | 0x04;
  b[9] = 0x01;
  b[10] = 0x89;
  b[11] = 0xc3;
  b[12] = 0xff;
  b[13] = 0xf8; // reserved + stuffing length 0
  return b;
}

function systemHeader(): Buffer {
  const body = Buffer.from([0x80, 0xc4, 0xe1, 0x04, 0xe1, 0xff, 0xe0, 0xe0, 0x80, 0xc0, 0xc0, 0x08]);
  const b = Buffer.alloc(6);
  b.writeUInt32BE(0x000001bb, 0);
  b.writeUInt16BE(body.length, 4);
  return Buffer.concat([b, body]);
}

function psm(codec: 'H264' | 'H265'): Buffer {
  const entries = Buffer.from([codec === 'H265' ? 0x24 : 0x1b, 0xe0, 0x00, 0x00, 0x90, 0xc0, 0x00, 0x00]); // video + G.711 audio
  const body = Buffer.alloc(2 + 2 + 2 + entries.length + 4);
  body[0] = 0xe0; // current_next + version
  body[1] = 0xff;
  body.writeUInt16BE(0, 2); // no program descriptors
  body.writeUInt16BE(entries.length, 4);
  entries.copy(body, 6);
  // CRC not checked by our demuxer; left zero.
  const h = Buffer.alloc(6);
  h.writeUInt32BE(0x000001bc, 0);
  h.writeUInt16BE(body.length, 4);
  return Buffer.concat([h, body]);
}

function pes(streamId: number, payload: Buffer, pts?: number): Buffer {
  const hdrData = pts === undefined ? Buffer.alloc(0) : ptsBytes(pts);
  const h = Buffer.alloc(9);
  h.writeUInt32BE(0x00000100 | streamId, 0);
  h.writeUInt16BE(3 + hdrData.length + payload.length, 4);
  h[6] = 0x80;
  h[7] = pts === undefined ? 0x00 : 0x80;
  h[8] = hdrData.length;
  return Buffer.concat([h, hdrData, payload]);
}

function ptsBytes(pts: number): Buffer {
  const p = pts % 2 ** 33;
  const b = Buffer.alloc(5);
  const hi = Math.floor(p / 2 ** 30) & 0x07;
  const mid = Math.floor(p / 2 ** 15) & 0x7fff;
  const lo = p & 0x7fff;
  b[0] = 0x21 | (hi << 1);
  b[1] = mid >> 7;
  b[2] = ((mid & 0x7f) << 1) | 1;
  b[3] = lo >> 7;
  b[4] = ((lo & 0x7f) << 1) | 1;
  return b;
}

/** Largest PES payload per packet (Hikvision splits a frame over several PES, the first with PTS). */
const PES_PAYLOAD = 65000 - 14;

/** One frame as PS: pack header, [system header + PSM before keyframes], video PES packets, and a
 * small private-data PES (0xBD, as Hikvision streams carry) that the client must skip. */
export function psFrame(data: Buffer, keyframe: boolean, codec: 'H264' | 'H265', pts: number): Buffer {
  const parts: Buffer[] = [packHeader(pts)];
  if (keyframe) parts.push(systemHeader(), psm(codec));
  for (let o = 0; o < data.length; o += PES_PAYLOAD) parts.push(pes(0xe0, data.subarray(o, o + PES_PAYLOAD), o === 0 ? pts : undefined));
  if (keyframe) parts.push(pes(0xbd, Buffer.alloc(12, 0x11)));
  return Buffer.concat(parts);
}

// ---- Dahua: DHAV ----

export function dhavFrame(o: {
  data: Buffer;
  keyframe: boolean;
  codec: 'H264' | 'H265';
  frameNumber: number;
  wallMs: number;
  width: number;
  height: number;
  fps: number;
  channel: number;
}): Buffer {
  const ext: Buffer[] = [];
  if (o.keyframe) {
    const e82 = Buffer.alloc(8);
    e82[0] = 0x82;
    e82.writeUInt16LE(o.width, 4);
    e82.writeUInt16LE(o.height, 6);
    const e81 = Buffer.from([0x81, 0x00, o.codec === 'H265' ? 0x0c : 0x02, o.fps]);
    ext.push(e82, e81);
  }
  return dhavPacket(o.keyframe ? 0xfd : 0xfc, o.channel, o.frameNumber, o.wallMs, Buffer.concat(ext), o.data);
}

/** A short audio frame (G.711A), which the client must skip. */
export function dhavAudio(frameNumber: number, wallMs: number, channel: number): Buffer {
  return dhavPacket(0xf0, channel, frameNumber, wallMs, Buffer.from([0x83, 0x01, 0x0e, 0x02]), Buffer.alloc(320, 0xd5));
}

function dhavPacket(type: number, channel: number, frameNumber: number, wallMs: number, ext: Buffer, payload: Buffer): Buffer {
  const len = 24 + ext.length + payload.length + 8;
  const h = Buffer.alloc(24);
  h.write('DHAV', 0, 'latin1');
  h[4] = type;
  h[5] = 0;
  h[6] = channel & 0xff;
  h[7] = 0;
  h.writeUInt32LE(frameNumber >>> 0, 8);
  h.writeUInt32LE(len, 12);
  h.writeUInt32LE(dhavDate(Math.floor(wallMs / 1000) * 1000), 16);
  h.writeUInt16LE(Math.round(wallMs) % 65536, 20);
  h[22] = ext.length;
  let sum = 0;
  for (let i = 0; i < 23; i++) sum += h[i];
  h[23] = sum & 0xff; // checksum as commonly described; not checked by FFmpeg or us
  const t = Buffer.alloc(8);
  t.write('dhav', 0, 'latin1');
  t.writeUInt32LE(len, 4);
  return Buffer.concat([h, ext, payload, t]);
}
