// The parts of an SDP (RFC 4566) a video replay needs: the first video media's payload format,
// its fmtp parameters (codec config) and control URL.

export type VideoCodec = 'H264' | 'H265' | 'MPEG4' | 'JPEG';

export interface VideoTrack {
  codec: VideoCodec;
  payloadType: number;
  clockRate: number;
  /** Absolute URL for SETUP. */
  controlUrl: string;
  fmtp: Map<string, string>;
  /** From a=framerate, if given. */
  fps?: number;
  /** From a=x-dimensions / a=framesize / a=cliprect, if given (the SPS/VOL is authoritative). */
  width?: number;
  height?: number;
}

const CODECS: Record<string, VideoCodec> = { H264: 'H264', H265: 'H265', 'MP4V-ES': 'MPEG4', JPEG: 'JPEG' };

export function resolveControl(base: string, control: string | undefined): string {
  if (!control || control === '*') return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return (base.endsWith('/') ? base : base + '/') + control;
}

export function parseSdp(sdp: string, baseUrl: string): VideoTrack {
  let sessionControl: string | undefined;
  let inVideo = false;
  let seenVideo = false;
  let pts: number[] = [];
  const rtpmap = new Map<number, { name: string; clock: number }>();
  const fmtp = new Map<number, Map<string, string>>();
  let control: string | undefined;
  let fps: number | undefined;
  let width: number | undefined;
  let height: number | undefined;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      if (seenVideo) break; // only the first video media
      inVideo = line.startsWith('m=video');
      if (inVideo) {
        seenVideo = true;
        pts = line.split(/\s+/).slice(3).map(Number);
      }
      continue;
    }
    if (!line.startsWith('a=')) continue;
    const [key, ...restParts] = line.slice(2).split(':');
    const rest = restParts.join(':');
    if (!seenVideo) {
      if (key === 'control') sessionControl = rest;
      continue;
    }
    if (!inVideo) continue;
    if (key === 'control') control = rest;
    else if (key === 'rtpmap') {
      const m = /^(\d+)\s+([^/]+)\/(\d+)/.exec(rest);
      if (m) rtpmap.set(Number(m[1]), { name: m[2].toUpperCase(), clock: Number(m[3]) });
    } else if (key === 'fmtp') {
      const m = /^(\d+)\s+(.*)$/.exec(rest);
      if (m) {
        const params = new Map<string, string>();
        for (const kv of m[2].split(';')) {
          const eq = kv.indexOf('=');
          if (eq > 0) params.set(kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim());
        }
        fmtp.set(Number(m[1]), params);
      }
    } else if (key === 'framerate') fps = Number(rest) || undefined;
    else if (key === 'x-dimensions') {
      const [w, h] = rest.split(',').map(Number);
      if (w > 0 && h > 0) [width, height] = [w, h];
    } else if (key === 'framesize') {
      const m = /\d+\s+(\d+)-(\d+)/.exec(rest);
      if (m) [width, height] = [Number(m[1]), Number(m[2])];
    }
  }
  if (!seenVideo) throw new Error('SDP has no video media');
  for (const pt of pts) {
    const map = rtpmap.get(pt) ?? (pt === 26 ? { name: 'JPEG', clock: 90000 } : undefined);
    const codec = map && CODECS[map.name];
    if (!map || !codec) continue;
    const base = sessionControl && /^rtsp:\/\//i.test(sessionControl) ? sessionControl : baseUrl;
    return { codec, payloadType: pt, clockRate: map.clock, controlUrl: resolveControl(base, control), fmtp: fmtp.get(pt) ?? new Map(), fps, width, height };
  }
  const names = pts.map((p) => rtpmap.get(p)?.name ?? String(p)).join(', ');
  throw new Error(`unsupported video payload format in SDP (${names}); supported: H264, H265, MP4V-ES, JPEG`);
}
