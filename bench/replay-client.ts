// Child process of the replay benchmark: replays into MP4 and prints one JSON line with the figures:
// CPU seconds of this process (main thread + replay worker; the server runs in the parent, so it is
// not counted), peak RSS, and the main thread's longest timer gap meanwhile.
//   replay-client.js one URL FROM TO OUTDIR [warm]       one range; warm: on a worker that already ran
//                                                        a 1 s replay (not counted), as the engine's
//                                                        pooled workers run consecutive segments
//   replay-client.js segments URL FROM SEG_SEC COUNT OUTDIR warm|cold
//                                                        COUNT consecutive segments, on the pooled
//                                                        (warm) worker or a fresh one each (cold)
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FileNaming } from '../lib/sync/naming';
import { closeReplayWorkers, replayToFiles, replayWorkerLimits, replayWorkerTestHooks, type WrittenFile } from '../lib/media/replay-to-files';
import { cpuSecSince, peakRssMB, timerGapProbe } from './probe';

async function main(): Promise<void> {
  const [mode, url, fromIso, ...rest] = process.argv.slice(2);
  const from = new Date(fromIso);
  const name = (dir: string): FileNaming => ({ kind: 'camera-folder', folder: join(dir, 'bench') });
  // For measuring other young-generation sizes: VTRACK_BENCH_YOUNG_MB=16 npm run bench
  const young = Number(process.env.VTRACK_BENCH_YOUNG_MB);
  if (young > 0) replayWorkerTestHooks.resourceLimits = { ...replayWorkerLimits(from, new Date(from.getTime() + 3600_000)), maxYoungGenerationSizeMb: young };
  if (mode === 'one' && rest[2] === 'warm') {
    const warmDir = `${rest[1]}-warmup`;
    await replayToFiles({ url, from, to: new Date(from.getTime() + 1000), naming: name(warmDir) });
    rmSync(warmDir, { recursive: true, force: true });
  }
  const probe = timerGapProbe();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const files: WrittenFile[] = [];
  if (mode === 'one') {
    const [toIso, outDir] = rest;
    files.push(...(await replayToFiles({ url, from, to: new Date(toIso), naming: name(outDir) })));
  } else {
    const [segSec, count, outDir, warmth] = rest;
    for (let i = 0; i < Number(count); i++) {
      const s = new Date(from.getTime() + i * Number(segSec) * 1000);
      files.push(...(await replayToFiles({ url, from: s, to: new Date(s.getTime() + Number(segSec) * 1000), naming: name(outDir) })));
      if (warmth === 'cold') await closeReplayWorkers();
    }
  }
  const wallSec = (Date.now() - t0) / 1000;
  const cpuSec = cpuSecSince(cpu0);
  const maxLagMs = probe.stop();
  await closeReplayWorkers();
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  process.stdout.write(
    JSON.stringify({
      files: files.length,
      frames: files.reduce((n, f) => n + f.frames, 0),
      bytes,
      mediaSec: files.reduce((n, f) => n + f.durationSec, 0),
      wallSec,
      cpuSec,
      peakRssMB: peakRssMB(),
      maxLagMs,
    }) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
