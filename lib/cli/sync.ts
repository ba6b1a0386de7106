// vtrack-onvif sync: one source made of every device found at --targets, synced by the same engine
// as the nvr-sync node. Prints one JSON line per new file (--json) or a readable line.
import { resolve } from 'node:path';
import { discover } from '../onvif/discovery';
import { parseTargets } from '../onvif/targets';
import { openCatalog } from '../catalog';
import { saveSourceFromDevices } from '../sources/save-from-devices';
import { SyncEngine } from '../sync/engine';
import { isDriverName, type DriverName } from '../sync/driver';
import { openVendorSession, probeVendor } from '../vendors/driver';
import { VendorError } from '../vendors/errors';
import { errorMessage } from '../errors';
import type { DiscoveredDevice } from '../onvif/types';
import type { FileEvent, SyncEvent } from '../sync/types';
import { parseArgs, str, num, bool, type FlagSpec } from './args';
import { PASSWORD_HELP, resolvePassword } from './password';

const HELP = `usage: vtrack-onvif sync --targets LIST --user U [--password-file FILE] --dir DIR --db FILE
                         [--cameras "A,B"] [--name NAME] [--once] [--json]
                         [--interval MIN] [--segment-min 10] [--concurrency 2] [--since-hours 24]
                         [--max-age-days N] [--max-gb N] [--driver auto|onvif|hikvision|dahua]
                         [--accept-self-signed] [--allow-basic-auth]

  --targets LIST     the NVR's host and ports, e.g. 127.0.0.1:18000-18002 (one host)
  --dir DIR          working directory; one folder per camera is created in it
  --db FILE          SQLite catalog (created if missing)
  --cameras "A,B"    only these cameras (by name); default all
  --once             one pass, then exit (exit code 1 if anything failed)
  --json             one JSON line per new file on stdout; events go to stderr
  --since-hours N    first sync of a camera looks back N hours (0 = everything recorded)
  --driver D         how recordings are reached (default auto: ONVIF when the device offers
                     recording search and replay, else Hikvision ISAPI, else the Dahua HTTP API)
  --accept-self-signed  https devices: accept a self-signed certificate
  --allow-basic-auth    answer a device that offers only HTTP/RTSP Basic authentication
                     (sends the password in clear text)
${PASSWORD_HELP}`;

function describeEvent(e: SyncEvent): string | undefined {
  switch (e.event) {
    case 'started':
      return `sync ${e.source}: started (${e.reason})`;
    case 'planned':
      return `sync ${e.source}: ${e.segments} segment(s) to fetch for ${e.cameras} camera(s)`;
    case 'finished':
      return `sync ${e.source}: finished — ${e.files} file(s), ${(e.bytes / 1e6).toFixed(1)} MB, ${e.failed} failed, ${(e.durationMs / 1000).toFixed(1)} s`;
    case 'error':
      return `sync ${e.source}: error${e.camera ? ` (${e.camera})` : ''}: ${e.error}`;
    case 'warning':
      return `sync ${e.source}: warning${e.camera ? ` (${e.camera})` : ''}: ${e.message}`;
    case 'retention':
      return `sync ${e.source}: retention removed ${e.deleted} file(s)`;
    default:
      return undefined;
  }
}

