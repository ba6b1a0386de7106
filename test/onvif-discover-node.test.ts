import { strict as assert } from 'node:assert';
import { helper, nodeModule } from './support/node-red';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import type { DiscoveredDevice } from '../lib/onvif/types';

type Msg = { payload: unknown; topic?: string };
interface TestNode {
  on(ev: 'input', cb: (msg: Msg) => void): void;
  on(ev: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void;
  on(ev: 'call:error', cb: (call: { args: unknown[] }) => void): void;
  receive(msg: Record<string, unknown>): void;
  status: unknown;
}

describe('onvif-discover node', function () {
  let sim: RunningSimulator;
  let targets: string;
  const mod = nodeModule('onvif-discover');

  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: { user: 'admin', password: 'pw' }, discovery: false, rtsp: false });
    targets = sim.devices.map((d) => `127.0.0.1:${d.port}`).join(',');
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  after(async () => {
    await sim.stop();
    await new Promise<void>((r) => helper.stopServer(() => r()));
  });
  afterEach(() => helper.unload());

  const flow = (extra: Record<string, unknown> = {}) => [
    {
      id: 'd1',
      type: 'onvif-discover',
      name: 'find',
      targets: '',
      wsdMode: 'off',
      wsdTarget: '',
      timeout: 3000,
      output: 'array',
      onDeploy: false,
      wires: [['out']],
      ...extra,
    },
    { id: 'out', type: 'helper' },
  ];
  const creds = { d1: { user: 'admin', password: 'pw' } };

  it('sends one message with every device and camera, and a green count status', async () => {
    await helper.load(mod as never, flow({ targets }), creds);
    const d1 = helper.getNode('d1') as unknown as TestNode;
    const out = helper.getNode('out') as unknown as TestNode;
    const statuses: Array<{ fill?: string; text?: string }> = [];
    d1.on('call:status', (c) => statuses.push(c.args[0]));
    const msg = await new Promise<Msg>((resolve) => {
      out.on('input', resolve);
      d1.receive({ payload: 'go' });
    });
    const devices = msg.payload as DiscoveredDevice[];
    assert.equal(msg.topic, 'devices');
    assert.equal(devices.length, 3);
    assert.deepEqual(devices.map((d) => d.cameras[0].profiles[0].width).sort(), [1280, 1920, 800].sort());
    assert.equal(statuses[0].text, 'searching…');
    assert.equal(statuses.at(-1)?.fill, 'green');
    assert.equal(statuses.at(-1)?.text, '3 devices, 3 cameras');
    assert.ok(!JSON.stringify(msg).includes('"pw"'), 'no password in the message');
  });

