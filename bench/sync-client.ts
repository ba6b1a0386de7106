// Child process of the many-channel benchmark: one `vtrack-onvif sync --once` pass (the CLI's own
// entry, the nvr-sync node's engine) and its figures, written as JSON to the file named last.
import { writeFileSync } from 'node:fs';
import { run } from '../lib/cli/sync';
import { replayWorkerPoolStats, replayWorkerTestHooks } from '../lib/media/replay-to-files';
import { cpuSecSince, peakRssMB, timerGapProbe } from './probe';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const resultFile = argv.pop() as string;
  // For measuring other heap limits of the replay workers: VTRACK_BENCH_OLD_MB=48 VTRACK_BENCH_YOUNG_MB=4
  const old = Number(process.env.VTRACK_BENCH_OLD_MB);
  const young = Number(process.env.VTRACK_BENCH_YOUNG_MB);
  if (old > 0 || young > 0) replayWorkerTestHooks.resourceLimits = { maxOldGenerationSizeMb: old || 104, maxYoungGenerationSizeMb: young || 8 };
  const probe = timerGapProbe();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const code = await run(argv);
  const wallSec = (Date.now() - t0) / 1000;
  const pool = replayWorkerPoolStats();
  writeFileSync(
    resultFile,
    JSON.stringify({
      code,
      wallSec,
      cpuSec: cpuSecSince(cpu0),
      peakRssMB: peakRssMB(),
      maxLagMs: probe.stop(),
      maxSessions: pool.maxBusy,
      workersStarted: pool.started,
    }),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`sync client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
