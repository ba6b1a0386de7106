// The vtrack-onvif CLI as a user runs it: a child process against the simulator on loopback.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { openCatalog } from '../lib/catalog';
import { parseArgs, UsageError } from '../lib/cli/args';

const CLI = path.join(__dirname, '..', 'lib', 'cli.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('vtrack-onvif CLI', function () {
  this.timeout(120_000);
  let sim: RunningSimulator;
  let targets: string;
  let dir: string;

  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: { user: 'admin', password: 'pw' }, discovery: false, historyMinutes: 5 });
    const ports = sim.devices.map((d) => d.port);
    targets = ports.map((p) => `127.0.0.1:${p}`).join(',');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-cli-'));
  });
  after(async () => {
    await sim.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('discover --json lists the seed cameras with exact resolutions and codecs', async () => {
    const r = await cli(['discover', '--targets', targets, '--user', 'admin', '--password', 'pw', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const devices = JSON.parse(r.stdout) as Array<{
      urn: string | null;
      host: string;
      port: number;
      xaddr: string;
      manufacturer: string;
      model: string;
      error: string | null;
      cameras: Array<{ name: string; token: string; profiles: Array<{ encoding: string; width: number; height: number; fps: number }> }>;
    }>;
    const cams = devices.flatMap((d) => d.cameras.map((c) => `${c.name} ${c.profiles[0].width}x${c.profiles[0].height} ${c.profiles[0].encoding}`)).sort();
    assert.deepEqual(cams, ['Front Door Camera 1920x1080 H264', 'Parking Lot Camera 1280x720 H265', 'Warehouse Camera 800x600 MPEG4']);
    for (const d of devices) for (const k of ['urn', 'host', 'port', 'xaddr', 'manufacturer', 'model', 'error', 'cameras']) assert.ok(k in d, k);
  });

  it('discover with a wrong password gives each device an auth error and exits 0', async () => {
    const r = await cli(['discover', '--targets', targets, '--user', 'admin', '--password', 'wrong', '--json']);
    assert.equal(r.code, 0);
    const devices = JSON.parse(r.stdout) as Array<{ errorCode: string; error: string }>;
    assert.equal(devices.length, 3);
    assert.ok(devices.every((d) => d.errorCode === 'auth' && /authentication failed/.test(d.error)));
  });

  it('discover with a bad target list exits 2 and names the problem', async () => {
    const r = await cli(['discover', '--targets', '127.0.0.1:0-5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /127\.0\.0\.1:0-5/);
  });

  it('sync --once writes one JSON line per file; run twice, the second fetches nothing; rows match files', async () => {
    const args = [
      'sync',
      '--targets',
      targets,
      '--user',
      'admin',
      '--dir',
      path.join(dir, 'dl'),
      '--db',
      path.join(dir, 'db.sqlite'),
      '--once',
      '--json',
      '--segment-min',
      '2',
    ];
    // The password from the environment keeps it out of the process list.
    const first = await cli(args, { VTRACK_ONVIF_PASSWORD: 'pw' });
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; camera: string; bytes: number });
    assert.deepEqual([...new Set(lines.map((l) => l.camera))].sort(), ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera']);
    for (const l of lines) assert.equal(fs.statSync(l.path).size, l.bytes);
    assert.ok(!first.stdout.includes('pw') && !first.stderr.includes('"pw"'));

    const second = await cli(args, { VTRACK_ONVIF_PASSWORD: 'pw' });
    assert.equal(second.code, 0, second.stderr);
    // A 2-minute slot may have closed between the runs; anything fetched must be new.
    const again = second.stdout.trim()
      ? second.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { path: string })
      : [];
    for (const a of again) assert.ok(!lines.some((l) => l.path === a.path), `fetched twice: ${a.path}`);

    const catalog = openCatalog(path.join(dir, 'db.sqlite'));
    try {
      const rows = catalog
        .listSources()
        .flatMap((s) => catalog.listCameras(s.id))
        .flatMap((c) => catalog.listDownloads(c.id));
      assert.deepEqual(rows.map((r) => r.path).sort(), [...lines, ...again].map((l) => l.path).sort());
    } finally {
      catalog.close();
    }
  });

  it('sync of an HTTPS-only, Basic-only NVR: refused until --accept-self-signed and --allow-basic-auth, then it syncs', async () => {
    // A throw-away self-signed certificate for 127.0.0.1 (test/fixtures/tls).
    const tls = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');
    const nvr = await startSimulator({
      preset: 'nvr',
      channels: 1,
      quality: 'low',
      basePort: 0,
      auth: { user: 'admin', password: 'pw' },
      discovery: false,
      historyMinutes: 5,
      quirks: ['basic-auth'],
      tls: { key: fs.readFileSync(path.join(tls, 'selfsigned.key')), cert: fs.readFileSync(path.join(tls, 'selfsigned.crt')) },
    });
    try {
      const args = [
        'sync',
        '--targets',
        `127.0.0.1:${nvr.devices[0].port}`,
        '--user',
        'admin',
        '--dir',
        path.join(dir, 'tls-dl'),
        '--db',
        path.join(dir, 'tls.sqlite'),
      ];
      const env = { VTRACK_ONVIF_PASSWORD: 'pw' };
      const base = [...args, '--once', '--json', '--segment-min', '2', '--since-hours', '0.05', '--driver', 'onvif'];
      const noCert = await cli(base, env);
      assert.equal(noCert.code, 1);
      assert.match(noCert.stderr, /TLS certificate is not trusted.*accept self-signed certificate/);
      const noBasic = await cli([...base, '--accept-self-signed'], env);
      assert.equal(noBasic.code, 1);
      assert.match(noBasic.stderr, /only HTTP Basic authentication.*clear text/);
      const ok = await cli([...base, '--accept-self-signed', '--allow-basic-auth'], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(ok.stdout.trim().split('\n').length >= 1 && ok.stdout.includes('"path"'), ok.stdout);
    } finally {
      await nvr.stop();
    }
  });

  it('sync without required options exits 2 with usage', async () => {
    const r = await cli(['sync', '--targets', targets]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--targets, --dir and --db are required/);
  });
});

describe('CLI flags (node:util parseArgs, strict)', () => {
  const spec = { booleans: ['json'], strings: ['targets', 'clock-offset', 'fault'], optionalValue: ['ws-discovery'] };

  it('refuses an unknown or misspelt flag instead of ignoring it, naming the closest one', () => {
    assert.throws(
      () => parseArgs(['--taregts', '127.0.0.1:80'], spec),
      (e: unknown) => e instanceof UsageError && /unknown option --taregts \(did you mean --targets\?\)/.test(e.message),
    );
    assert.throws(() => parseArgs(['--json=yes'], spec), UsageError);
    assert.throws(() => parseArgs(['--targets'], spec), UsageError, 'a value is required');
  });

  it('reads values after a space or "=", negative numbers, repeats and optional values', () => {
    const a = parseArgs(['--targets', 'h:1', '--clock-offset', '-5', '--fault=x', '--fault', 'y', '--json', 'pos', '--ws-discovery'], spec);
    assert.equal(a.flags.get('targets'), 'h:1');
    assert.equal(a.flags.get('clock-offset'), '-5');
    assert.deepEqual(a.repeated.get('fault'), ['x', 'y']);
    assert.equal(a.flags.get('json'), true);
    assert.equal(a.flags.get('ws-discovery'), true);
    assert.deepEqual(a.positionals, ['pos']);
    assert.equal(parseArgs(['--ws-discovery=eth0'], spec).flags.get('ws-discovery'), 'eth0');
  });
});

describe('CLI flags declared = flags documented', () => {
  const root = path.join(__dirname, '..', '..');
  for (const cmd of ['discover', 'doctor', 'replay', 'sim', 'sync', 'verify']) {
    it(`${cmd}: every --flag its help text names is accepted, and every accepted one is documented`, () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- each command module, by name
      const { FLAGS } = require(`../lib/cli/${cmd}`) as { FLAGS: { booleans: string[]; strings: string[]; optionalValue?: string[] } };
      const declared = new Set([...FLAGS.booleans, ...FLAGS.strings, ...(FLAGS.optionalValue ?? [])]);
      const source = fs.readFileSync(path.join(root, 'lib', 'cli', `${cmd}.ts`), 'utf8');
      // PASSWORD_HELP (--password-file, --password) is shared by the commands that take a login.
      const helpText = source + (source.includes('PASSWORD_HELP') ? fs.readFileSync(path.join(root, 'lib', 'cli', 'password.ts'), 'utf8') : '');
      const documented = new Set([...helpText.matchAll(/--([a-z][a-z0-9-]+)/g)].map((m) => m[1]));
      const undeclared = [...documented].filter((f) => !declared.has(f));
      assert.deepEqual(undeclared, [], `${cmd}: documented but refused`);
      const undocumented = [...declared].filter((f) => !documented.has(f) && f !== 'help' && f !== 'timeout');
      assert.deepEqual(undocumented, [], `${cmd}: accepted but not in its help`);
    });
  }
});
