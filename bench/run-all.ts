// `npm run bench`: every benchmark, one after the other, figures on stdout.
import { runReplayBench } from './replay';

async function main(): Promise<void> {
  const replay = await runReplayBench([10, 60]);
  const fast = replay.every((r) => r.speedX >= 300);
  const lean = replay.every((r) => r.peakRssMB < 150);
  process.stdout.write(`targets: ≥300× real time ${fast ? 'met' : 'NOT met'}; peak RSS < 150 MB ${lean ? 'met' : 'NOT met'}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
