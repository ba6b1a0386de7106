// Crash test (issue F): kill -9 a running `vtrack-onvif sync` at random moments, then run one clean
// pass and check the archive: no hole in what the NVR recorded, no finished file the catalog does
// not list, no .part left or catalogued. Loopback only. Not part of `npm test` (about a minute).
//   npm run test:crash [-- --kills 20 --seed 42]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { startSimulator } = require(join(root, 'dist/lib/sim/index.js'));
const { openCatalog } = require(join(root, 'dist/lib/catalog/index.js'));
const { verifyArchive, formatVerifyReport } = require(join(root, 'dist/lib/sync/verify.js'));

const { values } = parseArgs({ options: { kills: { type: 'string', default: '20' }, seed: { type: 'string', default: String(Date.now() % 100000) } } });
const kills = Number(values.kills);
let seed = Number(values.seed);
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31; // repeatable with --seed

const AUTH = { user: 'admin', password: 'crash-pw' };
const sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 60 });
const dir = mkdtempSync(join(tmpdir(), 'vtrack-crash-'));
const db = join(dir, 'catalog.db');
const targets = sim.devices.map((d) => `127.0.0.1:${d.port}`).join(',');
const cli = join(root, 'dist/lib/cli.js');
const syncArgs = [
  'sync',
  '--targets',
  targets,
  '--user',
  AUTH.user,
  '--dir',
  join(dir, 'dl'),
  '--db',
  db,
  '--once',
  '--segment-min',
  '1',
  '--since-hours',
  '1',
  '--name',
  'crash',
];
const env = { ...process.env, VTRACK_ONVIF_PASSWORD: AUTH.password };

function runSync(killAfterMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...syncArgs], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const t = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stderr });
    });
  });
}

/** What a kill left behind: the next run (or the clean pass) must put all of it right. */
function leftovers() {
  let files = [];
  try {
    files = readdirSync(join(dir, 'dl'), { recursive: true }).map(String);
  } catch {
    return { parts: 0, orphans: 0 };
  }
  const c = openCatalog(db);
  const listed = new Set(c.listSources().flatMap((s) => c.listCameras(s.id).flatMap((cam) => c.listDownloads(cam.id).map((f) => f.path))));
  c.close();
  return { parts: files.filter((f) => f.endsWith('.part')).length, orphans: files.filter((f) => f.endsWith('.mp4') && !listed.has(join(dir, 'dl', f))).length };
}

const t0 = Date.now();
const moments = [];
let leftParts = 0;
let orphans = 0;
for (let i = 0; i < kills; i++) {
  const ms = Math.round(300 + random() * 1500);
  const r = await runSync(ms);
  const l = leftovers();
  leftParts += l.parts;
  orphans += l.orphans;
  moments.push(`${ms}ms:${r.signal ?? `exit ${r.code}`}${l.parts || l.orphans ? `(${l.parts}p/${l.orphans}o)` : ''}`);
}
const clean = await runSync(undefined);
const parts = readdirSync(join(dir, 'dl'), { recursive: true }).filter((f) => String(f).endsWith('.part'));
const catalog = openCatalog(db);
const report = await verifyArchive(catalog, { credentialsFor: () => AUTH });
const partRows = catalog
  .listSources()
  .flatMap((s) => catalog.listCameras(s.id).flatMap((c) => catalog.listDownloads(c.id)))
  .filter((f) => f.path.endsWith('.part'));
catalog.close();
await sim.stop();

const holes = report.cameras.reduce((n, c) => n + (c.holes?.length ?? 0), 0);
const unrecorded = report.cameras.reduce((n, c) => n + c.unrecorded.length, 0);
const bad = report.cameras.reduce((n, c) => n + c.bad.length, 0);
console.log(`crash test: ${kills} kill -9 at (seed ${values.seed}): ${moments.join(' ')}`);
console.log(
  `left by the kills (summed over kills; each later run puts them right): ${leftParts} .part file(s), ${orphans} finished file(s) not in the catalog`,
);
console.log(`clean pass: exit ${clean.code}${clean.code ? `\n${clean.stderr}` : ''}`);
console.log(formatVerifyReport(report));
console.log(
  `holes ${holes}, unrecorded files ${unrecorded}, missing/truncated ${bad}, .part on disk ${parts.length}, .part in catalog ${partRows.length} — ${((Date.now() - t0) / 1000).toFixed(1)} s`,
);
const ok = clean.code === 0 && report.clean && parts.length === 0 && partRows.length === 0;
rmSync(dir, { recursive: true, force: true });
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
