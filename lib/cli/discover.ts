// vtrack-onvif discover: print the devices found, as a table or as JSON (--json).
import { discover } from '../onvif/discovery';
import { parseArgs, str, num, bool, type FlagSpec } from './args';
import type { DiscoveredDevice } from '../onvif/types';
import { errorMessage } from '../errors';
import { PASSWORD_HELP, resolvePassword } from './password';

const HELP = `usage: vtrack-onvif discover [--targets LIST] [--ws-discovery[=IFACE|ADDR:PORT]]
                             [--user U [--password-file FILE]] [--timeout MS] [--json]

  --targets LIST      host:port lists, ranges and CIDR blocks, e.g. "127.0.0.1:18000-18002"
                      or "192.168.1.0/24:80,8000" (default port 80)
  --ws-discovery      multicast Probe on every IPv4 interface; =eth0 or =192.168.1.5 for one
                      interface; =127.0.0.1:3702 for a directed (unicast) probe
  --user U            user name, to list each device's cameras and profiles
${PASSWORD_HELP}
  --timeout MS        how long to look (default 5000)
  --json              print a JSON array
Exit code: 0 when at least one target answered as ONVIF (per-device errors, such as a wrong
password, are in the output), 1 when none did, 2 on bad options.`;

/** The JSON shape the CLI promises: stable field names, no internals. */
export function cliView(d: DiscoveredDevice): Record<string, unknown> {
  return {
    urn: d.urn ?? null,
    host: d.host,
    port: d.port,
    xaddr: d.xaddr,
    onvif: d.onvif,
    name: d.name ?? null,
    manufacturer: d.manufacturer ?? null,
    model: d.model ?? null,
    profileG: d.services?.profileG ?? null,
    error: d.error ?? null,
    errorCode: d.errorCode ?? null,
    cameras: d.cameras.map((c) => ({
      name: c.name,
      token: c.token,
      profiles: c.profiles.map((p) => ({ token: p.token, encoding: p.encoding, width: p.width, height: p.height, fps: p.fps })),
    })),
  };
}

function table(devices: DiscoveredDevice[]): string {
  if (devices.length === 0) return 'no devices found';
  const lines: string[] = [];
  for (const d of devices) {
    const head = `${d.host}:${d.port}  ${d.name ?? ''}${d.manufacturer ? ` (${d.manufacturer} ${d.model ?? ''})` : ''}`.trimEnd();
    lines.push(head + (d.error ? `  ERROR: ${d.error}` : ''));
    for (const c of d.cameras) {
      const p = c.profiles[0];
      // Unknown values say so instead of "0x0 ''" (devices that omit them, e.g. Dahua NVR encoders).
      const size = p && p.width && p.height ? `${p.width}x${p.height}` : 'size unknown';
      lines.push(`  - ${c.name}${p ? `  ${size} ${p.encoding || 'codec unknown'}${p.fps ? ` ${p.fps} fps` : ''}` : ''}`);
    }
  }
  return lines.join('\n');
}

/** Every flag this command takes; any other is refused (see args.ts). */
export const FLAGS: FlagSpec = {
  booleans: ['json', 'help'],
  strings: ['targets', 'user', 'timeout', 'password', 'password-file'],
  optionalValue: ['ws-discovery'],
};

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (bool(a, 'help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const wsd = a.flags.get('ws-discovery');
  let devices: DiscoveredDevice[];
  try {
    const user = str(a, 'user');
    devices = await discover({
      targets: str(a, 'targets'),
      wsDiscovery: wsd === undefined ? false : wsd === true ? true : wsd,
      user,
      password: await resolvePassword(a, user),
      timeoutMs: num(a, 'timeout', 5000),
    });
  } catch (e) {
    process.stderr.write(`vtrack-onvif discover: ${errorMessage(e)}\n\n${HELP}\n`);
    return 2;
  }
  process.stdout.write((bool(a, 'json') ? JSON.stringify(devices.map(cliView), null, 2) : table(devices)) + '\n');
  // Scripts test the exit code: a search where nothing answered as ONVIF is a failure.
  if (!devices.some((d) => d.onvif)) {
    process.stderr.write('vtrack-onvif discover: no target answered as an ONVIF device\n');
    return 1;
  }
  return 0;
}
