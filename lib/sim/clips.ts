// Sample clips for the simulator: elementary streams under assets/clips cut into access units
// (one per frame, decode order = presentation order, see scripts/make-clips.sh) plus the codec
// configuration the SDP advertises. Loaded once per process and cached. Motion-JPEG clips (.mjpeg,
// concatenated JPEG files) are cut into one JPEG per frame, every frame a keyframe.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { SimCodec } from './types';
import { joinAnnexB, splitAnnexB } from '../media/annexb';
import { parseH264Sps, parseH265Sps, parseMpeg4Vol } from '../media/codec-params';
import { parseJpeg, splitJpegs } from '../media/jpeg';

export interface ClipFrame {
  /** One access unit: Annex-B with 4-byte start codes (H.264/H.265), the VOP with any headers before it (MPEG-4), or a JPEG file. */
  data: Buffer;
  keyframe: boolean;
}

export interface ClipConfig {
  /** H.264/H.265 parameter sets, NAL units without start codes. */
  vps?: Buffer;
  sps?: Buffer;
  pps?: Buffer;
  /** MPEG-4 Visual: VOS/VO/VOL headers before the first GOV/VOP. */
  vol?: Buffer;
}

export interface Clip {
  id: string;
  codec: SimCodec;
  frames: ClipFrame[];
  config: ClipConfig;
  width: number;
  height: number;
  codecString: string;
}

const EXT: Record<string, SimCodec> = {
  '.h264': 'H264',
  '.264': 'H264',
  '.h265': 'H265',
  '.265': 'H265',
  '.hevc': 'H265',
  '.m4v': 'MPEG4',
  '.mjpeg': 'JPEG',
  '.mjpg': 'JPEG',
};

/** The package root: the nearest folder upwards with our package.json (works from lib/ and dist/lib/). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === '@vtrack/node-red-onvif') return dir;
      } catch {
        // not ours or unreadable: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('package root not found above ' + __dirname);
    dir = up;
  }
}

function resolveClip(idOrPath: string): { file: string; codec: SimCodec } {
  const extOf = (f: string) => f.slice(f.lastIndexOf('.')).toLowerCase();
  if (isAbsolute(idOrPath)) {
    const codec = EXT[extOf(idOrPath)];
    if (!codec) throw new Error(`clip ${idOrPath}: unknown extension (use .h264, .h265, .m4v or .mjpeg)`);
    return { file: idOrPath, codec };
  }
  const dir = join(packageRoot(), 'assets', 'clips');
  for (const [ext, codec] of Object.entries(EXT)) {
    const file = join(dir, idOrPath + ext);
    if (existsSync(file)) return { file, codec };
  }
  throw new Error(`clip "${idOrPath}" not found in ${dir}`);
}

const cache = new Map<string, Clip>();

export function loadClip(idOrPath: string): Clip {
  const hit = cache.get(idOrPath);
  if (hit) return hit;
  const { file, codec } = resolveClip(idOrPath);
  const buf = readFileSync(file);
  const clip = codec === 'MPEG4' ? cutMpeg4(idOrPath, buf) : codec === 'JPEG' ? cutJpeg(idOrPath, buf) : cutAnnexB(idOrPath, buf, codec);
  if (clip.frames.length === 0 || !clip.frames[0].keyframe) throw new Error(`clip ${file}: must start with a keyframe`);
  cache.set(idOrPath, clip);
  return clip;
}

function cutAnnexB(id: string, buf: Buffer, codec: 'H264' | 'H265' | 'JPEG' | 'MPEG4'): Clip {
  const h265 = codec === 'H265';
  const typeOf = (n: Uint8Array) => (h265 ? (n[0] >> 1) & 0x3f : n[0] & 0x1f);
  const isVcl = (t: number) => (h265 ? t < 32 : t >= 1 && t <= 5);
  const isKey = (t: number) => (h265 ? t >= 16 && t <= 21 : t === 5);
  // Non-VCL units that open a new access unit when they follow a picture.
  const opensAu = (t: number) => (h265 ? t >= 32 && t <= 39 : t === 6 || t === 7 || t === 8 || t === 9);
  const firstSliceOfPicture = (n: Uint8Array) => ((h265 ? n[2] : n[1]) & 0x80) !== 0;
  const frames: ClipFrame[] = [];
  const config: ClipConfig = {};
  let cur: Uint8Array[] = [];
  let curHasVcl = false;
  let curKey = false;
  const flush = () => {
    if (curHasVcl) frames.push({ data: joinAnnexB(cur), keyframe: curKey });
    cur = [];
    curHasVcl = false;
    curKey = false;
  };
  for (const nal of splitAnnexB(buf)) {
    const t = typeOf(nal);
    if (curHasVcl && (opensAu(t) || (isVcl(t) && firstSliceOfPicture(nal)))) flush();
    if (h265) {
      if (t === 32) config.vps ??= Buffer.from(nal);
      if (t === 33) config.sps ??= Buffer.from(nal);
      if (t === 34) config.pps ??= Buffer.from(nal);
    } else {
      if (t === 7) config.sps ??= Buffer.from(nal);
      if (t === 8) config.pps ??= Buffer.from(nal);
    }
    cur.push(nal);
    if (isVcl(t)) {
      curHasVcl = true;
      if (isKey(t)) curKey = true;
    }
  }
  flush();
  if (!config.sps || !config.pps || (h265 && !config.vps)) throw new Error(`clip ${id}: parameter sets missing`);
  const info = h265 ? parseH265Sps(config.sps) : parseH264Sps(config.sps);
  return { id, codec: h265 ? 'H265' : 'H264', frames, config, ...info };
}

function cutMpeg4(id: string, buf: Buffer): Clip {
  // Start codes: B0 VOS, B3 GOV, B6 VOP. An access unit is everything up to and including one VOP.
  const frames: ClipFrame[] = [];
  let auStart = 0;
  let vol: Buffer | undefined;
  let pendingKey = false;
  let vopSeen = false;
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] !== 0 || buf[i + 1] !== 0 || buf[i + 2] !== 1) continue;
    const code = buf[i + 3];
    if (vopSeen && (code === 0xb0 || code === 0xb3 || code === 0xb6)) {
      frames.push({ data: buf.subarray(auStart, i), keyframe: pendingKey });
      auStart = i;
      vopSeen = false;
    }
    if (code === 0xb3 || code === 0xb6) vol ??= buf.subarray(0, i);
    if (code === 0xb6) {
      vopSeen = true;
      pendingKey = buf[i + 4] >> 6 === 0; // vop_coding_type I
    }
    i += 3;
  }
  if (vopSeen) frames.push({ data: buf.subarray(auStart), keyframe: pendingKey });
  if (!vol || vol.length === 0) throw new Error(`clip ${id}: no VOL header before the first VOP`);
  return { id, codec: 'MPEG4', frames, config: { vol }, ...parseMpeg4Vol(vol) };
}

function cutJpeg(id: string, buf: Buffer): Clip {
  const frames = splitJpegs(buf).map((data) => ({ data, keyframe: true }));
  if (frames.length === 0) throw new Error(`clip ${id}: no JPEG frames`);
  const { width, height } = parseJpeg(frames[0].data);
  return { id, codec: 'JPEG', frames, config: {}, width, height, codecString: 'jpeg' };
}
