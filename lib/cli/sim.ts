// `vtrack-onvif sim`: run the ONVIF NVR simulator until SIGINT/SIGTERM.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { bool, num, parseArgs, str, type FlagSpec } from './args';
import { END_FAULTS, REPLAY_FAULTS, startSimulator, type ReplayFault, type RunningSimulator, type SimulatorOptions } from '../sim/index';
import { errorMessage } from '../errors';
import { parseUtcOffset } from '../sim/vendor-sim';
import { parseQuirks, quirkHelp } from '../sim/quirks';

const USAGE = `usage: vtrack-onvif sim [options]

  --preset seed|nvr        seed: three cameras on consecutive ports; nvr: one recorder (default seed)
  --preset hikvision|dahua one NVR speaking Hikvision ISAPI / Dahua HTTP API on --base-port
  --utc-offset +HH:MM      hikvision/dahua: the NVR's time zone (default +02:00)
  --channels N             nvr preset: number of channels (default 4)
  --base-port PORT         first SOAP port (default 18000; 0 = any free port)
  --host ADDR              address to listen on (default 127.0.0.1)
  --allow-non-loopback     needed for a --host that is not a loopback address
  --user U --password P    require these credentials (WS-Security digest or HTTP Digest)
  --clock-offset SEC       device clock = real clock + SEC (reproduces clock skew)
  --history-min MIN        recording history before now (default 30)
  --quality default|low    low: every camera 360p H.264 ~256 kbit/s (many-channel runs)
  --discovery-port PORT|0|off   WS-Discovery UDP port (default 3702; unicast only)
  --no-rtsp                do not start the RTSP servers
  --rtsp-base-port PORT    first RTSP port; device i gets PORT+i (default: any free port)
  --fault NAME[:FRAMES[:COUNT]]  misbehave like real NVRs (repeatable); replays end early after
                           FRAMES frames (default 150), for the first COUNT replays (default all):
                             bye-early       RTCP BYE before the range end
                             terminal-early  T flag on a frame before the range end, then quiet
                             quiet-close     connection closed mid-range
                             idle            silent, connection kept open
                             rtcp-only       only RTCP sender reports, every 2 s, forever
                           and:
                             busy[:COUNT]    the first COUNT replays (hikvision/dahua: downloads)
                                             get 503 (default 3)
                             realtime        ignore Rate-Control: no (replay in real time)
                             next-keyframe   a replay starts at the first keyframe at or after the
                                             asked start (not the one before it, as ONVIF says)
                             lost:FROM:TO    seconds FROM..TO after each recording's start cannot be
                                             replayed, though the search lists them (overwritten)
                           and, for every replay, how its connection ends:
                             reset-at-end    TCP reset right after the last frame of the range
                                             (no RTCP BYE; a TEARDOWN sent first is reset too)
                             reset-mid[:FRAMES[:COUNT]]  TCP reset after FRAMES frames (default
                                             150), for the first COUNT replays (default all)
                             no-teardown-reply   TEARDOWN is never answered
  --tls-key FILE --tls-cert FILE  serve SOAP over HTTPS only, with this PEM key and certificate
                           (an HTTPS-only device; a self-signed certificate needs the client's
                           "accept self-signed certificate"), e.g. made with
                           openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
                             -addext subjectAltName=IP:127.0.0.1 -keyout k.pem -out c.pem
  --json                   print the endpoints as JSON
  --quirk NAME[,NAME]      reproduce a real-device behaviour (repeatable):
${quirkHelp()}
`;

