// The simulator starts and stops cleanly (ports free again, no handles left), and the
// `vtrack-onvif sim` command prints its endpoints, keeps credentials out of its output and exits 0
// on SIGINT.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startSimulator } from '../lib/sim/index';
import { first, soapCall } from './sim-helpers';

const CLI = join(__dirname, '..', 'lib', 'cli.js');
const TDS = 'xmlns="http://www.onvif.org/ver10/device/wsdl"';

/** Counts of socket handles (TCP servers, UDP sockets, TCP connections) alive in this process. */
function socketHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'UDPWrap' || r === 'TCPSocketWrap').length;
}

/** Closed handles leave the active list on a later loop turn; wait briefly for the count to settle. */
async function assertHandlesBackTo(count: number): Promise<void> {
  const deadline = Date.now() + 1000;
  while (socketHandles() !== count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(socketHandles(), count, `left handles: ${process.getActiveResourcesInfo().join(', ')}`);
}

describe('simulator lifecycle', () => {
  it('stop() closes every socket, so a restart on the same ports works', async () => {
    const before = socketHandles();
    const a = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: { port: 0 } });
    const ports = a.devices.map((d) => d.port);
    const discoveryPort = a.discoveryPort as number;
    // An open keep-alive connection must not hold stop() up.
    const r = await soapCall(a.devices[0].xaddr, `<GetSystemDateAndTime ${TDS}/>`, { headers: { Connection: 'keep-alive' } });
    assert.equal(r.status, 200);
    await a.stop();
    await assertHandlesBackTo(before);

    const b = await startSimulator({
      devices: a.devices.map((d, i) => ({ ...d.spec, port: ports[i] })),
      rtsp: false,
      discovery: { port: discoveryPort },
    });
    try {
      assert.deepEqual(
        b.devices.map((d) => d.port),
        ports,
      );
      assert.equal(b.discoveryPort, discoveryPort);
      const again = await soapCall(b.devices[2].xaddr, `<GetDeviceInformation ${TDS}/>`);
      assert.equal(first(again.doc, 'SerialNumber'), 'SIMCAM0003');
    } finally {
      await b.stop();
    }
  });

  it('fails to start when a port is taken, releasing what it had opened', async () => {
    const a = await startSimulator({ preset: 'nvr', basePort: 0, rtsp: false, discovery: false });
    const before = socketHandles();
    try {
      await assert.rejects(
        startSimulator({
          devices: [
            { ...a.devices[0].spec, port: 0 },
            { ...a.devices[0].spec, port: a.devices[0].port },
          ],
          rtsp: false,
          discovery: false,
        }),
        /EADDRINUSE/,
      );
      await assertHandlesBackTo(before);
    } finally {
      await a.stop();
    }
  });

  it('starts the RTSP server per device by default and hands out its port', async () => {
    const sim = await startSimulator({ preset: 'seed', basePort: 0, discovery: false, historyMinutes: 5 });
    try {
      for (const d of sim.devices) {
        assert.ok(d.rtspPort > 0 && d.rtspPort !== 554, `rtsp port ${d.rtspPort}`);
        await new Promise<void>((resolve, reject) => {
          const s = connect(d.rtspPort, '127.0.0.1', () => {
            s.end();
            resolve();
          });
          s.setTimeout(2000, () => s.destroy(new Error('rtsp connect timeout')));
          s.on('error', reject);
        });
      }
    } finally {
      await sim.stop();
    }
  });
});

function runCli(args: string[]): { exited: Promise<number | null>; stdout: () => string; stderr: () => string; kill: (sig: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [CLI, 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  // A stuck child is killed, but only well after any honest run under load (a 15 s bound here
  // once killed a slow but healthy start, read as "exit code null").
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  void exited.then(() => clearTimeout(timer));
  return { exited, stdout: () => out, stderr: () => err, kill: (sig) => child.kill(sig) };
}

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function tryJson(
  s: string,
):
  | { devices: Array<{ name: string; xaddr: string; rtspPort: number; cameras: Array<{ name: string; codec: string; width: number; height: number }> }> }
  | undefined {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

describe('vtrack-onvif sim', function () {
  this.timeout(60_000);
  it('prints the endpoints as JSON without the password, serves them, exits 0 on SIGINT', async () => {
    const cli = runCli([
      '--preset',
      'seed',
      '--base-port',
      '0',
      '--discovery-port',
      '0',
      '--no-rtsp',
      '--json',
      '--user',
      'admin',
      '--password',
      'Sup3rSecret',
    ]);
    await waitUntil(() => tryJson(cli.stdout()) !== undefined, 10_000, `JSON endpoints (stderr: ${cli.stderr()})`);
    const out = tryJson(cli.stdout());
    assert.ok(out);
    assert.deepEqual(
      out.devices.map((d) => [d.name, d.cameras[0].width, d.cameras[0].height, d.cameras[0].codec]),
      [
        ['Front Door Camera', 1920, 1080, 'H264'],
        ['Parking Lot Camera', 1280, 720, 'H265'],
        ['Warehouse Camera', 800, 600, 'MPEG4'],
      ],
    );
    const r = await soapCall(out.devices[0].xaddr, `<GetDeviceInformation ${TDS}/>`, { digest: { user: 'admin', password: 'Sup3rSecret' } });
    assert.equal(r.status, 200);
    cli.kill('SIGINT');
    assert.equal(await cli.exited, 0);
    assert.ok(!cli.stdout().includes('Sup3rSecret') && !cli.stderr().includes('Sup3rSecret'), 'password printed');
  });

  it('prints a readable listing for the nvr preset', async () => {
    const cli = runCli(['--preset', 'nvr', '--channels', '3', '--base-port', '0', '--discovery-port', 'off', '--no-rtsp']);
    await waitUntil(() => cli.stdout().includes('Ctrl+C'), 10_000, 'listing');
    assert.match(cli.stdout(), /VTrack Sim NVR {2}http:\/\/127\.0\.0\.1:\d+\/onvif\/device_service/);
    assert.equal((cli.stdout().match(/^ {2}- Channel \d/gm) ?? []).length, 3);
    assert.match(cli.stdout(), /WS-Discovery: off/);
    cli.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
  });

  it('refuses a non-loopback --host unless --allow-non-loopback is given', async () => {
    for (const host of ['0.0.0.0', '192.0.2.10']) {
      const cli = runCli(['--host', host, '--base-port', '0', '--discovery-port', 'off', '--no-rtsp']);
      assert.equal(await cli.exited, 2);
      assert.match(cli.stderr(), /non-loopback/);
    }
  });
});
