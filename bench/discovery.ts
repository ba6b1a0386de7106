// Benchmark: probe 1000 loopback targets (3 simulated devices among 997 closed or silent ports)
// and print how long discovery takes. Target: under 2 s. Loopback only.
import { discover } from '../lib/onvif/discovery';
import { startSimulator } from '../lib/sim';

export async function benchDiscovery(): Promise<{ targets: number; found: number; ms: number }> {
  // Below Linux's ephemeral range (32768+), so no outgoing connection holds a port of the span.
  const basePort = Number(process.env.VTRACK_BENCH_DISCOVERY_PORT) || 21000;
  const sim = await startSimulator({ preset: 'seed', basePort, auth: { user: 'admin', password: 'pw' }, discovery: false, rtsp: false });
  try {
    const targets = `127.0.0.1:${basePort}-${basePort + 999}`;
    const t0 = process.hrtime.bigint();
    const devices = await discover({ targets, user: 'admin', password: 'pw', timeoutMs: 2000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const found = devices.filter((d) => d.cameras.length > 0).length;
    return { targets: 1000, found, ms };
  } finally {
    await sim.stop();
  }
}

if (require.main === module) {
  benchDiscovery().then(
    (r) => {
      process.stdout.write(
        `discovery: probed ${r.targets} loopback targets, found ${r.found} devices with cameras in ${r.ms.toFixed(0)} ms (target < 2000 ms)\n`,
      );
      if (r.found !== 3) process.exitCode = 1;
    },
    (e: unknown) => {
      process.stderr.write(`bench failed: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