/** Every flag this command takes; any other is refused (see args.ts). */
export const FLAGS: FlagSpec = {
  booleans: ['once', 'json', 'help', 'accept-self-signed', 'allow-basic-auth'],
  strings: [
    'concurrency',
    'interval',
    'max-age-days',
    'max-gb',
    'segment-min',
    'since-hours',
    'timeout',
    'cameras',
    'db',
    'dir',
    'name',
    'targets',
    'user',
    'driver',
    'password',
    'password-file',
  ],
};

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (bool(a, 'help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const targets = str(a, 'targets');
  const dir = str(a, 'dir');
  const db = str(a, 'db');
  if (!targets || !dir || !db) {
    process.stderr.write(`vtrack-onvif sync: --targets, --dir and --db are required\n\n${HELP}\n`);
    return 2;
  }
  const user = str(a, 'user');
  let password: string | undefined;
  try {
    password = await resolvePassword(a, user);
  } catch (e) {
    process.stderr.write(`vtrack-onvif sync: ${(e as Error).message}\n`);
    return 2;
  }
  let hosts: Set<string>;
  try {
    hosts = new Set(parseTargets(targets).map((t) => t.host));
  } catch (e) {
    process.stderr.write(`vtrack-onvif sync: ${(e as Error).message}\n`);
    return 2;
  }
  if (hosts.size !== 1) {
    process.stderr.write(`vtrack-onvif sync: --targets must name one host (an NVR), got ${hosts.size}\n`);
    return 2;
  }
  const host = [...hosts][0];
  const json = bool(a, 'json');
  const log = (line: string) => process.stderr.write(line + '\n');

  const driverArg = str(a, 'driver') ?? 'auto';
  if (driverArg !== 'auto' && !isDriverName(driverArg)) {
    process.stderr.write(`vtrack-onvif sync: --driver must be auto, onvif, hikvision or dahua, got "${driverArg}"\n`);
    return 2;
  }
  const timeoutMs = num(a, 'timeout', 5000);
  const allowBasicAuth = bool(a, 'allow-basic-auth');
  const acceptSelfSigned = bool(a, 'accept-self-signed');
  const credentials = user ? { user, password: password ?? '', allowBasicAuth } : undefined;
  let driver: DriverName = 'onvif';
  let usable: DiscoveredDevice[] = [];
  if (driverArg === 'auto' || driverArg === 'onvif') {
    const found = await discover({ targets, user, password, allowBasicAuth, acceptSelfSigned, timeoutMs });
    // A refusal before the device could say it is ONVIF (an untrusted certificate) is worth telling too.
    for (const d of found) if (d.error && (d.onvif || d.errorCode === 'auth')) log(`device ${d.host}:${d.port}: ${d.error}`);
    const devices = found.filter((d) => d.onvif);
    // auto: ONVIF only where it offers recording search and replay (Profile G).
    usable = devices.filter((d) => !d.error && d.cameras.length > 0 && (driverArg === 'onvif' || d.services?.profileG));
  }
  if (usable.length === 0 && driverArg !== 'onvif') {
    // A vendor API on one of the target ports. One login attempt per port at most, and none after a
    // rejected one (Hikvision and Dahua lock the account after a few failures).
    for (const t of parseTargets(targets)) {
      try {
        const found = driverArg === 'auto' ? await probeVendor(t.host, t.port, credentials, timeoutMs, undefined, { acceptSelfSigned }) : driverArg;
        if (!found) continue;
        const session = await openVendorSession(found, t.host, t.port, credentials, timeoutMs, undefined, { acceptSelfSigned });
        for (const n of session.notes) log(`${found} ${t.host}:${t.port}: ${n}`);
        driver = found;
        usable = [session.device];
        log(
          `driver: ${found} (${session.device.manufacturer} ${session.device.model}, ${session.device.cameras.length} channel(s): ${session.device.cameras.map((c) => c.name).join(', ')})`,
        );
        break;
      } catch (e) {
        log(`device ${t.host}:${t.port}: ${errorMessage(e)}`);
        if (e instanceof VendorError && (e.kind === 'auth' || e.kind === 'locked')) break;
      }
    }
  } else if (usable.length) log(`driver: onvif (${usable.length} device(s) with recording search and replay)`);
  if (usable.length === 0) {
    log(`vtrack-onvif sync: no usable ${driverArg === 'auto' ? 'ONVIF, Hikvision or Dahua' : driverArg} device found at the targets`);
    return 1;
  }
  const catalog = openCatalog(resolve(db));
  const names = str(a, 'cameras');
  const saved = await saveSourceFromDevices(catalog, {
    name: str(a, 'name') ?? `nvr ${host}`,
    host,
    ports: usable.map((d) => d.port),
    devices: usable,
    selection: names
      ? {
          names: names
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : 'all',
    workingDirectory: resolve(dir),
    intervalMinutes: num(a, 'interval', 10),
    driver,
  });
  const engine = new SyncEngine({
    catalog,
    credentials,
    settings: {
      segmentMinutes: num(a, 'segment-min', 10),
      concurrency: num(a, 'concurrency', 2),
      initialBackfillHours: num(a, 'since-hours', 24),
    },
    retention: { maxAgeDays: str(a, 'max-age-days') ? num(a, 'max-age-days', 0) : undefined, maxGB: str(a, 'max-gb') ? num(a, 'max-gb', 0) : undefined },
  });
  engine.on('file', (f: FileEvent) => {
    if (json) process.stdout.write(JSON.stringify(f) + '\n');
    else process.stdout.write(`${f.camera}: ${f.path} (${f.durationSec.toFixed(0)} s, ${(f.bytes / 1e6).toFixed(1)} MB, ${f.speedX}× real time)\n`);
  });
  engine.on('event', (e: SyncEvent) => {
    const line = describeEvent(e);
    if (line) log(line);
  });

  if (bool(a, 'once')) {
    engine.addSource(saved.id, { schedule: false, acceptSelfSigned });
    const [summary] = await engine.syncNow(saved.id);
    await engine.close();
    catalog.close();
    return summary.errors.length ? 1 : 0;
  }
  engine.addSource(saved.id, { acceptSelfSigned });
  log(`syncing "${saved.name}" every ${saved.sync.intervalMinutes} min into ${saved.workingDirectory}; Ctrl+C stops`);
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await engine.close();
  catalog.close();
  return 0;
}
