// Many-channel first sync: the simulator's NVR preset with 64 channels at low bitrate (360p H.264,
// ~256 kbit/s) and 60 min of history, served from this process; one `vtrack-onvif sync --once` pass
// in a child process (the nvr-sync node's engine, default 2 sessions) fetches everything. The
// child's CPU, peak RSS and main-thread lag are its own. Reproduce by hand with
//   vtrack-onvif sim --preset nvr --channels 64 --quality low --history-min 60 --user admin --password pw
//   vtrack-onvif sync --targets 127.0.0.1:18000 --user admin --password pw --dir ./nvr --db ./nvr.db --once
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../lib/sim';
import { openCatalog } from '../lib/catalog';

const out = (s: string) => process.stdout.write(s + '\n');

export interface ManyChannelsResult {
  channels: number;
  files: number;
  GB: number;
  wallSec: number;
  cpuSec: number;
  cpuSecPerGB: number;
  peakRssMB: number;
  maxLagMs: number;
  maxSessions: number;
  workersStarted: number;
}

export async function runManyChannelsBench(channels = 64, historyMin = 60): Promise<ManyChannelsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vtrack-bench-many-'));
  const sim = await startSimulator({
    preset: 'nvr',
    channels,
    quality: 'low',
    historyMinutes: historyMin,
    basePort: 0,
    auth: { user: 'admin', password: 'pw' },
    discovery: false,
  });
  try {
    const port = sim.devices[0].port;
    const db = join(dir, 'nvr.db');
    const resultFile = join(dir, 'result.json');
    const client = process.env.VTRACK_BENCH_SYNC_CLIENT ?? join(__dirname, 'sync-client.js');
    const concurrency = process.env.VTRACK_BENCH_CONCURRENCY ?? '2';
    const args = [
      '--targets',
      `127.0.0.1:${port}`,
      '--user',
      'admin',
      '--password',
      'pw',
      '--dir',
      join(dir, 'nvr'),
      '--db',
      db,
      '--once',
      '--concurrency',
      concurrency,
      resultFile,
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, [client, ...args], { timeout: 1_800_000, maxBuffer: 64 << 20 }, (err, _stdout, stderr) =>
        err ? reject(new Error(`sync client failed: ${stderr || err.message}`)) : resolve(),
      );
    });
    const r = JSON.parse(readFileSync(resultFile, 'utf8')) as {
      code: number;
      wallSec: number;
      cpuSec: number;
      peakRssMB: number;
      maxLagMs: number;
      maxSessions?: number;
      workersStarted?: number;
    };
    const catalog = openCatalog(db);
    const sources = catalog.listSources();
    const cams = sources.flatMap((s) => catalog.listCameras(s.id));
    const files = cams.flatMap((c) => catalog.listDownloads(c.id));
    catalog.close();
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    const res: ManyChannelsResult = {
      channels,
      files: files.length,
      GB: bytes / 1e9,
      wallSec: r.wallSec,
      cpuSec: r.cpuSec,
      cpuSecPerGB: r.cpuSec / (bytes / 1e9),
      peakRssMB: r.peakRssMB,
      maxLagMs: r.maxLagMs,
      maxSessions: r.maxSessions ?? NaN,
      workersStarted: r.workersStarted ?? NaN,
    };
    out(
      `first sync, ${channels} channels × ${historyMin} min at ~256 kbit/s: ${res.files} files, ${res.GB.toFixed(2)} GB in ${res.wallSec.toFixed(1)} s wall, ${res.cpuSec.toFixed(1)} CPU-s → ${res.cpuSecPerGB.toFixed(1)} CPU-s/GB, peak RSS ${res.peakRssMB.toFixed(0)} MB, max concurrent sessions ${res.maxSessions} (replay workers started: ${res.workersStarted}), main-thread max timer gap ${res.maxLagMs.toFixed(0)} ms${r.code === 0 ? '' : ` (sync exit code ${r.code})`}`,
    );
    return res;
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runManyChannelsBench(Number(process.argv[2]) || undefined, Number(process.argv[3]) || undefined).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
