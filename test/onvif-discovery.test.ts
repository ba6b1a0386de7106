import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { discover } from '../lib/onvif/discovery';
import { startSimulator, type RunningSimulator } from '../lib/sim';

const AUTH = { user: 'admin', password: 'pw' };

function ports(sim: RunningSimulator): string {
  return sim.devices.map((d) => `127.0.0.1:${d.port}`).join(' ');
}

/** A TCP service that is not ONVIF: binary greeting, like a vendor SDK port. */
function binaryServer(): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => c.end(Buffer.from([0, 0, 0, 16, 0x63, 0, 0, 0])));
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

describe('discovery (lib/onvif/discovery) against the simulator', function () {
  let sim: RunningSimulator;
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: { port: 0 }, rtsp: false });
  });
  after(() => sim.stop());

  it('lists the three seed cameras with their exact resolutions and codecs', async () => {
    const devices = await discover({ targets: ports(sim), user: 'admin', password: 'pw', timeoutMs: 3000 });
    const cams = devices.flatMap((d) => d.cameras.map((c) => ({ name: c.name, p: c.profiles[0] })));
    assert.deepEqual(cams.map((c) => `${c.name} ${c.p.width}x${c.p.height} ${c.p.encoding}`).sort(), [
      'Front Door Camera 1920x1080 H264',
      'Parking Lot Camera 1280x720 H265',
      'Warehouse Camera 800x600 MPEG4',
    ]);
    for (const d of devices) {
      assert.equal(d.error, undefined);
      assert.equal(d.onvif, true);
      assert.equal(d.manufacturer, 'VTrack Simulator');
      assert.equal(d.services?.profileG, true, 'the simulator offers search and replay');
    }
  });

  it('gives every device an auth error with a wrong password, and still returns all of them', async () => {
    const devices = await discover({ targets: ports(sim), user: 'admin', password: 'nope', timeoutMs: 3000 });
    assert.equal(devices.length, 3);
    for (const d of devices) {
      assert.equal(d.errorCode, 'auth');
      assert.match(d.error ?? '', /authentication failed/);
      assert.deepEqual(d.cameras, []);
    }
  });

  it('says a device needs credentials when none are given', async () => {
    const [d] = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, timeoutMs: 3000 });
    assert.equal(d.errorCode, 'auth');
    assert.match(d.error ?? '', /needs a user name and password/);
  });

  it('finds every simulated device with a directed WS-Discovery probe, with its endpoint UUID', async () => {
    const devices = await discover({ wsDiscovery: `127.0.0.1:${sim.discoveryPort}`, user: 'admin', password: 'pw', timeoutMs: 1000 });
    assert.deepEqual(devices.map((d) => d.urn).sort(), sim.devices.map((d) => d.urn).sort());
    assert.ok(devices.every((d) => d.via === 'ws-discovery' && d.cameras.length === 1));
  });

  it('merges a device found both ways into one entry', async () => {
    const devices = await discover({ targets: ports(sim), wsDiscovery: `127.0.0.1:${sim.discoveryPort}`, user: 'admin', password: 'pw', timeoutMs: 1000 });
    assert.equal(devices.length, 3);
    assert.ok(devices.every((d) => d.urn?.startsWith('urn:uuid:')));
  });

  it('reports a port that answers without ONVIF, and an explicit target that refuses, without losing the others', async () => {
    const bin = await binaryServer();
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
    const closedPort = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    try {
      const binPort = (bin.address() as net.AddressInfo).port;
      const devices = await discover({ targets: `${ports(sim)} 127.0.0.1:${binPort} 127.0.0.1:${closedPort}`, user: 'admin', password: 'pw', timeoutMs: 2000 });
      const byPort = new Map(devices.map((d) => [d.port, d]));
      assert.equal(byPort.get(binPort)?.errorCode, 'not-onvif');
      assert.equal(byPort.get(binPort)?.onvif, false);
      assert.equal(byPort.get(closedPort)?.errorCode, 'unreachable');
      assert.equal(devices.filter((d) => d.cameras.length === 1).length, 3);
    } finally {
      bin.close();
    }
  });

  it('leaves silent ports of a range out of the result', async () => {
    const p = sim.devices[0].port;
    const devices = await discover({
      targets: `127.0.0.1:${p},${p + 20000 > 65535 ? p - 1 : p + 20000}-${(p + 20000 > 65535 ? p - 1 : p + 20000) + 3}`,
      user: 'admin',
      password: 'pw',
      timeoutMs: 2000,
    });
    assert.deepEqual(
      devices.map((d) => d.port),
      [p],
    );
  });

  it('rejects a target list it cannot parse, naming the bad entry', async () => {
    await assert.rejects(discover({ targets: '127.0.0.1:99999' }), /bad port|outside 1-65535/);
    await assert.rejects(discover({}), /give targets/);
  });
});

describe('discovery of devices with a skewed clock or many channels', function () {
  it('compensates a device clock an hour ahead (WS-Security uses the device time)', async () => {
    const sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, rtsp: false, clockOffsetSec: 3600 });
    try {
      const [d] = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, user: 'admin', password: 'pw', timeoutMs: 3000 });
      assert.equal(d.error, undefined);
      assert.ok(Math.abs((d.clockOffsetMs ?? 0) - 3_600_000) < 3000, `offset ${d.clockOffsetMs}`);
      assert.equal(d.cameras.length, 1);
    } finally {
      await sim.stop();
    }
  });

  it("lists an NVR's channels as cameras of one device", async () => {
    const sim = await startSimulator({ preset: 'nvr', channels: 6, basePort: 0, auth: AUTH, discovery: false, rtsp: false });
    try {
      const devices = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, user: 'admin', password: 'pw', timeoutMs: 3000 });
      assert.equal(devices.length, 1);
      assert.equal(devices[0].cameras.length, 6);
      assert.equal(new Set(devices[0].cameras.map((c) => c.name)).size, 6, 'channel names are distinct');
      assert.equal(new Set(devices[0].cameras.map((c) => c.token)).size, 6);
    } finally {
      await sim.stop();
    }
  });
});
