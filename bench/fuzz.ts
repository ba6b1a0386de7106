// `npm run fuzz`: 100,000 mutated inputs per parser (SOAP/XML, WS-Discovery, SDP, the RTSP stream
// parser, target lists, folder names), the Discover admin route's handler and the CLI's option
// handling, each checked for crashes (an exception of a kind the caller does not expect), broken
// invariants and slow inputs. Not part of `npm test`: it runs for a minute or two and prints
// figures. Deterministic: FUZZ_SEED=n picks another input sequence, FUZZ_N=n another count.
//
// Network safety: nothing here sends a packet except the CLI sample at the end, whose every
// target is forced to a closed port on 127.0.0.1; the route's discovery is a stub.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Request, Response } from 'express';
import { parseXml, child, all, text, attr, num, path as xpath, type XmlValue } from '../lib/onvif/xml';
import { parseProbeMatches } from '../lib/onvif/ws-discovery';
import { parseSdp } from '../lib/rtsp/sdp';
import { RtspStreamParser } from '../lib/rtsp/stream-parser';
import { RtspError } from '../lib/rtsp/errors';
import { parseTargetList, TargetLimitError } from '../lib/onvif/targets';
import { safeFolderName, MAX_FOLDER_NAME_BYTES } from '../lib/storage/names';
import { discoverRoute, ownTargets, type NodeLookup, type RoutePlan } from '../nodes/onvif-discover/discover-route';
import { MAX_PORTS } from '../nodes/nvr-source/ports';
import { parseArgs, num as argNum } from '../lib/cli/args';
import { resolvePassword } from '../lib/cli/password';

const N = Number(process.env.FUZZ_N) || 100_000;
const SEED = Number(process.env.FUZZ_SEED) || 11;

// mulberry32: small, seedable, good enough to spread mutations.
let state = SEED >>> 0;
function rnd(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const ODD_CHARS = [
  '\u0000',
  '\u202E',
  '\u200B',
  '\u200D',
  '\uFEFF',
  '\uD800',
  '\uDFFF',
  '\u0085',
  '\u2028',
  '\r',
  '\n',
  '\t',
  '&',
  '<',
  '>',
  '"',
  "'",
  ']]>',
  '<!DOCTYPE',
  '<!ENTITY',
  '&amp;',
  '&#0;',
  '&#xFFFF;',
  '$',
  '`',
  '..',
  '/',
  '\\',
  ':',
  '%00',
  '🎥',
  '👨\u200D👩',
  'é',
  '\u0301',
];

function randomString(max: number): string {
  let s = '';
  const len = int(max);
  for (let i = 0; i < len; i++) {
    const r = rnd();
    s += r < 0.6 ? String.fromCharCode(32 + int(95)) : r < 0.8 ? pick(ODD_CHARS) : String.fromCodePoint(int(0x110000));
  }
  return s;
}

/** A mutation of one of `seeds`: splices, deletions, duplications, odd tokens, truncation. */
function mutate(seeds: readonly string[], tokens: readonly string[] = ODD_CHARS): string {
  let s = pick(seeds);
  const ops = 1 + int(6);
  for (let k = 0; k < ops; k++) {
    const i = int(s.length + 1);
    switch (int(7)) {
      case 0:
        s = s.slice(0, i) + pick(tokens) + s.slice(i);
        break;
      case 1:
        s = s.slice(0, i) + s.slice(i + 1 + int(20));
        break;
      case 2: {
        const j = int(s.length + 1);
        s = s.slice(0, i) + s.slice(Math.min(i, j), Math.max(i, j)).repeat(1 + int(4)) + s.slice(i);
        break;
      }
      case 3:
        s = s.slice(0, i);
        break;
      case 4:
        s = s.slice(0, i) + randomString(12) + s.slice(i);
        break;
      case 5:
        s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << int(8))) + s.slice(i + 1);
        break;
      default:
        s = s.slice(0, i) + pick(seeds).slice(int(200)) + s.slice(i);
    }
    if (s.length > 64 * 1024) s = s.slice(0, 64 * 1024);
  }
  return s;
}

