// Checks with Debian's ffprobe: what a player would see in a written file.
import { execFileSync } from 'node:child_process';

export interface Probe {
  codec: string;
  width: number;
  height: number;
  /** Decoded frames (decode: true) or demuxed packets (decode: false). */
  frames: number;
  durationSec: number;
}

/**
 * decode: true decodes every frame (proves the file plays; ~25 s for 10 min of 1080p here), false
 * counts the demuxed packets (container-level, fast). Specs decode at least one file per codec.
 */
export function probe(file: string, o: { decode: boolean } = { decode: true }): Probe {
  const count = o.decode ? ['-count_frames'] : ['-count_packets'];
  const field = o.decode ? 'nb_read_frames' : 'nb_read_packets';
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    ...count,
    '-select_streams',
    'v:0',
    '-show_entries',
    `stream=codec_name,width,height,${field}:format=duration`,
    '-of',
    'json',
    file,
  ]).toString();
  const j = JSON.parse(out) as { streams: Array<Record<string, string | number>>; format: { duration: string } };
  const s = j.streams[0];
  return { codec: String(s.codec_name), width: Number(s.width), height: Number(s.height), frames: Number(s[field]), durationSec: Number(j.format.duration) };
}

/** MD5 of every decoded frame, in order (ffmpeg framemd5); `fmt` forces the input format. */
export function frameMd5s(file: string, fmt?: string): string[] {
  const args = ['-v', 'error', ...(fmt ? ['-f', fmt] : []), '-i', file, '-map', '0:v', '-f', 'framemd5', '-'];
  return execFileSync('ffmpeg', args, { maxBuffer: 64 << 20 })
    .toString()
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').pop()?.trim() ?? '');
}
