// Replay benchmark. The simulator's RTSP server (in this process) replays a 1080p ~4 Mbit/s H.264
// recording to a client in a child process that writes MP4; the child's CPU, peak RSS and
// main-thread lag are its own (the server is not counted). Also:
// - a baseline: the same kind of child piping a plain loopback socket to a file (+ fsync), fed by a
//   server in this process that writes as fast as TCP allows: what the machine can do at best;
// - per-segment overhead: consecutive short segments on the warm (pooled) worker, and on a fresh
//   worker each (cold), against one replay of the same total length.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRtspServer } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import type { SimDeviceSpec, TimelineSpec } from '../lib/sim/types';

export interface ClientFigures {
  bytes: number;
  wallSec: number;
  cpuSec: number;
  peakRssMB: number;
  maxLagMs: number;
  files?: number;
  frames?: number;
  mediaSec?: number;
}

export interface ReplayBenchResult extends ClientFigures {
  minutes: number;
  MBps: number;
  cpuSecPerGB: number;
  speedX: number;
  framesOk: boolean;
}

export interface ReplayBenchReport {
  baseline: ClientFigures & { MBps: number; cpuSecPerGB: number };
  replays: ReplayBenchResult[];
  /** The shortest replay again, on a worker that already ran one. */
  warm: { minutes: number; cpuSec: number; cpuSecPerGB: number };
  segments: { count: number; segSec: number; oneCpuSec: number; warmCpuSec: number; coldCpuSec: number; warmOverheadMs: number; coldOverheadMs: number };
}

const out = (s: string) => process.stdout.write(s + '\n');
const MB = 1e6;
const GB = 1e9;

export function makeClip(dir: string): string {
  const file = join(dir, 'bench-1080p-4mbit.h264');
  // Noise keeps the encoder at the target bitrate (a plain test pattern compresses far below it).
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1920x1080:rate=15:duration=10,noise=alls=12:allf=t',
    '-pix_fmt',
    'yuv420p',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    '4M',
    '-minrate',
    '4M',
    '-maxrate',
    '4M',
    '-bufsize',
    '2M',
    '-g',
    '15',
    '-keyint_min',
    '15',
    '-sc_threshold',
    '0',
    '-bf',
    '0',
    '-x264-params',
    'repeat-headers=1:nal-hrd=cbr',
    '-f',
    'h264',
    file,
  ]);
  return file;
}

/** One 1080p camera replaying `clip` over `recording`. */
export function benchDevice(clip: string, recording: TimelineSpec): SimDeviceSpec {
  return {
    name: 'bench',
    manufacturer: 'VTrack Simulator',
    model: 'bench',
    firmware: '1',
    serial: 'B1',
    hardware: 'bench',
    location: 'loopback',
    urn: 'urn:uuid:00000000-0000-4000-a000-000000000000',
    port: 0,
    rtspPort: 0,
    cameras: [{ name: 'Bench Camera', codec: 'H264', width: 1920, height: 1080, fps: 15, bitrateKbps: 4000, clip, recording }],
  };
}

export function runChild<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, script), ...args], { timeout: 900_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${script} failed: ${stderr || err.message}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as T);
      } catch {
        reject(new Error(`${script} printed no result: ${stdout} ${stderr}`));
      }
    });
  });
}

/** Loopback socket → file + fsync, `totalBytes` of the clip's bytes sent as fast as TCP allows. */
async function baseline(clip: string, dir: string, totalBytes: number): Promise<ClientFigures> {
  const chunk = Buffer.concat(Array.from({ length: 4 }, () => readFileSync(clip))).subarray(0, 4 * MB);
  const server = createServer((sock) => {
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes) {
        const n = Math.min(chunk.length, totalBytes - sent);
        sent += n;
        if (!sock.write(chunk.subarray(0, n))) return void sock.once('drain', pump);
      }
      sock.end();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const file = join(dir, 'baseline.bin');
    const r = await runChild<ClientFigures>('socket-client.js', [String(port), file]);
    rmSync(file, { force: true });
    return r;
  } finally {
    server.close();
  }
}

