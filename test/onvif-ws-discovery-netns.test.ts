// Multicast WS-Discovery between two network namespaces this test creates itself, joined by a
// veth pair (10.213.7.0/24 exists only inside them). No datagram reaches a real interface.
// Needs root and iproute2; skipped otherwise.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { DiscoveredDevice } from '../lib/onvif/types';

const CAM = `vtcam${process.pid}`;
const CLI = `vtcli${process.pid}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    ip('netns', 'list');
    return true;
  } catch {
    return false;
  }
}

describe('WS-Discovery multicast inside private network namespaces', function () {
  this.timeout(30_000);
  let device: ChildProcess | undefined;
  let urns: string[] = [];

  before(async function () {
    if (!canUseNetns()) return this.skip();
    ip('netns', 'add', CAM);
    ip('netns', 'add', CLI);
    ip('link', 'add', `va${process.pid}`.slice(0, 15), 'type', 'veth', 'peer', 'name', `vb${process.pid}`.slice(0, 15));
    ip('link', 'set', `va${process.pid}`.slice(0, 15), 'netns', CAM);
    ip('link', 'set', `vb${process.pid}`.slice(0, 15), 'netns', CLI);
    for (const [ns, dev, addr] of [
      [CAM, `va${process.pid}`.slice(0, 15), '10.213.7.1/24'],
      [CLI, `vb${process.pid}`.slice(0, 15), '10.213.7.2/24'],
    ]) {
      ip('-n', ns, 'addr', 'add', addr, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', dev);
    }
    device = spawn('ip', ['netns', 'exec', CAM, process.execPath, path.join(__dirname, 'fixtures', 'wsd-netns-device.js'), '10.213.7.1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    urns = await new Promise<string[]>((resolve, reject) => {
      let buf = '';
      device!.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        const m = /READY (.*)\n/.exec(buf);
        if (m) resolve(JSON.parse(m[1]) as string[]);
      });
      device!.on('exit', (code) => reject(new Error(`device side exited with ${code}`)));
    });
  });

  after(() => {
    device?.kill('SIGTERM');
    for (const ns of [CAM, CLI]) {
      try {
        ip('netns', 'del', ns); // removes the veth pair with it
      } catch {
        // not created
      }
    }
  });

  it('finds every device of the other namespace by multicast Probe, with its cameras', () => {
    const out = execFileSync('ip', ['netns', 'exec', CLI, process.execPath, path.join(__dirname, 'fixtures', 'wsd-netns-client.js')], {
      timeout: 20_000,
    }).toString();
    const devices = JSON.parse(out) as DiscoveredDevice[];
    assert.deepEqual(devices.map((d) => d.urn).sort(), [...urns].sort());
    assert.ok(
      devices.every((d) => d.host === '10.213.7.1' && d.via === 'ws-discovery' && d.cameras.length === 1),
      JSON.stringify(devices.map((d) => [d.host, d.error])),
    );
  });
});
