// Child process of the baseline: the plainest Node client of a loopback stream — socket piped to a
// file, then fsync — and its figures as one JSON line (same fields as replay-client).
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { cpuSecSince, peakRssMB, timerGapProbe } from './probe';

async function main(): Promise<void> {
  const [port, file] = process.argv.slice(2);
  const probe = timerGapProbe();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const sock = connect(Number(port), '127.0.0.1');
  await pipeline(sock, createWriteStream(file));
  const fh = await open(file, 'r+');
  await fh.sync();
  const { size } = await fh.stat();
  await fh.close();
  const wallSec = (Date.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ bytes: size, wallSec, cpuSec: cpuSecSince(cpu0), peakRssMB: peakRssMB(), maxLagMs: probe.stop() }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`socket client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
