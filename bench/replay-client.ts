// Child process of the replay benchmark: replays one range into MP4 and prints one JSON line with
// the figures, this process's peak RSS (main thread + replay worker; the server runs in the
// parent, so it is not counted) and how busy/late the main thread's event loop was meanwhile.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { replayToFiles, replayWorkerLimits, replayWorkerTestHooks } from '../lib/media/replay-to-files';

async function main(): Promise<void> {
  const [url, fromIso, toIso, outDir] = process.argv.slice(2);
  const from = new Date(fromIso);
  const to = new Date(toIso);
  // For measuring other young-generation sizes: VTRACK_BENCH_YOUNG_MB=16 npm run bench
  const young = Number(process.env.VTRACK_BENCH_YOUNG_MB);
  if (young > 0) replayWorkerTestHooks.resourceLimits = { ...replayWorkerLimits(from, to), maxYoungGenerationSizeMb: young };
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = Date.now();
  const files = await replayToFiles({ url, from, to, finalPath: (start) => join(outDir, `bench_${start.getTime()}.mp4`) });
  const wallSec = (Date.now() - t0) / 1000;
  delay.disable();
  const mainLoopBusy = performance.eventLoopUtilization(elu0).utilization;
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const mediaSec = files.reduce((n, f) => n + f.durationSec, 0);
  const frames = files.reduce((n, f) => n + f.frames, 0);
  // maxRSS is in kilobytes, for the whole process (all threads).
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  const maxLoopLagMs = delay.max / 1e6;
  process.stdout.write(JSON.stringify({ files: files.map((f) => f.path), frames, bytes, mediaSec, wallSec, peakRssMB, maxLoopLagMs, mainLoopBusy }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
