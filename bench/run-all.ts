// `npm run bench`: every benchmark, one after the other, figures on stdout.
import { runReplayBench } from './replay';
import { benchDiscovery } from './discovery';

const FLAT_MARGIN_MB = 10;

async function main(): Promise<void> {
  const d = await benchDiscovery();
  process.stdout.write(`discovery: probed ${d.targets} loopback targets, found ${d.found} devices with cameras in ${d.ms.toFixed(0)} ms (target < 2000 ms: ${d.ms < 2000 && d.found === 3 ? 'met' : 'NOT met'})\n`);
  const replay = await runReplayBench([10, 60]);
  const fast = replay.every((r) => r.speedX >= 300);
  const lean = replay.every((r) => r.peakRssMB < 150);
  const shortest = replay[0];
  const longest = replay[replay.length - 1];
  const growth = longest.peakRssMB - shortest.peakRssMB;
  // "Flat": the longer replay's peak stays within 10 MB of the shorter one's.
  const flat = growth < FLAT_MARGIN_MB;
  process.stdout.write(
    `peak RSS ${shortest.minutes} → ${longest.minutes} min: ${shortest.peakRssMB.toFixed(1)} → ${longest.peakRssMB.toFixed(1)} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB): ${flat ? 'flat' : 'GREW'}\n`,
  );
  process.stdout.write(`targets: ≥300× real time ${fast ? 'met' : 'NOT met'}; peak RSS < 150 MB ${lean ? 'met' : 'NOT met'}; no growth with length ${flat ? 'met' : 'NOT met'}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
