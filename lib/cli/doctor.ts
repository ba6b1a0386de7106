// vtrack-onvif doctor: what each device offers for syncing recordings, and what to do about
// anything that does not work (lib/onvif/doctor.ts), as text or JSON (--json).
import { PASSWORD_HELP, resolvePassword } from './password';
import { doctor, type DoctorReport } from '../onvif/doctor';
import { parseArgs, str, num, bool, type FlagSpec } from './args';
import { errorMessage } from '../errors';
import { tmpdir } from 'node:os';
import { parseTargets } from '../onvif/targets';
import { isDriverName } from '../sync/driver';
import { sniffVendorApi } from '../vendors/sniff';
import { vendorDoctor, vendorDoctorText, type VendorDoctorReport } from '../vendors/doctor';

const HELP = `usage: vtrack-onvif doctor --targets LIST [--user U [--password-file FILE]] [--json]
                           [--replay-seconds N] [--timeout MS] [--accept-self-signed]
                           [--allow-basic-auth]
                           [--driver auto|onvif|hikvision|dahua]

  --targets LIST         host:port list, e.g. "127.0.0.1:18100" or "192.168.1.64:80,8000"
  --user U               an ONVIF user of the device; its password:
${PASSWORD_HELP}
  --replay-seconds N     length of the test replay (default 4; 0 = no test replay)
  --timeout MS           per request (default 5000)
  --accept-self-signed   https devices: accept a self-signed certificate
  --allow-basic-auth     answer a device that offers only HTTP/RTSP Basic authentication
                         (sends the password in clear text)
  --driver D             auto (default): the ONVIF check, and for a port without recording
                         search/replay the Hikvision ISAPI / Dahua HTTP API check (the API is told
                         without a login); onvif, hikvision, dahua: only that check
  --json                 one object per device: services, auth, clockOffsetMs, cameras[] (name,
                         recording, from, to, gapsVisible), replay (ok, speedX,
                         rateControlHonoured), problems[] (problem, action)
Exit code: 0 when every device checked has no problems, 1 when some have, 2 on bad options.`;

/** The JSON shape the CLI promises. */
export function doctorView(r: DoctorReport): Record<string, unknown> {
  return {
    host: r.host,
    port: r.port,
    name: r.name,
    manufacturer: r.manufacturer,
    model: r.model,
    services: r.services,
    auth: r.auth,
    clockAuth: r.clockAuth,
    clockOffsetMs: r.clockOffsetMs,
    cameras: r.cameras.map((c) => ({ name: c.name, recording: c.recording, mapping: c.mapping, from: c.from, to: c.to, gapsVisible: c.gapsVisible })),
    search: r.search,
    replay: r.replay,
    problems: r.problems,
  };
}