interface Figures {
  name: string;
  inputs: number;
  accepted: number;
  rejected: number;
  crashes: number;
  maxMs: number;
  totalMs: number;
  firstCrash?: string;
  slowest?: string;
}

function newFigures(name: string): Figures {
  return { name, inputs: 0, accepted: 0, rejected: 0, crashes: 0, maxMs: 0, totalMs: 0 };
}

/**
 * Runs `fn` on `count` inputs from `gen`. fn returns normally (accepted), throws something
 * `expected` says is a refusal (rejected), or anything else / a failed invariant (crash).
 */
async function campaign<T>(
  name: string,
  count: number,
  gen: () => T,
  fn: (input: T) => void | Promise<void>,
  expected: (e: unknown) => boolean,
): Promise<Figures> {
  const f = newFigures(name);
  for (let i = 0; i < count; i++) {
    const input = gen();
    const t0 = process.hrtime.bigint();
    try {
      await fn(input);
      f.accepted++;
    } catch (e) {
      if (expected(e)) f.rejected++;
      else {
        f.crashes++;
        f.firstCrash ??= `${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} on ${JSON.stringify(input).slice(0, 300)}`;
      }
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    f.totalMs += ms;
    f.inputs++;
    if (ms > f.maxMs) {
      f.maxMs = ms;
      f.slowest = JSON.stringify(input).slice(0, 120);
    }
  }
  return f;
}

class Invariant extends Error {
  override name = 'Invariant';
}
function check(ok: boolean, what: string): void {
  if (!ok) throw new Invariant(what);
}
/** Plain Errors are how our parsers refuse input; TypeError/RangeError mean a bug. */
const plainError = (e: unknown) => e instanceof Error && !(e instanceof Invariant) && !(e instanceof TypeError) && !(e instanceof RangeError);

// ---- seeds -------------------------------------------------------------------------------------

const SOAP_SEEDS = [
  '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>24</tt:Day></tt:Date><tt:Time><tt:Hour>13</tt:Hour><tt:Minute>20</tt:Minute><tt:Second>0</tt:Second></tt:Time></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></s:Body></s:Envelope>',
  '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>',
  '<Envelope><Body><GetProfilesResponse><Profiles token="P1" fixed="true"><Name>Main</Name><VideoEncoderConfiguration token="E1"><Encoding>H264</Encoding><Resolution><Width>1920</Width><Height>1080</Height></Resolution></VideoEncoderConfiguration></Profiles></GetProfilesResponse></Body></Envelope>',
  '<s:Envelope xmlns:s="x"><s:Body><tse:GetRecordingSearchResultsResponse xmlns:tse="y"><tse:ResultList><tt:SearchState xmlns:tt="z">Completed</tt:SearchState><tt:RecordingInformation><tt:RecordingToken>REC_1</tt:RecordingToken><tt:Source><tt:SourceId>VS_1</tt:SourceId><tt:Name>Front &amp; Back</tt:Name></tt:Source><tt:EarliestRecording>2026-11-24T12:00:00Z</tt:EarliestRecording></tt:RecordingInformation></tse:ResultList></tse:GetRecordingSearchResultsResponse></s:Body></s:Envelope>',
];
const WSD_SEED =
  '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:RelatesTo>urn:uuid:fuzz</a:RelatesTo></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:dev-1</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/name/Cam</d:Scopes><d:XAddrs>http://127.0.0.1:18000/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>';
const SDP_SEEDS = [
  [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=replay',
    't=0 0',
    'm=video 0 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAKeKQFAe2AtwEBAaQeJEV,aM48gA==',
    'a=control:trackID=0',
    '',
  ].join('\r\n'),
  [
    'v=0',
    's=x',
    'm=audio 0 RTP/AVP 0',
    'm=video 0 RTP/AVP 98',
    'a=rtpmap:98 H265/90000',
    'a=fmtp:98 sprop-vps=QAEMAf//;sprop-sps=QgEBAWA=;sprop-pps=RAHA',
    'a=control:rtsp://127.0.0.1/rec/track1',
    '',
  ].join('\n'),
  ['v=0', 'm=video 0 RTP/AVP 26', 'a=control:*', ''].join('\r\n'),
  ['v=0', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 MP4V-ES/90000', 'a=fmtp:96 profile-level-id=1;config=000001B001', ''].join('\r\n'),
];
const RTSP_SEEDS = [
  'RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\ns=x\r\n',
  'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="r", nonce="n"\r\nWWW-Authenticate: Basic realm="r"\r\n\r\n',
  '$\u0000\u0000\u000c\u0080\u0060\u0000\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0001$\u0001\u0000\u0008\u0081\u00cb\u0000\u0001\u0000\u0000\u0012\u0034',
  'GET_PARAMETER rtsp://x RTSP/1.0\r\nCSeq: 9\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: S1;timeout=60\r\n\r\n',
];
const TARGET_SEEDS = [
  '127.0.0.1:18000-18002',
  '192.168.1.0/24:80,8000',
  'cam.local',
  '10.0.0.5-20:80',
  '[::1]:8080',
  '10.0.0.1:80,10.0.0.2:81,82',
  'a;b c,d:1-65535',
  '10.0.0.0/8:80',
  '0.0.0.0/32:1',
];
const TARGET_TOKENS = [
  '/',
  '-',
  ':',
  ',',
  ';',
  ' ',
  '[',
  ']',
  '.',
  '0',
  '255',
  '256',
  '65535',
  '65536',
  '/8',
  '/33',
  '/22',
  '::',
  '99999999999999999999',
  '1e3',
  'NaN',
  '-1',
  '\u0000',
  '\u202E',
];
const NAME_SEEDS = [
  'Front Door Camera',
  '../../etc',
  'CON',
  'Caméra Entrée',
  '🎥📷 cam 👨\u200D👩\u200D👧',
  '\u202Egnp.exe',
  '$(reboot)',
  '-rf',
  'x'.repeat(150),
  'a\u200Bb',
  'C:\\Windows',
  ' . ',
  'nul\u0000byte',
];

// ---- the Discover route's handler with a stub discovery ----------------------------------------

const STORED = {
  nvr1: { user: 'nvr', password: 'NVR-SECRET' },
  disc1: { user: 'disc', password: 'DISC-SECRET' },
  mq1: { user: 'mq', password: 'MQTT-SECRET' },
} as const;
const CONFIGS: Record<string, { type: string; [k: string]: unknown }> = {
  nvr1: { type: 'nvr-source', host: '127.0.0.1', ports: '18000-18002' },
  disc1: { type: 'onvif-discover', targets: '127.0.0.0/30:80' },
  mq1: { type: 'mqtt-broker', broker: '127.0.0.1' },
};
const lookup: NodeLookup = {
  config: (id) => (Object.prototype.hasOwnProperty.call(CONFIGS, id) ? CONFIGS[id] : undefined),
  credentials: (id) => (Object.prototype.hasOwnProperty.call(STORED, id) ? STORED[id as keyof typeof STORED] : undefined),
};
const ROUTE_MAX = 1024;
let routeRuns = 0;

/** The stub discovery: checks that whatever the route lets through keeps its promises. */
async function stubDiscover(o: RoutePlan) {
  routeRuns++;
  const targets = (o.targets ?? []) as string[];
  check(targets.length <= ROUTE_MAX, `route passed ${targets.length} targets`);
  if (o.driver !== 'onvif') {
    // A vendor driver logs in port after port: one host, few ports, no WS-Discovery.
    check(!o.wsDiscovery && targets.length > 0 && targets.length <= MAX_PORTS, `vendor driver ${o.driver} with ${targets.length} targets`);
    check(new Set(targets.map((t) => t.replace(/:\d+$/, ''))).size === 1, `vendor driver ${o.driver} over several hosts`);
  }
  for (const [id, login] of Object.entries(STORED)) {
    if (o.password !== login.password) continue;
    check(id !== 'mq1', 'an mqtt-broker password was used');
    const own = ownTargets(CONFIGS[id]);
    check(!o.wsDiscovery, 'a stored login went with WS-Discovery');
    for (const t of targets) {
      const m = /^\[?(.*?)\]?:(\d+)$/.exec(t);
      check(!!m && !!own?.has(m[1], Number(m[2])), `${id}'s login used against ${t}`);
    }
  }
  return [];
}
const handler = discoverRoute(lookup, () => ({ maxDiscoverTargets: ROUTE_MAX, discoverRequestsPerMinute: 1e9, discoverConcurrentPerUser: 1e9 }), stubDiscover);

function fuzzValue(depth = 0): unknown {
  switch (int(depth > 1 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return rnd() < 0.5;
    case 2:
      return pick([0, -1, 1e308, NaN, 3000, 2 ** 53]);
    case 3:
      return randomString(20);
    case 4:
      return mutate(TARGET_SEEDS, TARGET_TOKENS);
    case 5:
      return pick(['nvr1', 'disc1', 'mq1', '__proto__', 'constructor', 'toString', '', 'tab1']);
    case 6:
      return Array.from({ length: int(4) }, () => fuzzValue(depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(4) }, () => [pick(['targets', 'nodeId', 'user', 'password', '__proto__', 'x']), fuzzValue(depth + 1)]),
      );
  }
}

function routeInput() {
  const body: Record<string, unknown> = {};
  if (rnd() < 0.8) body.targets = rnd() < 0.7 ? mutate(TARGET_SEEDS, TARGET_TOKENS) : fuzzValue();
  if (rnd() < 0.6) body.nodeId = rnd() < 0.8 ? pick(['nvr1', 'disc1', 'mq1', 'nope', '', 'constructor', '__proto__']) : fuzzValue();
  if (rnd() < 0.3) body.user = fuzzValue();
  if (rnd() < 0.3) body.password = fuzzValue();
  if (rnd() < 0.2) body.wsDiscovery = pick<unknown>([true, false, '127.0.0.1:3702', 'lo', '10.9.9.9:3702', '[::1]:3702', fuzzValue()]);
  if (rnd() < 0.2) body.timeoutMs = fuzzValue();
  if (rnd() < 0.3) body.driver = rnd() < 0.8 ? pick(['onvif', 'auto', 'hikvision', 'dahua', 'Hikvision', '']) : fuzzValue();
  // Mostly JSON, so most inputs reach the credential and target rules.
  const type =
    rnd() < 0.7
      ? 'application/json'
      : pick([
          undefined,
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'application/x-www-form-urlencoded',
          'text/plain',
          'application/jsonx',
          'multipart/form-data',
          randomString(10),
        ]);
  return { type, body: rnd() < 0.05 ? fuzzValue() : body, user: rnd() < 0.5 ? pick(['admin', 'bob']) : undefined };
}

async function callRoute(input: ReturnType<typeof routeInput>): Promise<void> {
  let status = 200;
  let sent: unknown;
  const res = {
    headersSent: false,
    writableEnded: false,
    set: () => res,
    status(n: number) {
      status = n;
      return res;
    },
    json(b: unknown) {
      sent = b;
      res.headersSent = true;
      res.writableEnded = true;
      return res;
    },
    on: () => res,
  };
  const req = {
    headers: { 'content-type': input.type },
    body: input.body,
    user: input.user ? { username: input.user } : undefined,
    ip: '127.0.0.1',
    socket: { remoteAddress: '127.0.0.1' },
  };
  const before = routeRuns;
  handler(req as unknown as Request, res as unknown as Response);
  await new Promise((r) => setImmediate(r));
  check(res.headersSent, 'no answer');
  check(status < 500, `status ${status}`);
  const type = (input.type ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') check(status === 415 && routeRuns === before, 'a non-JSON request was served');
  const out = JSON.stringify(sent) ?? '';
  check(!/NVR-SECRET|DISC-SECRET|MQTT-SECRET/.test(out), 'a stored password in the answer');
  if (status === 403 && input.body && typeof input.body === 'object' && ['mq1', 'nope'].includes(String((input.body as { nodeId?: unknown }).nodeId))) {
    check(/does not name a deployed/.test(out), 'foreign and unknown ids answered differently');
  }
  if (status !== 200) throw Object.assign(new Error(`refused ${status}`), { refused: true });
}

// ---- CLI option handling -------------------------------------------------------------------------

const CLI_FLAGS = [
  '--targets',
  '--user',
  '--password',
  '--password-file',
  '--timeout',
  '--json',
  '--help',
  '--ws-discovery',
  '--from',
  '--to',
  '-o',
  '--',
  '--=',
  '---x',
  '--timeout=',
  '--targets=',
];

function argvInput(): string[] {
  return Array.from({ length: int(10) }, () => (rnd() < 0.5 ? pick(CLI_FLAGS) : rnd() < 0.5 ? mutate(TARGET_SEEDS, TARGET_TOKENS) : randomString(15)));
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-fuzz-'));
  const pwFile = path.join(tmp, 'pw');
  fs.writeFileSync(pwFile, 'fuzz-pw\n', { mode: 0o600 });
  const results: Figures[] = [];
  const say = (f: Figures) => {
    results.push(f);
    process.stdout.write(
      `${f.name.padEnd(26)} ${String(f.inputs).padStart(7)} inputs  ${String(f.accepted).padStart(7)} accepted  ${String(f.rejected).padStart(7)} refused  ${String(f.crashes).padStart(3)} crashes  mean ${((f.totalMs / f.inputs) * 1000).toFixed(0).padStart(5)} µs  max ${f.maxMs.toFixed(1).padStart(6)} ms\n`,
    );
    if (f.firstCrash) process.stdout.write(`    first crash: ${f.firstCrash}\n`);
  };
  process.stdout.write(`fuzz: seed ${SEED}, ${N} inputs per target\n`);

  say(
    await campaign(
      'SOAP/XML parseXml',
      N,
      () => mutate(SOAP_SEEDS),
      (s) => {
        const doc = parseXml(s);
        // What the SOAP client does next: walk Envelope/Body with the helpers, which must not throw.
        const body = xpath(doc, 'Envelope', 'Body');
        const walk = (v: XmlValue, d: number): void => {
          if (d > 8 || v === undefined || typeof v === 'string') return;
          for (const k of Object.keys(Array.isArray(v) ? {} : v)) {
            text(child(v, k));
            attr(child(v, k), 'token');
            num(child(v, k));
            for (const c of all(v, k)) walk(c, d + 1);
          }
        };
        walk(body, 0);
      },
      plainError,
    ),
  );
  say(
    await campaign(
      'WS-Discovery ProbeMatches',
      N,
      () => mutate([WSD_SEED]),
      (s) => void parseProbeMatches(s, new Set(['urn:uuid:fuzz']), '127.0.0.1'),
      () => false,
    ),
  );
  say(
    await campaign(
      'SDP parseSdp',
      N,
      () => mutate(SDP_SEEDS),
      (s) => void parseSdp(s, 'rtsp://127.0.0.1:554/rec/'),
      plainError,
    ),
  );
  say(
    await campaign(
      'RTSP stream parser',
      N,
      () => mutate(RTSP_SEEDS),
      (s) => {
        const p = new RtspStreamParser({ message: () => undefined, data: () => undefined });
        const buf = Buffer.from(s, 'latin1');
        // Random chunking: a message split anywhere must parse the same way.
        for (let i = 0; i < buf.length;) {
          const n = 1 + int(64);
          p.push(buf.subarray(i, i + n));
          i += n;
        }
      },
      (e) => e instanceof RtspError,
    ),
  );
  say(
    await campaign(
      'targets parseTargetList',
      N,
      () => mutate(TARGET_SEEDS, TARGET_TOKENS),
      (s) => {
        const list = parseTargetList(s, 1024);
        let n = 0;
        for (const t of list) {
          n++;
          check(t.port >= 1 && t.port <= 65535 && t.host.length > 0, `bad target ${JSON.stringify(t)}`);
          check(list.has(t.host, t.port), `has() disagrees with iteration for ${t.host}:${t.port}`);
        }
        check(n <= list.size && list.size <= 1024, `iterated ${n}, size ${list.size}`);
      },
      (e) => e instanceof TargetLimitError || plainError(e),
    ),
  );
  say(
    await campaign(
      'names safeFolderName',
      N,
      () => (rnd() < 0.5 ? mutate(NAME_SEEDS) : randomString(60)),
      (s) => {
        const n = safeFolderName(s);
        check(n.length > 0 && n !== '.' && n !== '..', `empty or dot name for ${JSON.stringify(s)}`);
        check(Buffer.byteLength(n) <= MAX_FOLDER_NAME_BYTES, 'too long');
        check(!/[/\\\u0000-\u001f\u007f-\u009f<>:"|?*`$;&'()!%^{}[\]#~]/.test(n), `unsafe character in ${JSON.stringify(n)}`);
        check(!/[\u202A-\u202E\u2066-\u2069\u200B\u200C\u200E\u200F\uFEFF]/.test(n), `invisible character in ${JSON.stringify(n)}`);
        check(!/^[.\-\s]/.test(n) && !/[.\s]$/.test(n), `bad edge in ${JSON.stringify(n)}`);
        check(Buffer.from(n, 'utf8').toString('utf8') === n, 'not valid UTF-8 (lone surrogate)');
        check(safeFolderName(n) === n, `not idempotent: ${JSON.stringify(n)} → ${JSON.stringify(safeFolderName(n))}`);
      },
      () => false,
    ),
  );
  say(await campaign('admin route handler', N, routeInput, callRoute, (e) => (e as { refused?: boolean }).refused === true));
  say(
    await campaign(
      'CLI options (in process)',
      N,
      argvInput,
      async (argv) => {
        const a = parseArgs(argv, {
          booleans: ['json', 'help'],
          strings: ['targets', 'user', 'timeout', 'password', 'password-file'],
          optionalValue: ['ws-discovery'],
        });
        // Only our own file: a fuzzed path could name a device (/dev/zero) that never ends.
        if (a.flags.has('password-file')) a.flags.set('password-file', rnd() < 0.5 ? pwFile : path.join(tmp, 'missing'));
        const user = a.flags.get('user');
        await resolvePassword(a, typeof user === 'string' ? user : undefined, {
          env: {},
          input: { isTTY: false, on: () => 0, off: () => 0, resume: () => 0, pause: () => 0 },
          warn: () => undefined,
        });
        argNum(a, 'timeout', 5000);
        const t = a.flags.get('targets');
        if (typeof t === 'string') parseTargetList(t);
      },
      plainError,
    ),
  );

  // The real CLI, as a child process: fewer runs (each starts Node), every target forced to a
  // closed loopback port and WS-Discovery removed, so nothing leaves the machine.
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const cliRuns = Number(process.env.FUZZ_CLI_RUNS) || 300;
  const cliPath = path.join(__dirname, '..', 'lib', 'cli.js');
  say(
    // NUL bytes are dropped: no process can receive them in its arguments (execFile refuses them).
    await campaign(
      'CLI discover (processes)',
      cliRuns,
      () => [
        ...argvInput()
          .filter((x) => !/^--?ws/.test(x) && !/^--targets=/.test(x) && !/^--password-file/.test(x))
          .map((x) => x.replace(/\0/g, '')),
        '--targets',
        `127.0.0.1:${closed}`,
        '--timeout',
        '300',
      ],
      (argv) =>
        new Promise<void>((resolve, reject) => {
          execFile(process.execPath, [cliPath, 'discover', ...argv], { timeout: 20_000, env: { PATH: process.env.PATH } }, (err, _out, stderr) => {
            const code = err ? ((err as { code?: number | string }).code ?? -1) : 0;
            if (/TypeError|RangeError|at .*\.js:\d+/.test(stderr) || ![0, 1, 2].includes(Number(code)))
              reject(new Invariant(`exit ${code}: ${stderr.slice(0, 200)}`));
            else if (code === 0) resolve();
            else reject(Object.assign(new Error(`exit ${code}`), { refused: true }));
          });
        }),
      (e) => (e as { refused?: boolean }).refused === true,
    ),
  );

  fs.rmSync(tmp, { recursive: true, force: true });
  const inputs = results.reduce((n, f) => n + f.inputs, 0);
  const crashes = results.reduce((n, f) => n + f.crashes, 0);
  process.stdout.write(
    `total: ${inputs} inputs, ${crashes} crashes, ${((Date.now() - t0) / 1000).toFixed(1)} s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
  );
  if (crashes) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
