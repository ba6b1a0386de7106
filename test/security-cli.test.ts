// The CLI's password sources (issue 11): a file or a hidden prompt instead of --password (which
// shows in `ps`), and `discover` failing (exit 1) when nothing answered as ONVIF. Loopback only.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { parseArgs } from '../lib/cli/args';
import { promptHidden, resolvePassword, type PromptInput } from '../lib/cli/password';
import { httpReply, startHostileServer, type HostileServer } from './support/hostile-peers';

const CLI = path.join(__dirname, '..', 'lib', 'cli.js');

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env, ...env };
    if (!('VTRACK_ONVIF_PASSWORD' in env)) delete clean.VTRACK_ONVIF_PASSWORD;
    execFile(process.execPath, [CLI, ...args], { env: clean, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A stand-in for a terminal's stdin: raw mode recorded, keystrokes typed by the spec. */
class FakeTty extends EventEmitter implements PromptInput {
  isTTY = true;
  raw: boolean[] = [];
  setRawMode(m: boolean) {
    this.raw.push(m);
  }
  resume() {}
  pause() {}
  type(s: string) {
    this.emit('data', Buffer.from(s));
  }
}

describe('CLI password sources and exit codes', function () {
  this.timeout(90_000);
  let sim: RunningSimulator;
  let target: string;
  let dir: string;
  let notOnvif: HostileServer;

  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: { user: 'admin', password: 'pw-file-7' }, discovery: false, rtsp: false });
    target = `127.0.0.1:${sim.devices[0].port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-cli-sec-'));
    notOnvif = await startHostileServer((sock) => void sock.end(httpReply(200, '<html>router login</html>', { 'Content-Type': 'text/html' })));
  });
  after(async () => {
    await sim.stop();
    await notOnvif.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('discover --password-file reads the first line of the file, and warns when others can read it', async () => {
    const file = path.join(dir, 'pw');
    fs.writeFileSync(file, 'pw-file-7\nignored second line\n', { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    const ok = await cli(['discover', '--targets', target, '--user', 'admin', '--password-file', file, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const [dev] = JSON.parse(ok.stdout) as Array<{ error: string | null; cameras: unknown[] }>;
    assert.equal(dev.error, null);
    assert.equal(dev.cameras.length, 1);
    assert.doesNotMatch(ok.stderr, /warning/);
    fs.chmodSync(file, 0o644);
    const loose = await cli(['discover', '--targets', target, '--user', 'admin', '--password-file', file, '--json']);
    assert.match(loose.stderr, /readable by other users \(chmod 600/);
  });

  it('--password still works but warns that it shows in ps; both at once is a usage error', async () => {
    const r = await cli(['discover', '--targets', target, '--user', 'admin', '--password', 'pw-file-7', '--json']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /--password is visible to other users in "ps"; prefer --password-file/);
    const both = await cli(['discover', '--targets', target, '--user', 'admin', '--password', 'x', '--password-file', '/nonexistent']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
    const missing = await cli(['discover', '--targets', target, '--user', 'admin', '--password-file', path.join(dir, 'none')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /ENOENT/);
  });

  it('discover exits 1 when no target answered as ONVIF (closed port, a web page), 0 when one did', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const none = await cli(['discover', '--targets', `127.0.0.1:${closed},127.0.0.1:${notOnvif.port}`, '--timeout', '2000']);
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /no target answered as an ONVIF device/);
    const one = await cli(['discover', '--targets', `127.0.0.1:${closed},${target}`, '--timeout', '2000']);
    assert.equal(one.code, 0, 'a device that needs a password still answered as ONVIF');
  });

  it('prompts on a terminal without echo: the typed password never reaches the output', async () => {
    const tty = new FakeTty();
    const out: string[] = [];
    const p = resolvePassword(parseArgs([], { booleans: [], strings: [] }), 'admin', { env: {}, input: tty, output: { write: (s: string) => out.push(s) } });
    tty.type('se');
    tty.type('cx\u007fret');
    tty.type('\r');
    assert.equal(await p, 'secret');
    assert.deepEqual(out, ['Password for admin: ', '\n']);
    assert.deepEqual(tty.raw, [true, false], 'raw mode on while typing, off after');
  });

  it('a Ctrl-C at the prompt cancels; without a terminal or a user there is no prompt', async () => {
    const tty = new FakeTty();
    const p = promptHidden('pw: ', tty, { write: () => true });
    tty.type('ab\u0003');
    await assert.rejects(p, /cancelled/);
    assert.equal(
      await resolvePassword(parseArgs([], { booleans: [], strings: [] }), 'admin', { env: {}, input: Object.assign(new FakeTty(), { isTTY: false }) }),
      undefined,
    );
    assert.equal(await resolvePassword(parseArgs([], { booleans: [], strings: [] }), undefined, { env: {}, input: new FakeTty() }), undefined);
    assert.equal(
      await resolvePassword(parseArgs([], { booleans: [], strings: [] }), 'admin', { env: { VTRACK_ONVIF_PASSWORD: 'from-env' }, input: new FakeTty() }),
      'from-env',
      'the environment comes before a prompt',
    );
  });
});
