// The `replay` CLI against GStreamer's RTSP client, both as whole processes, on 120 s of the
// replay bench's 1080p clip served by the simulator's replay server (in this process, so its CPU
// is not counted) over loopback:
//   vtrack-onvif replay URL --from … --to … -o out.mp4
//   gst-launch-1.0 -e rtspsrc location=URL onvif-mode=true onvif-rate-control=false buffer-mode=none
//     latency=0 ! rtponvifparse ! rtph264depay ! h264parse ! mp4mux ! filesink location=out.mp4
// GStreamer 1.22 (Debian 12) needs buffer-mode=none and latency=0: with its jitter buffer slaved
// to the sender clock a Rate-Control: no replay stalls after ~0.5 s of video. rtponvifparse is in
// gst-plugins-bad; without it the pipeline leaves it out and says so. Runs alternate (ours,
// GStreamer, ours, …) after one warm-up each, so a drift of the shared machine hits both; each
// Both write to tmpfs (/dev/shm) when there is one: our writer fsyncs each file and its folder
// before the rename (never lose a finished file), filesink does not, and on this machine's disk a
// 60 MB fsync takes 0.1–0.6 s; on tmpfs the figures compare the clients, not the disk. Each
// run's CPU is the child's user + system time as `sh`'s `times` reports it (whole process, every
// thread), wall from spawn to exit. Skipped, with a line saying so, without gst-launch-1.0.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startRtspServer } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import { benchDevice, makeClip } from './replay';

const out = (s: string) => process.stdout.write(s + '\n');
const SECONDS = 120;
const FPS = 15;

export interface RunFigures {
  wallSec: number;
  cpuSec: number;
  code: number;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface CliVsGstResult {
  runs: number;
  ours: { wall: Spread; cpu: Spread; frames: number };
  gst: { wall: Spread; cpu: Spread; frames: number; pipeline: string; exitCodes: number[] };
  /** Ours / GStreamer, run pair by run pair. */
  wallRatio: Spread;
  cpuRatio: Spread;
}

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

const fmt = (s: Spread, digits = 3) => `${s.min.toFixed(digits)} / ${s.median.toFixed(digits)} / ${s.max.toFixed(digits)}`;

function hasCommand(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** "0m0.32s 0m0.05s" → 0.37 */
function parseTimesLine(line: string): number {
  let sec = 0;
  for (const m of line.matchAll(/(\d+)m([\d.]+)s/g)) sec += Number(m[1]) * 60 + Number(m[2]);
  return sec;
}

/** One whole-process run: wall from spawn to exit; CPU of the command (and its children) from the
 * shell's `times`, whose second line is the children's user and system time. */
export function timeProcess(argv: string[], timeoutMs = 120_000): Promise<RunFigures> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('sh', ['-c', '"$@" >/dev/null 2>&1; rc=$?; times; exit $rc', 'sh', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallSec = (performance.now() - t0) / 1000;
      const lines = text.trim().split('\n');
      if (lines.length < 2) return reject(new Error(`${argv[0]}: no CPU times (killed after ${timeoutMs} ms?)`));
      resolve({ wallSec, cpuSec: parseTimesLine(lines[1]), code: code ?? -1 });
    });
  });
}

function framesIn(file: string): number {
  try {
    const s = execFileSync('ffprobe', [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames',
      '-of',
      'csv=p=0',
      file,
    ]);
    return Number(s.toString().trim()) || 0;
  } catch {
    return 0;
  }
}