function text(reports: DoctorReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.host}:${r.port}  ${r.name ?? ''}${r.manufacturer ? ` (${r.manufacturer} ${r.model ?? ''})` : ''}`.trimEnd());
    const s = r.services;
    const yes = (b: boolean) => (b ? 'yes' : 'no');
    lines.push(
      `  services: search ${yes(s.search)}, replay ${yes(s.replay)}, recording ${yes(s.recording)}, events ${yes(s.events)}${s.profileG ? ' (Profile G)' : ''}`,
    );
    lines.push(
      `  auth: ${r.auth ?? 'n/a'}${r.clockAuth ? ` (clock needed ${r.clockAuth})` : ''}; clock offset: ${r.clockOffsetMs === null ? 'n/a' : `${(r.clockOffsetMs / 1000).toFixed(1)} s`}`,
    );
    for (const c of r.cameras) {
      const range = c.from || c.to ? `${c.from ?? '?'} .. ${c.to ?? '?'}` : 'range unknown';
      const gaps = c.gapsVisible === null ? '' : c.gapsVisible ? ', gaps visible' : ', gaps not visible';
      lines.push(`  - ${c.name}: ${c.recording ? `recording ${c.recording} (${c.mapping}), ${range}${gaps}` : 'no recording'}`);
    }
    if (r.replay) {
      lines.push(
        r.replay.ok
          ? `  test replay (${r.replay.camera}): ok, ${r.replay.frames} frames, ${r.replay.speedX ?? '?'}x${r.replay.rateControlHonoured === false ? ' — NVR replays in real time' : r.replay.rateControlHonoured ? ', Rate-Control honoured' : ''}`
          : `  test replay (${r.replay.camera}): FAILED — ${r.replay.error ?? 'no frames'}`,
      );
    }
    if (r.problems.length === 0) lines.push('  no problems found');
    for (const p of r.problems) lines.push(`  ! ${p.problem}\n      → ${p.action}`);
  }
  return lines.join('\n');
}

/** Every flag this command takes; any other is refused (see args.ts). */
export const FLAGS: FlagSpec = {
  booleans: ['json', 'help', 'accept-self-signed', 'allow-basic-auth'],
  strings: ['targets', 'user', 'timeout', 'replay-seconds', 'driver', 'password', 'password-file'],
};

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (bool(a, 'help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const targets = str(a, 'targets');
  if (!targets) {
    process.stderr.write(`vtrack-onvif doctor: --targets is required\n\n${HELP}\n`);
    return 2;
  }
  const driverArg = str(a, 'driver') ?? 'auto';
  if (driverArg !== 'auto' && !isDriverName(driverArg)) {
    process.stderr.write(`vtrack-onvif doctor: --driver must be auto, onvif, hikvision or dahua, got "${driverArg}"\n`);
    return 2;
  }
  const user = str(a, 'user');
  let password: string | undefined;
  try {
    password = await resolvePassword(a, user);
  } catch (e) {
    process.stderr.write(`vtrack-onvif doctor: ${errorMessage(e)}\n`);
    return 2;
  }
  const vendorOpts = {
    credentials: user ? { user, password: password ?? '', allowBasicAuth: bool(a, 'allow-basic-auth') } : undefined,
    timeoutMs: num(a, 'timeout', 5000),
    replaySeconds: num(a, 'replay-seconds', 4),
    tmpDir: tmpdir(),
    acceptSelfSigned: bool(a, 'accept-self-signed'),
  };
  let reports: DoctorReport[] = [];
  const vendorReports: VendorDoctorReport[] = [];
  if (driverArg === 'hikvision' || driverArg === 'dahua') {
    try {
      for (const t of parseTargets(targets)) vendorReports.push(await vendorDoctor({ host: t.host, port: t.port, driver: driverArg, ...vendorOpts }));
    } catch (e) {
      process.stderr.write(`vtrack-onvif doctor: ${errorMessage(e)}\n\n${HELP}\n`);
      return 2;
    }
    process.stdout.write((bool(a, 'json') ? JSON.stringify(vendorReports, null, 2) : vendorReports.map(vendorDoctorText).join('\n')) + '\n');
    return vendorReports.some((r) => r.problems.length > 0) ? 1 : 0;
  }
  try {
    reports = await doctor({
      targets,
      user,
      password,
      timeoutMs: num(a, 'timeout', 5000),
      replaySeconds: num(a, 'replay-seconds', 4),
      acceptSelfSigned: bool(a, 'accept-self-signed'),
      allowBasicAuth: bool(a, 'allow-basic-auth'),
    });
  } catch (e) {
    process.stderr.write(`vtrack-onvif doctor: ${errorMessage(e)}\n\n${HELP}\n`);
    return 2;
  }
  // auto: a port without ONVIF recording search/replay may be a Hikvision/Dahua recorder's own API.
  const vendorFor = new Map<DoctorReport, VendorDoctorReport>();
  if (driverArg === 'auto') {
    for (const r of reports) {
      if (r.services.profileG) continue;
      const api = await sniffVendorApi(r.host, r.port, vendorOpts.timeoutMs);
      if (api) vendorFor.set(r, await vendorDoctor({ host: r.host, port: r.port, driver: api, ...vendorOpts }));
    }
  }
  // A port that a vendor driver serves is judged by that check, not by ONVIF's complaints.
  const problems = (r: DoctorReport) => (vendorFor.has(r) ? (vendorFor.get(r) as VendorDoctorReport).problems : r.problems);
  if (bool(a, 'json')) {
    process.stdout.write(
      JSON.stringify(
        reports.map((r) => ({
          ...doctorView(r),
          driver: vendorFor.get(r)?.driver ?? (r.services.profileG ? 'onvif' : null),
          vendor: vendorFor.get(r) ?? null,
        })),
        null,
        2,
      ) + '\n',
    );
  } else {
    const out = reports.map((r) => {
      const v = vendorFor.get(r);
      return v
        ? `${text([r])}\n  → not usable through ONVIF; the ${v.driver} driver fits:\n${vendorDoctorText(v)}`
        : `${text([r])}${r.services.profileG ? '\n  → driver: onvif' : ''}`;
    });
    process.stdout.write(out.join('\n') + '\n');
  }
  return reports.some((r) => problems(r).length > 0) ? 1 : 0;
}
