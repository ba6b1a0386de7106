// `node dist/bench/vendors.js [MINUTES]`: download MINUTES (default 10) of the 1080p H.264 channel
// from the Hikvision and Dahua simulators over loopback into MP4 files (demux, cut, mux, fsync),
// printing MB/s, times real time, CPU-s/GB, peak RSS and the client's main-thread longest timer gap
// and event-loop utilisation.
// The simulator runs here; the client runs in a child process (bench/vendors-client.ts), so its
// CPU and timer-gap figures are the client's own. Not part of `npm test`.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../lib/sim/index';

interface ClientResult {
  files: number;
  frames: number;
  bytes: number;
  mediaSec: number;
  wallSec: number;
  cpuSec: number;
  maxLagMs: number;
  mainBusy: number;
  peakRssMB: number;
}

function runClient(args: string[]): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, 'vendors-client.js'), ...args], { timeout: 900_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`vendors-client failed: ${stderr || err.message}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as ClientResult);
      } catch {
        reject(new Error(`vendors-client printed no result: ${stdout} ${stderr}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 10);
  for (const preset of ['hikvision', 'dahua'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'vtrack-vbench-'));
    const sim = await startSimulator({ preset, basePort: 0, historyMinutes: minutes + 2, auth: { user: 'admin', password: 'pw' }, discovery: false });
    try {
      const rec = sim.devices[0].spec.cameras[0].recording.start.getTime();
      const r = await runClient([preset, String(sim.devices[0].port), String(rec), String(rec + minutes * 60_000), dir]);
      const MB = r.bytes / 1e6;
      process.stdout.write(
        `${preset}: ${minutes} min 1080p H.264 → ${r.files} file(s), ${r.frames} frames, ${MB.toFixed(1)} MB in ${r.wallSec.toFixed(2)} s: ${(MB / r.wallSec).toFixed(0)} MB/s, ${(r.mediaSec / r.wallSec).toFixed(0)}× real time, ${(r.cpuSec / (r.bytes / 1e9)).toFixed(1)} CPU-s/GB (client: main + worker), peak RSS ${r.peakRssMB.toFixed(0)} MB, main-thread max timer gap ${r.maxLagMs.toFixed(1)} ms, main-thread event loop busy ${(100 * r.mainBusy).toFixed(0)} %\n`,
      );
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