export async function runCliVsGstreamer(runs = 5): Promise<CliVsGstResult | undefined> {
  if (!hasCommand('gst-launch-1.0', ['--version'])) {
    out(
      'replay CLI vs GStreamer: skipped, gst-launch-1.0 is not installed (Debian/Ubuntu: apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)',
    );
    return undefined;
  }
  const withParse = hasCommand('gst-inspect-1.0', ['--exists', 'rtponvifparse']);
  const dir = mkdtempSync(join(tmpdir(), 'vtrack-bench-cli-'));
  const outDir = mkdtempSync(join(tmpfsOr(tmpdir()), 'vtrack-bench-cli-'));
  try {
    const clip = makeClip(dir);
    const start = new Date(Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000);
    const end = new Date(start.getTime() + SECONDS * 1000);
    // A recording of exactly the 120 s: GStreamer replays the range the SDP announces.
    const server = await startRtspServer({ host: '127.0.0.1', port: 0, requireOptional: true, device: benchDevice(clip, { start, end }) });
    try {
      const url = `rtsp://127.0.0.1:${server.port}${replayPath(0)}`;
      const oursOut = join(outDir, 'ours.mp4');
      const gstOut = join(outDir, 'gst.mp4');
      const cli = join(__dirname, '..', 'lib', 'cli.js');
      const ours = [process.execPath, cli, 'replay', url, '--from', start.toISOString(), '--to', end.toISOString(), '-o', oursOut, '--json'];
      const elements = [
        `rtspsrc location=${url} onvif-mode=true onvif-rate-control=false buffer-mode=none latency=0`,
        ...(withParse ? ['rtponvifparse'] : []),
        'rtph264depay',
        'h264parse',
        'mp4mux',
        `filesink location=${gstOut}`,
      ];
      const gst = ['gst-launch-1.0', '-q', '-e', ...elements.join(' ! ').split(' ')];
      const pipeline = elements.join(' ! ').replace(url, 'URL').replace(gstOut, 'out.mp4');
      if (!withParse) out('replay CLI vs GStreamer: rtponvifparse is not installed (gst-plugins-bad): GStreamer runs without it');
      const a: RunFigures[] = [];
      const b: RunFigures[] = [];
      for (let i = 0; i <= runs; i++) {
        const ra = await timeProcess(ours);
        const rb = await timeProcess(gst);
        if (i === 0) continue; // warm-up (page cache, first compile of nothing we keep)
        a.push(ra);
        b.push(rb);
      }
      const result: CliVsGstResult = {
        runs,
        ours: { wall: spread(a.map((r) => r.wallSec)), cpu: spread(a.map((r) => r.cpuSec)), frames: framesIn(oursOut) },
        gst: {
          wall: spread(b.map((r) => r.wallSec)),
          cpu: spread(b.map((r) => r.cpuSec)),
          frames: framesIn(gstOut),
          pipeline,
          exitCodes: b.map((r) => r.code),
        },
        wallRatio: spread(a.map((r, i) => r.wallSec / b[i].wallSec)),
        cpuRatio: spread(a.map((r, i) => r.cpuSec / b[i].cpuSec)),
      };
      if (a.some((r) => r.code !== 0)) throw new Error(`replay CLI exited with ${a.map((r) => r.code).join(', ')}`);
      out(
        `replay CLI vs GStreamer, ${SECONDS} s of 1080p (${SECONDS * FPS} frames), whole process, ${runs} runs each in turn, files written to ${outDir.startsWith('/dev/shm') ? 'tmpfs' : outDir}, min / median / max:`,
      );
      out(`  vtrack-onvif replay: wall ${fmt(result.ours.wall)} s, CPU ${fmt(result.ours.cpu)} s, ${result.ours.frames} frames written`);
      out(
        `  gst-launch-1.0:      wall ${fmt(result.gst.wall)} s, CPU ${fmt(result.gst.cpu)} s, ${result.gst.frames} frames written` +
          (b.some((r) => r.code !== 0)
            ? ` (exit codes ${result.gst.exitCodes.join(' ')}: rtspsrc reports "Could not send message (Received end-of-file)" when the server has closed first)`
            : ''),
      );
      out(`  ours / GStreamer per pair: wall ${fmt(result.wallRatio, 2)}, CPU ${fmt(result.cpuRatio, 2)}  (GStreamer: ${pipeline})`);
      return result;
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  }
}

function tmpfsOr(fallback: string): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return fallback;
  }
}

if (require.main === module) {
  runCliVsGstreamer(Number(process.argv[2]) || undefined).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
