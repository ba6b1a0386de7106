// Replay benchmark: the simulator's RTSP server (in this process) replays 10 and 60 minutes of a
// 1080p ~4 Mbit/s H.264 recording to a client in a child process that writes MP4; prints MB/s,
// × real time and the client's peak RSS. Targets: ≥ 300× real time, peak RSS < 150 MB, flat.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRtspServer } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import type { SimDeviceSpec } from '../lib/sim/types';

export interface ReplayBenchResult {
  minutes: number;
  frames: number;
  MB: number;
  wallSec: number;
  MBps: number;
  speedX: number;
  peakRssMB: number;
  /** Longest the client's main event loop waited (the replay runs in a worker thread). */
  maxLoopLagMs: number;
  /** Share of the wall time the client's main thread was busy. */
  mainLoopBusy: number;
  framesOk: boolean;
}

function makeClip(dir: string): string {
  const file = join(dir, 'bench-1080p-4mbit.h264');
  // Noise keeps the encoder at the target bitrate (a plain test pattern compresses far below it).
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi',
    '-i', 'testsrc2=size=1920x1080:rate=15:duration=10,noise=alls=12:allf=t',
    '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '4M', '-minrate', '4M', '-maxrate', '4M', '-bufsize', '2M',
    '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', '-bf', '0', '-x264-params', 'repeat-headers=1:nal-hrd=cbr',
    '-f', 'h264', file,
  ]);
  return file;
}

function runClient(url: string, from: Date, to: Date, outDir: string): Promise<{ frames: number; bytes: number; mediaSec: number; wallSec: number; peakRssMB: number; maxLoopLagMs: number; mainLoopBusy: number; files: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, 'replay-client.js'), url, from.toISOString(), to.toISOString(), outDir], { timeout: 600_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`client failed: ${stderr || err.message}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`client printed no result: ${stdout} ${stderr}`));
      }
    });
  });
}

export async function runReplayBench(minutesList: number[] = [10, 60]): Promise<ReplayBenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vtrack-bench-'));
  const results: ReplayBenchResult[] = [];
  try {
    const clip = makeClip(dir);
    const clipMbit = (statSync(clip).size * 8) / 10 / 1e6;
    process.stdout.write(`replay bench: clip 1920x1080 H.264 15 fps, ${clipMbit.toFixed(2)} Mbit/s (looped)\n`);
    const start = new Date(Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000);
    const device: SimDeviceSpec = {
      name: 'bench', manufacturer: 'VTrack Simulator', model: 'bench', firmware: '1', serial: 'B1', hardware: 'bench', location: 'loopback',
      urn: 'urn:uuid:00000000-0000-4000-a000-000000000000', port: 0, rtspPort: 0,
      cameras: [{ name: 'Bench Camera', codec: 'H264', width: 1920, height: 1080, fps: 15, bitrateKbps: 4000, clip, recording: { start } }],
    };
    const server = await startRtspServer({ host: '127.0.0.1', port: 0, device });
    try {
      for (const minutes of minutesList) {
        const outDir = join(dir, `out-${minutes}`);
        const to = new Date(start.getTime() + minutes * 60_000);
        const r = await runClient(`rtsp://127.0.0.1:${server.port}${replayPath(0)}`, start, to, outDir);
        const res: ReplayBenchResult = {
          minutes,
          frames: r.frames,
          MB: r.bytes / 1e6,
          wallSec: r.wallSec,
          MBps: r.bytes / 1e6 / r.wallSec,
          speedX: r.mediaSec / r.wallSec,
          peakRssMB: r.peakRssMB,
          maxLoopLagMs: r.maxLoopLagMs,
          mainLoopBusy: r.mainLoopBusy,
          framesOk: r.frames === minutes * 60 * 15,
        };
        results.push(res);
        process.stdout.write(
          `replay ${String(minutes).padStart(3)} min: ${res.frames} frames${res.framesOk ? '' : ' (EXPECTED ' + minutes * 900 + ')'}, ${res.MB.toFixed(1)} MB in ${res.wallSec.toFixed(2)} s → ${res.MBps.toFixed(1)} MB/s, ${res.speedX.toFixed(0)}× real time, client peak RSS ${res.peakRssMB.toFixed(1)} MB, main loop max lag ${res.maxLoopLagMs.toFixed(0)} ms (busy ${(res.mainLoopBusy * 100).toFixed(0)}%)\n`,
        );
        rmSync(outDir, { recursive: true, force: true });
      }
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (require.main === module) {
  runReplayBench().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
