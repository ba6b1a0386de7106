// Child process of the vendor benchmark (bench/vendors.ts): opens a Hikvision or Dahua session on
// the simulator the parent runs, downloads one range of channel 1 into MP4 files and prints one JSON
// line: CPU seconds of this process (main thread + download worker; the simulator runs in the
// parent, so it is not counted), wall time, peak RSS, the main thread's longest timer gap and its
// event-loop utilisation (busy share of the wall time).
//   vendors-client.js PRESET PORT FROM_MS TO_MS OUTDIR
import { performance } from 'node:perf_hooks';
import { openVendorSession, type VendorDriverName } from '../lib/vendors/driver';
import { closeReplayWorkers } from '../lib/media/replay-to-files';
import { cpuSecSince, peakRssMB, timerGapProbe } from './probe';

async function main(): Promise<void> {
  const [preset, port, fromMs, toMs, outDir] = process.argv.slice(2);
  const s = await openVendorSession(preset as VendorDriverName, '127.0.0.1', Number(port), { user: 'admin', password: 'pw' }, 5000);
  const probe = timerGapProbe();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const files = await s.download('ch1', {
    from: new Date(Number(fromMs)),
    to: new Date(Number(toMs)),
    naming: { kind: 'camera-folder', folder: outDir },
  });
  const wallSec = (performance.now() - t0) / 1000;
  const cpuSec = cpuSecSince(cpu0);
  const maxLagMs = probe.stop();
  // Share of the wall time the main thread's event loop was busy (not waiting for I/O or timers).
  const mainBusy = performance.eventLoopUtilization(elu0).utilization;
  await closeReplayWorkers();
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const mediaSec = files.reduce((n, f) => n + f.durationSec, 0);
  const frames = files.reduce((n, f) => n + f.frames, 0);
  process.stdout.write(JSON.stringify({ files: files.length, frames, bytes, mediaSec, wallSec, cpuSec, maxLagMs, mainBusy, peakRssMB: peakRssMB() }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`vendors-client: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