/** Every --quirk value (the flag may repeat; values may be comma lists). */
function quirkArgs(argv: string[]): string[] {
  return argv.flatMap((a, i) => (a === '--quirk' && argv[i + 1] !== undefined ? [argv[i + 1]] : a.startsWith('--quirk=') ? [a.slice(8)] : []));
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function optionsFromArgs(argv: string[]): SimulatorOptions & { json: boolean } {
  const a = parseArgs(argv, FLAGS);
  const preset = str(a, 'preset') ?? 'seed';
  if (preset !== 'seed' && preset !== 'nvr' && preset !== 'hikvision' && preset !== 'dahua')
    throw new Error(`--preset must be seed, nvr, hikvision or dahua, got "${preset}"`);
  const utcOffset = str(a, 'utc-offset');
  const host = str(a, 'host') ?? '127.0.0.1';
  if (!isLoopback(host) && !bool(a, 'allow-non-loopback')) {
    throw new Error(`refusing to listen on non-loopback --host ${host} without --allow-non-loopback`);
  }
  const user = str(a, 'user');
  const password = str(a, 'password');
  if ((user === undefined) !== (password === undefined)) throw new Error('--user and --password go together');
  const discoveryArg = str(a, 'discovery-port') ?? '3702';
  let discovery: SimulatorOptions['discovery'];
  if (discoveryArg === 'off') discovery = false;
  else {
    const port = Number(discoveryArg);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--discovery-port must be a port, 0 or off, got "${discoveryArg}"`);
    discovery = { port };
  }
  const basePort = num(a, 'base-port', 18000);
  const channels = num(a, 'channels', 4);
  if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65535) throw new Error('--base-port must be a port number');
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) throw new Error('--channels must be 1..64');
  const quality = str(a, 'quality') ?? 'default';
  if (quality !== 'default' && quality !== 'low') throw new Error(`--quality must be default or low, got "${quality}"`);
  const tlsKey = str(a, 'tls-key');
  const tlsCert = str(a, 'tls-cert');
  if ((tlsKey === undefined) !== (tlsCert === undefined)) throw new Error('--tls-key and --tls-cert go together');
  const rtspBasePort = num(a, 'rtsp-base-port', 0);
  if (!Number.isInteger(rtspBasePort) || rtspBasePort < 0 || rtspBasePort > 65535) throw new Error('--rtsp-base-port must be a port number');
  return {
    rtspBasePort: rtspBasePort || undefined,
    faults: faultsFromArgs(a.repeated.get('fault') ?? []),
    host,
    preset,
    basePort,
    channels,
    historyMinutes: num(a, 'history-min', 30),
    quality,
    clockOffsetSec: num(a, 'clock-offset', 0),
    auth: user !== undefined && password !== undefined ? { user, password } : undefined,
    discovery,
    rtsp: !bool(a, 'no-rtsp'),
    quirks: parseQuirks(quirkArgs(argv)),
    tls: tlsKey !== undefined && tlsCert !== undefined ? { key: readFileSync(tlsKey), cert: readFileSync(tlsCert) } : undefined,
    json: bool(a, 'json'),
    vendor: utcOffset !== undefined ? { utcOffsetMin: parseUtcOffset(utcOffset) } : undefined,
  };
}

function faultsFromArgs(values: string[]): SimulatorOptions['faults'] {
  const faults: NonNullable<SimulatorOptions['faults']> = {};
  const count = (v: string | undefined, what: string, fallback: number): number => {
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--fault ${what}: expected a whole number, got "${v}"`);
    return n;
  };
  for (const v of values) {
    const [name, a1, a2] = v.split(':');
    if (name === 'busy') faults.busyReplays = count(a1, name, 3);
    else if (name === 'realtime') faults.ignoreRateControl = true;
    else if (name === 'next-keyframe') faults.nextKeyframe = true;
    else if (name === 'lost') {
      const fromSec = count(a1, name, 60);
      const toSec = count(a2, name, fromSec + 30);
      if (toSec <= fromSec) throw new Error('--fault lost:FROM:TO needs FROM < TO');
      faults.unreplayable = { fromSec, toSec };
    } else if ((END_FAULTS as readonly string[]).includes(name)) {
      const end = (faults.end ??= {});
      if (name === 'reset-at-end') end.resetAtEnd = true;
      else if (name === 'reset-mid') end.resetMid = { afterFrames: count(a1, name, 150), remaining: a2 === undefined ? Infinity : count(a2, name, 0) };
      else end.noTeardownReply = true;
    } else if ((REPLAY_FAULTS as readonly string[]).includes(name)) {
      if (faults.replay) throw new Error(`--fault: only one early-ending fault at a time (${faults.replay.fault} and ${name})`);
      faults.replay = { fault: name as ReplayFault, afterFrames: count(a1, name, 150), count: a2 === undefined ? undefined : count(a2, name, 0) };
    } else
      throw new Error(`--fault: unknown fault "${name}" (one of ${[...REPLAY_FAULTS, 'busy', 'realtime', 'next-keyframe', 'lost', ...END_FAULTS].join(', ')})`);
  }
  return faults;
}

/** What the CLI prints: endpoints and cameras, never credentials. */
export function describe(sim: RunningSimulator): object {
  return {
    discoveryPort: sim.discoveryPort ?? null,
    devices: sim.devices.map((d) => ({
      name: d.spec.name,
      urn: d.urn,
      xaddr: d.xaddr,
      port: d.port,
      rtspPort: d.rtspPort,
      cameras: d.spec.cameras.map((c) => ({ name: c.name, codec: c.codec, width: c.width, height: c.height, fps: c.fps })),
    })),
  };
}

function printText(sim: RunningSimulator, authOn: boolean, quirks: string[]): void {
  const lines: string[] = [];
  for (const d of sim.devices) {
    lines.push(`${d.spec.name}  ${d.xaddr}  rtsp port ${d.rtspPort}  ${d.urn}`);
    for (const c of d.spec.cameras) lines.push(`  - ${c.name}: ${c.width}x${c.height} ${c.codec} ${c.fps} fps`);
  }
  lines.push(sim.discoveryPort !== undefined ? `WS-Discovery: udp port ${sim.discoveryPort} (unicast probes)` : 'WS-Discovery: off');
  lines.push(authOn ? 'auth: required (WS-Security digest or HTTP Digest)' : 'auth: none');
  if (quirks.length) lines.push(`quirks: ${quirks.join(', ')}`);
  lines.push('press Ctrl+C to stop');
  process.stdout.write(lines.join('\n') + '\n');
}

/** Every flag this command takes; any other is refused (see args.ts). */
export const FLAGS: FlagSpec = {
  booleans: ['json', 'allow-non-loopback', 'no-rtsp', 'help'],
  strings: [
    'base-port',
    'channels',
    'clock-offset',
    'history-min',
    'rtsp-base-port',
    'tls-key',
    'tls-cert',
    'fault',
    'discovery-port',
    'host',
    'password',
    'preset',
    'user',
    'quirk',
    'utc-offset',
    'quality',
  ],
};

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let opts;
  try {
    opts = optionsFromArgs(argv);
  } catch (err) {
    process.stderr.write(`vtrack-onvif sim: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  const { json, ...simOpts } = opts;
  // Signal handlers before anything is printed: a supervisor that stops us as soon as it reads
  // the listing must get a clean stop (exit 0), not the default SIGTERM death.
  let signalled!: () => void;
  const stopRequested = new Promise<void>((resolve) => (signalled = resolve));
  const onSignal = (): void => signalled();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const sim = await startSimulator({ ...simOpts, log: json ? undefined : (line) => process.stderr.write(`[sim] ${line}\n`) });
    if (json) process.stdout.write(JSON.stringify(describe(sim), null, 2) + '\n');
    else printText(sim, simOpts.auth !== undefined, [...(simOpts.quirks ?? [])]);
    await stopRequested;
    await sim.stop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!json) process.stderr.write('[sim] stopped\n');
  return 0;
}
