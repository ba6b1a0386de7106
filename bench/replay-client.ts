// Child process of the replay benchmark: replays one range into MP4 and prints one JSON line with
// the figures and this process's peak RSS (the server runs in the parent, so it is not counted).
import { replayToFiles } from '../lib/media/replay-to-files';
import { join } from 'node:path';

async function main(): Promise<void> {
  const [url, fromIso, toIso, outDir] = process.argv.slice(2);
  const t0 = Date.now();
  const files = await replayToFiles({
    url,
    from: new Date(fromIso),
    to: new Date(toIso),
    finalPath: (start) => join(outDir, `bench_${start.getTime()}.mp4`),
  });
  const wallSec = (Date.now() - t0) / 1000;
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const mediaSec = files.reduce((n, f) => n + f.durationSec, 0);
  const frames = files.reduce((n, f) => n + f.frames, 0);
  // maxRSS is in kilobytes.
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ files: files.map((f) => f.path), frames, bytes, mediaSec, wallSec, peakRssMB }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
