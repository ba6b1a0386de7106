// The editor's Discover route (POST /vtrack-onvif/discover) for a source whose driver is a vendor
// API: it lists a Hikvision or Dahua recorder's channels by the names the NVR gives them, as the
// sync will save them, and a rejected login costs exactly one attempt (both vendors lock the
// account after a few). Against the bundled vendor simulators on loopback, in Node-RED.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { helper, nodeModule } from './support/node-red';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import type { DiscoveredDevice } from '../lib/onvif/types';

const AUTH = { user: 'admin', password: 'pw-Vn42-secret' };
const CHANNELS = ['Front Door', 'Parking Lot', 'Warehouse'];

/** The vendor simulator's count of requests that carried a login (lib/sim/vendor-http.ts). */
function logins(sim: RunningSimulator): number {
  return (sim as unknown as { vendor: { gate: { stats: { credentialed: number } } } }).vendor.gate.stats.credentialed;
}

describe('Discover route with a vendor driver (Hikvision, Dahua simulators)', function () {
  this.timeout(60_000);
  const sims: Partial<Record<'hikvision' | 'dahua', RunningSimulator>> = {};
  let dir: string;

  before(async () => {
    for (const preset of ['hikvision', 'dahua'] as const)
      sims[preset] = await startSimulator({ preset, basePort: 0, auth: AUTH, discovery: false, historyMinutes: 5 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-discover-vendors-'));
    helper.settings({ userDir: dir });
    await new Promise<void>((r) => helper.startServer(() => r()));
    const port = sims.hikvision?.devices[0].port;
    // An onvif-discover node whose stored login may be used against its own target only.
    await helper.load(
      nodeModule('onvif-discover') as never,
      [{ id: 'disc1', type: 'onvif-discover', targets: `127.0.0.1:${port}`, wsdMode: 'off', wires: [[]] }] as never,
      {
        disc1: AUTH,
      } as never,
    );
  });
  after(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    for (const s of Object.values(sims)) await s?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const portOf = (v: 'hikvision' | 'dahua') => sims[v]?.devices[0].port as number;
  async function discover(body: Record<string, unknown>, expect = 200): Promise<DiscoveredDevice[]> {
    const res = await helper.request().post('/vtrack-onvif/discover').set('Content-Type', 'application/json').send(body).expect(expect);
    return res.body as DiscoveredDevice[];
  }

  for (const vendor of ['hikvision', 'dahua'] as const) {
    for (const driver of [vendor, 'auto'] as const) {
      it(`driver ${driver} on a ${vendor} recorder: its channels, named by the NVR, one row per channel`, async () => {
        const devices = await discover({ targets: [`127.0.0.1:${portOf(vendor)}`], driver, ...AUTH, timeoutMs: 3000 });
        assert.equal(devices.length, 1, JSON.stringify(devices));
        const [d] = devices;
        assert.equal(d.error, undefined);
        assert.equal(d.port, portOf(vendor));
        assert.deepEqual(
          d.cameras.map((c) => [c.name, c.token]),
          CHANNELS.map((n, i) => [n, `ch${i + 1}`]),
        );
        assert.ok(!JSON.stringify(devices).includes(AUTH.password), 'the password is not sent back');
      });

      it(`driver ${driver} on a ${vendor} recorder with a wrong password: one login attempt, the device says so`, async () => {
        const sim = sims[vendor] as RunningSimulator;
        const before = logins(sim);
        const devices = await discover({ targets: [`127.0.0.1:${portOf(vendor)}`], driver, user: AUTH.user, password: 'wrong', timeoutMs: 3000 });
        assert.equal(logins(sim) - before, 1, 'exactly one request carried the login');
        assert.equal(devices.length, 1);
        assert.equal(devices[0].errorCode, 'auth');
        assert.match(devices[0].error ?? '', /wrong password/);
        assert.deepEqual(devices[0].cameras, []);
      });
    }
  }

  it('driver onvif (the default) lists no vendor channels: the port is named as a vendor API to sync with that driver', async () => {
    const devices = await discover({ targets: [`127.0.0.1:${portOf('hikvision')}`], ...AUTH, timeoutMs: 3000 });
    assert.equal(devices[0].vendorApi, 'hikvision');
    assert.deepEqual(devices[0].cameras, []);
  });

  it("a node's stored login with a vendor driver: only against that node's own host and port", async () => {
    const own = await discover({ nodeId: 'disc1', driver: 'hikvision', timeoutMs: 3000 });
    assert.deepEqual(
      own[0].cameras.map((c) => c.name),
      CHANNELS,
    );
    const before = logins(sims.dahua as RunningSimulator);
    await discover({ nodeId: 'disc1', driver: 'dahua', targets: [`127.0.0.1:${portOf('dahua')}`] }, 403);
    assert.equal(logins(sims.dahua as RunningSimulator), before, 'the other recorder received no login');
  });

  it('a vendor driver lists one recorder: several hosts, WS-Discovery or an unknown driver are refused before any traffic', async () => {
    const port = portOf('hikvision');
    const before = logins(sims.hikvision as RunningSimulator);
    await discover({ targets: [`127.0.0.1:${port}`, `127.0.0.2:${port}`], driver: 'hikvision', ...AUTH }, 400);
    await discover({ targets: [`127.0.0.1:${port}`], wsDiscovery: '127.0.0.1:3702', driver: 'auto', ...AUTH }, 400);
    await discover({ targets: [`127.0.0.1:${port}`], driver: 'axis', ...AUTH }, 400);
    assert.equal(logins(sims.hikvision as RunningSimulator), before);
  });
});