export async function runReplayBench(minutesList: number[] = [10, 60]): Promise<ReplayBenchReport> {
  const dir = mkdtempSync(join(tmpdir(), 'vtrack-bench-'));
  try {
    const clip = makeClip(dir);
    const clipMbit = (statSync(clip).size * 8) / 10 / 1e6;
    out(`replay bench: clip 1920x1080 H.264 15 fps, ${clipMbit.toFixed(2)} Mbit/s (looped)`);
    const b = await baseline(clip, dir, GB);
    const base = { ...b, MBps: b.bytes / MB / b.wallSec, cpuSecPerGB: b.cpuSec / (b.bytes / GB) };
    out(
      `baseline loopback socket → file + fsync: ${(b.bytes / MB).toFixed(0)} MB in ${b.wallSec.toFixed(2)} s → ${base.MBps.toFixed(0)} MB/s, ${base.cpuSecPerGB.toFixed(2)} CPU-s/GB, peak RSS ${b.peakRssMB.toFixed(0)} MB`,
    );

    const start = new Date(Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000);
    const server = await startRtspServer({ host: '127.0.0.1', port: 0, device: benchDevice(clip, { start }) });
    const url = `rtsp://127.0.0.1:${server.port}${replayPath(0)}`;
    const replays: ReplayBenchResult[] = [];
    let segments: ReplayBenchReport['segments'];
    let warmReplay: ReplayBenchReport['warm'];
    try {
      // The first replay a fresh simulator serves costs the client more per byte (the first
      // 10-min replay took 1.67 CPU-s in the client, the next two 0.82 and 0.73, each on a fresh
      // worker), likely because the server's still-cold code sends in smaller pieces. A real NVR
      // has no such warm-up, so one minute is served first, not counted.
      await runChild<ClientFigures>('replay-client.js', [
        'one',
        url,
        start.toISOString(),
        new Date(start.getTime() + 60_000).toISOString(),
        join(dir, 'server-warm-up'),
      ]);
      rmSync(join(dir, 'server-warm-up'), { recursive: true, force: true });
      for (const minutes of minutesList) {
        const outDir = join(dir, `out-${minutes}`);
        const to = new Date(start.getTime() + minutes * 60_000);
        const r = await runChild<ClientFigures>('replay-client.js', ['one', url, start.toISOString(), to.toISOString(), outDir]);
        const res: ReplayBenchResult = {
          ...r,
          minutes,
          MBps: r.bytes / MB / r.wallSec,
          cpuSecPerGB: r.cpuSec / (r.bytes / GB),
          speedX: (r.mediaSec ?? 0) / r.wallSec,
          framesOk: r.frames === minutes * 60 * 15,
        };
        replays.push(res);
        out(
          `replay ${String(minutes).padStart(3)} min: ${r.frames} frames${res.framesOk ? '' : ' (EXPECTED ' + minutes * 900 + ')'}, ${(r.bytes / MB).toFixed(1)} MB in ${r.wallSec.toFixed(2)} s → ${res.MBps.toFixed(1)} MB/s (${((100 * res.MBps) / base.MBps).toFixed(0)} % of baseline), ${res.speedX.toFixed(0)}× real time, ${res.cpuSecPerGB.toFixed(2)} CPU-s/GB (worker + main), peak RSS ${r.peakRssMB.toFixed(1)} MB, main-thread max timer gap ${r.maxLagMs.toFixed(1)} ms`,
        );
        rmSync(outDir, { recursive: true, force: true });
      }
      // The shortest replay again on a warm worker (one 1 s replay before it, not counted): the
      // engine runs its segments on pooled workers, so this is its steady cost per segment; the
      // difference to the cold figure above is one worker's start-up.
      const warmMinutes = minutesList[0];
      const w = await runChild<ClientFigures>('replay-client.js', [
        'one',
        url,
        start.toISOString(),
        new Date(start.getTime() + warmMinutes * 60_000).toISOString(),
        join(dir, 'out-warm'),
        'warm',
      ]);
      rmSync(join(dir, 'out-warm'), { recursive: true, force: true });
      const warmCpuSecPerGB = w.cpuSec / (w.bytes / GB);
      out(
        `replay ${String(warmMinutes).padStart(3)} min on a warm worker (as the engine's segments): ${(w.bytes / MB).toFixed(1)} MB in ${w.wallSec.toFixed(2)} s → ${(w.bytes / MB / w.wallSec).toFixed(1)} MB/s, ${warmCpuSecPerGB.toFixed(2)} CPU-s/GB (cold − warm: ${((replays[0].cpuSec - w.cpuSec) * 1000).toFixed(0)} ms CPU: one worker's start-up, plus the machine's noise)`,
      );
      warmReplay = { minutes: warmMinutes, cpuSecPerGB: warmCpuSecPerGB, cpuSec: w.cpuSec };
      // Per-segment overhead: COUNT segments of SEG_SEC against one replay of COUNT × SEG_SEC.
      const count = 12;
      const segSec = 10;
      const segFrom = new Date(start.getTime() + 3600_000);
      const one = await runChild<ClientFigures>('replay-client.js', [
        'one',
        url,
        segFrom.toISOString(),
        new Date(segFrom.getTime() + count * segSec * 1000).toISOString(),
        join(dir, 'one'),
      ]);
      const warm = await runChild<ClientFigures>('replay-client.js', [
        'segments',
        url,
        segFrom.toISOString(),
        String(segSec),
        String(count),
        join(dir, 'warm'),
        'warm',
      ]);
      const cold = await runChild<ClientFigures>('replay-client.js', [
        'segments',
        url,
        segFrom.toISOString(),
        String(segSec),
        String(count),
        join(dir, 'cold'),
        'cold',
      ]);
      segments = {
        count,
        segSec,
        oneCpuSec: one.cpuSec,
        warmCpuSec: warm.cpuSec,
        coldCpuSec: cold.cpuSec,
        warmOverheadMs: ((warm.cpuSec - one.cpuSec) / (count - 1)) * 1000,
        coldOverheadMs: ((cold.cpuSec - one.cpuSec) / (count - 1)) * 1000,
      };
      out(
        `per-segment CPU overhead (${count} × ${segSec} s vs one ${count * segSec} s replay, ${one.cpuSec.toFixed(2)} CPU-s): warm pooled worker ${segments.warmOverheadMs.toFixed(0)} ms, fresh worker per segment ${segments.coldOverheadMs.toFixed(0)} ms`,
      );
    } finally {
      await server.close();
    }
    return { baseline: base, replays, warm: warmReplay, segments };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runReplayBench().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
