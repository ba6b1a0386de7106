// `node dist/bench/vendors.js [MINUTES]`: download MINUTES (default 10) of the 1080p H.264 channel
// from the Hikvision and Dahua simulators over loopback into MP4 files (demux, cut, mux, fsync),
// printing MB/s, times real time and peak RSS. Not part of `npm test`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../lib/sim/index';
import { openVendorSession } from '../lib/vendors/driver';

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 10);
  for (const preset of ['hikvision', 'dahua'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'vtrack-vbench-'));
    const sim = await startSimulator({ preset, basePort: 0, historyMinutes: minutes + 2, auth: { user: 'admin', password: 'pw' }, discovery: false });
    try {
      const s = await openVendorSession(preset, '127.0.0.1', sim.devices[0].port, { user: 'admin', password: 'pw' }, 5000);
      const rec = sim.devices[0].spec.cameras[0].recording.start.getTime();
      let peak = process.memoryUsage().rss;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      const t0 = performance.now();
      const files = await s.download('ch1', {
        from: new Date(rec),
        to: new Date(rec + minutes * 60_000),
        finalPath: (a, b) => join(dir, `${a.getTime()}-${b.getTime()}.mp4`),
      });
      const sec = (performance.now() - t0) / 1000;
      clearInterval(timer);
      const bytes = files.reduce((n, f) => n + f.bytes, 0);
      const media = files.reduce((n, f) => n + f.durationSec, 0);
      process.stdout.write(
        `${preset}: ${minutes} min 1080p H.264 → ${files.length} file(s), ${(bytes / 1e6).toFixed(1)} MB in ${sec.toFixed(2)} s: ${(bytes / 1e6 / sec).toFixed(0)} MB/s, ${(media / sec).toFixed(0)}× real time, peak RSS ${(peak / 1e6).toFixed(0)} MB\n`,
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