  it('sends one message per device when set to, topic = device name', async () => {
    await helper.load(mod as never, flow({ targets, output: 'each' }), creds);
    const out = helper.getNode('out') as unknown as TestNode;
    const got: Msg[] = [];
    await new Promise<void>((resolve) => {
      out.on('input', (m) => {
        got.push(m);
        if (got.length === 3) resolve();
      });
      (helper.getNode('d1') as unknown as TestNode).receive({ payload: 1 });
    });
    assert.deepEqual(got.map((m) => m.topic).sort(), ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera']);
    assert.ok(got.every((m) => !Array.isArray(m.payload)));
  });

  it('takes targets from the message, overriding the settings', async () => {
    await helper.load(mod as never, flow({ targets: '127.0.0.1:1' }), creds);
    const out = helper.getNode('out') as unknown as TestNode;
    const msg = await new Promise<Msg>((resolve) => {
      out.on('input', resolve);
      (helper.getNode('d1') as unknown as TestNode).receive({ payload: { targets: `127.0.0.1:${sim.devices[1].port}` } });
    });
    const devices = msg.payload as DiscoveredDevice[];
    assert.deepEqual(
      devices.map((d) => d.name),
      ['Parking Lot Camera'],
    );
  });

  it('shows a yellow status when devices answer with errors (wrong password)', async () => {
    await helper.load(mod as never, flow({ targets }), { d1: { user: 'admin', password: 'bad' } });
    const d1 = helper.getNode('d1') as unknown as TestNode;
    const statuses: Array<{ fill?: string; text?: string }> = [];
    d1.on('call:status', (c) => statuses.push(c.args[0]));
    const out = helper.getNode('out') as unknown as TestNode;
    const msg = await new Promise<Msg>((resolve) => {
      out.on('input', resolve);
      d1.receive({ payload: 1 });
    });
    assert.ok((msg.payload as DiscoveredDevice[]).every((d) => d.errorCode === 'auth'));
    assert.equal(statuses.at(-1)?.fill, 'yellow');
    assert.match(statuses.at(-1)?.text ?? '', /3 with errors/);
  });

  it('fails through done(err) with a red status on a bad target list, so Catch nodes see it', async () => {
    await helper.load(
      mod as never,
      [
        ...flow({ targets: '127.0.0.1:99999' }),
        { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ] as never,
      creds,
    );
    const d1 = helper.getNode('d1') as unknown as TestNode;
    const statuses: Array<{ fill?: string; text?: string }> = [];
    d1.on('call:status', (c) => statuses.push(c.args[0]));
    const caught = helper.getNode('caught') as unknown as TestNode;
    const msg = await new Promise<Msg & { error?: { message: string } }>((resolve) => {
      caught.on('input', resolve as (m: Msg) => void);
      d1.receive({ payload: 1 });
    });
    assert.match(msg.error?.message ?? '', /99999/);
    assert.equal(statuses.at(-1)?.fill, 'red');
  });

  it('refuses an invalid timeout with a red status and done(err), instead of reading it as 5 s', async () => {
    await helper.load(
      mod as never,
      [
        ...flow({ targets, timeout: 'soon' }),
        { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ] as never,
      creds,
    );
    const d1 = helper.getNode('d1') as unknown as TestNode;
    const statuses: Array<{ fill?: string; text?: string }> = [];
    d1.on('call:status', (c) => statuses.push(c.args[0]));
    const caught = helper.getNode('caught') as unknown as TestNode;
    const msg = await new Promise<Msg & { error?: { message: string } }>((resolve) => {
      caught.on('input', resolve as (m: Msg) => void);
      d1.receive({ payload: 1 });
    });
    assert.match(msg.error?.message ?? '', /timeout: "soon" is not a number/);
    assert.equal(statuses.at(-1)?.fill, 'red');
  });

  it('searches once on deploy when asked to', async () => {
    const out = await (async () => {
      const p = new Promise<Msg>((resolve) => {
        void helper.load(mod as never, flow({ targets, onDeploy: true }), creds).then(() => {
          (helper.getNode('out') as unknown as TestNode).on('input', resolve);
        });
      });
      return p;
    })();
    assert.equal((out.payload as DiscoveredDevice[]).length, 3);
  });

  it("serves the editor's discovery route (POST, credentials in the body or from a deployed node)", async () => {
    await helper.load(mod as never, flow({ targets }), creds);
    const withBody = await helper.request().post('/vtrack-onvif/discover').send({ targets, user: 'admin', password: 'pw', timeoutMs: 3000 }).expect(200);
    assert.equal((withBody.body as DiscoveredDevice[]).filter((d) => d.cameras.length === 1).length, 3);
    const viaNode = await helper.request().post('/vtrack-onvif/discover').send({ targets, nodeId: 'd1' }).expect(200);
    assert.equal((viaNode.body as DiscoveredDevice[]).filter((d) => !d.error).length, 3, 'uses the stored credentials of node d1');
    const bad = await helper.request().post('/vtrack-onvif/discover').send({ targets: 'x:0' }).expect(400);
    assert.match((bad.body as { error: string }).error, /bad port|outside/);
  });
});
