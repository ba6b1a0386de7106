// nvr-source node against the simulator: deploy saves source + cameras + folders + camera paths
// in one go and sends the saved source; bad settings give a red status naming the problem and
// save nothing; the password appears nowhere but in Node-RED's credentials.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { helper, nodeModule } from './support/node-red';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { discover } from '../lib/onvif/discovery';
import type { SavedSource } from '../lib/catalog';

type Msg = { topic?: string; payload: unknown; error?: { message: string; source?: { id: string } } };
interface TestNode {
  on(ev: 'input', cb: (msg: Msg) => void): void;
  on(ev: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void;
  receive(msg: Record<string, unknown>): void;
}
interface LogSpy {
  args: unknown[][];
}

const AUTH = { user: 'admin', password: 'pw-Zq81-secret' };
const CAMERAS = ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera'];

function rows(dbFile: string, sql: string): Array<Record<string, unknown>> {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

describe('nvr-source node', function () {
  this.timeout(60_000);
  let sim: RunningSimulator;
  let dir: string;
  let userDir: string;
  let ports: number[];
  const mod = nodeModule('nvr-source');

  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, rtsp: false });
    ports = sim.devices.map((d) => d.port);
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  after(async () => {
    await sim.stop();
    await new Promise<void>((r) => helper.stopServer(() => r()));
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-nvr-source-'));
    userDir = path.join(dir, 'user');
    fs.mkdirSync(userDir);
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const dbFile = () => path.join(userDir, 'vtrack-onvif.db');
  const sourceCount = () => (fs.existsSync(dbFile()) ? rows(dbFile(), 'SELECT * FROM video_sources').length : 0);
  const sourceNode = (extra: Record<string, unknown> = {}) => ({
    id: 'src1',
    type: 'nvr-source',
    name: 'nvr_localhost',
    host: '127.0.0.1',
    ports: ports.join(','),
    selection: 'all',
    cameras: [],
    workdir: '',
    interval: 10,
    dbPath: '',
    timeout: 3000,
    wires: [['out']],
    ...extra,
  });
  const flow = (...nodes: Array<Record<string, unknown>>) =>
    [
      ...nodes,
      { id: 'out', type: 'helper' },
      { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ] as never;

  /** Loads the flow and resolves with the first message of `out`, or the red status of `waitOn`. */
  async function deploy(
    nodes: Array<Record<string, unknown>>,
    creds: Record<string, unknown> = { src1: AUTH },
    waitOn = 'src1',
  ): Promise<{ msg?: Msg; status: { fill?: string; text?: string } }> {
    let status: { fill?: string; text?: string } = {};
    return new Promise((resolve, reject) => {
      let msg: Msg | undefined;
      const timer = setTimeout(() => reject(new Error(`no result; last status ${JSON.stringify(status)}`)), 20_000);
      const finish = () => {
        clearTimeout(timer);
        resolve({ msg, status });
      };
      helper.load(mod as never, flow(...nodes), creds as never).then(() => {
        const n = helper.getNode(waitOn) as unknown as TestNode;
        n.on('call:status', (c) => {
          status = c.args[0];
          if (status.fill === 'red' || status.fill === 'yellow') finish();
          if (status.fill === 'green' && msg) finish();
        });
        (helper.getNode('out') as unknown as TestNode).on('input', (m) => {
          msg = m;
          if (status.fill === 'green') finish();
        });
      }, reject);
    });
  }

  function assertNoSecret(where: string, text: string): void {
    assert.ok(!text.includes(AUTH.password), `password found in ${where}`);
  }

  function logText(): string {
    const spy = helper.log() as unknown as LogSpy;
    return spy.args.map((a) => JSON.stringify(a)).join('\n') + '\n' + spy.args.map((a) => String((a[0] as { msg?: unknown }).msg)).join('\n');
  }

  it('on deploy creates a folder per camera, fills every table and sends the saved source without the password', async () => {
    const { msg, status } = await deploy([sourceNode()]);
    assert.equal(status.fill, 'green');
    assert.equal(status.text, '3 cameras · saved');
    assert.ok(msg);
    assert.equal(msg.topic, 'source');
    const saved = msg.payload as SavedSource;
    assert.equal(saved.name, 'nvr_localhost');
    assert.equal(saved.nodeId, 'src1');
    assert.deepEqual(
      saved.ports,
      [...ports].sort((a, b) => a - b),
    );
    const workdir = path.join(userDir, 'nvr_downloads', 'nvr_localhost');
    assert.equal(saved.workingDirectory, workdir);
    assert.deepEqual(saved.cameras.map((c) => c.displayName).sort(), CAMERAS);
    for (const c of saved.cameras) {
      assert.equal(c.folderPath, path.join(workdir, c.displayName.replace(/ /g, '_')));
      assert.ok(fs.statSync(c.folderPath).isDirectory(), c.folderPath);
    }
    assert.deepEqual(saved.cameras.map((c) => [c.displayName, c.codec, c.width, c.height]).sort(), [
      ['Front Door Camera', 'H264', 1920, 1080],
      ['Parking Lot Camera', 'H265', 1280, 720],
      ['Warehouse Camera', 'MPEG4', 800, 600],
    ]);

    const db = dbFile();
    assert.equal(rows(db, 'SELECT * FROM video_sources').length, 1);
    assert.equal(rows(db, 'SELECT * FROM camera_configurations WHERE enabled = 1').length, 3);
    assert.equal(rows(db, 'SELECT * FROM sync_status').length, 4);
    assert.equal(rows(db, 'SELECT * FROM sync_status WHERE camera_id IS NULL')[0].interval_minutes, 10);
    assert.deepEqual(rows(db, 'SELECT COUNT(*) AS n FROM downloaded_files'), [{ n: 0 }], 'no files before nvr-sync runs');
    const paths = JSON.parse(String(rows(db, `SELECT value FROM processing_config WHERE key = 'camera_paths'`)[0].value)) as Record<string, string>;
    assert.deepEqual(paths, Object.fromEntries(CAMERAS.map((n) => [n, path.join(workdir, n.replace(/ /g, '_'))])));

    // The password lives only in Node-RED's credentials: not in the message, flows, database or log.
    assertNoSecret('the message', JSON.stringify(msg));
    const runtimeFlows = (helper as unknown as { _redNodes: { getFlows(): { flows: unknown } } })._redNodes.getFlows();
    assertNoSecret('the flows', JSON.stringify(runtimeFlows.flows));
    for (const f of fs.readdirSync(userDir).filter((f) => f.startsWith('vtrack-onvif.db'))) {
      assertNoSecret(f, fs.readFileSync(path.join(userDir, f)).toString('latin1'));
    }
    assertNoSecret('the log', logText());
  });

  it('saves only the ticked cameras, and a second deploy with the same settings changes nothing', async () => {
    const chosen = [
      { port: ports[0], token: 'VS_1', name: 'Front Door Camera' },
      { port: ports[2], token: 'VS_1', name: 'Warehouse Camera' },
    ];
    // The simulator's video source tokens: read them from discovery so the test follows the sim.
    const devices = await discover({ targets: ports.map((p) => `127.0.0.1:${p}`), ...AUTH, timeoutMs: 3000 });
    chosen[0].token = devices.find((d) => d.port === ports[0])?.cameras[0].token ?? '';
    chosen[1].token = devices.find((d) => d.port === ports[2])?.cameras[0].token ?? '';
    const workdir = path.join(dir, 'media');
    const node = sourceNode({ selection: 'chosen', cameras: chosen, workdir, interval: 5 });

    const first = await deploy([node]);
    assert.equal(first.status.text, '2 cameras · saved');
    const saved = first.msg?.payload as SavedSource;
    assert.deepEqual(saved.cameras.map((c) => c.displayName).sort(), ['Front Door Camera', 'Warehouse Camera']);
    assert.deepEqual(fs.readdirSync(workdir).sort(), ['Front_Door_Camera', 'Warehouse_Camera']);
    assert.deepEqual(Object.keys(JSON.parse(String(rows(dbFile(), `SELECT value FROM processing_config`)[0].value))).sort(), [
      'Front Door Camera',
      'Warehouse Camera',
    ]);
    assert.equal(saved.sync.intervalMinutes, 5);
    await helper.unload();

    const second = await deploy([node]);
    assert.equal(second.status.text, '2 cameras · unchanged');
    const again = second.msg?.payload as SavedSource;
    assert.equal(again.changed, false);
    assert.equal(again.updatedAt, saved.updatedAt);
    await helper.unload();

    // Untick the warehouse camera: disabled, row and folder kept.
    const third = await deploy([{ ...node, cameras: [chosen[0]] }]);
    assert.equal(third.status.text, '1 camera · saved');
    const after = third.msg?.payload as SavedSource;
    assert.deepEqual(after.cameras.map((c) => [c.displayName, c.enabled]).sort(), [
      ['Front Door Camera', true],
      ['Warehouse Camera', false],
    ]);
    assert.ok(fs.existsSync(path.join(workdir, 'Warehouse_Camera')));
  });

  it('reports a wrong password in red, saves nothing and never logs the password', async () => {
    const wrong = { user: 'admin', password: 'not-the-pw-77' };
    const result = await deploy([sourceNode()], { src1: wrong });
    assert.equal(result.status.fill, 'red');
    assert.match(result.status.text ?? '', /wrong user name or password/);
    assert.equal(result.msg, undefined);
    assert.equal(sourceCount(), 0);
    assert.ok(!fs.existsSync(path.join(userDir, 'nvr_downloads')), 'no folders created');
    assert.match(logText(), /wrong user name or password/);
    assert.ok(!logText().includes(wrong.password));
  });

  it('names the problem when the NVR is unreachable', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const { status } = await deploy([sourceNode({ ports: String(closed) })]);
    assert.equal(status.fill, 'red');
    assert.match(status.text ?? '', new RegExp(`^NVR unreachable at 127\\.0\\.0\\.1:${closed} · retry \\d\\d:\\d\\d$`));
    assert.equal(sourceCount(), 0);
  });

  it('saves by itself once an NVR that was unreachable at deploy starts (retried with backoff)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer();
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const first = await deploy([sourceNode({ ports: String(closed) })]);
    assert.match(first.status.text ?? '', /^NVR unreachable/);
    // The NVR comes up on that port after the failed save; the node's next attempt (5 s later) saves.
    const late = await startSimulator({ preset: 'nvr', channels: 1, basePort: closed, auth: AUTH, discovery: false, rtsp: false });
    try {
      const msg = await new Promise<Msg>((resolve) => (helper.getNode('out') as unknown as TestNode).on('input', resolve));
      assert.equal((msg.payload as SavedSource).name, 'nvr_localhost');
      assert.equal(sourceCount(), 1);
    } finally {
      await helper.unload();
      await late.stop();
    }
  });

  it('refuses an empty selection, bad ports and a working directory that is a file, before saving anything', async () => {
    const empty = await deploy([sourceNode({ selection: 'chosen', cameras: [] })]);
    assert.equal(empty.status.text, 'no cameras selected');
    await helper.unload();

    const bad = await deploy([sourceNode({ ports: '80-abc' })]);
    assert.equal(bad.status.text, 'bad ports');
    assert.match(logText(), /ports: "80-abc" is not a port/);
    await helper.unload();

    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    const notDir = await deploy([sourceNode({ workdir: file })]);
    assert.equal(notDir.status.fill, 'red');
    assert.equal(notDir.status.text, 'folder is a file');
    assert.match(logText(), /working directory .*a-file is a file/);
    assert.equal(sourceCount(), 0);
  });

  it('shows a duplicate source name on both nodes', async () => {
    const statuses = new Map<string, string>();
    await helper.load(mod as never, flow(sourceNode(), sourceNode({ id: 'src2' })), { src1: AUTH, src2: AUTH } as never);
    await new Promise<void>((resolve) => {
      for (const id of ['src1', 'src2']) {
        (helper.getNode(id) as unknown as TestNode).on('call:status', (c) => {
          statuses.set(id, c.args[0].text ?? '');
          if (statuses.size === 2) resolve();
        });
      }
    });
    assert.deepEqual([...statuses.values()], ['duplicate source name "nvr_localhost"', 'duplicate source name "nvr_localhost"']);
  });

  it('takes discovered devices and a camera choice by name from messages', async () => {
    const first = await deploy([sourceNode()]);
    assert.equal(first.status.fill, 'green');
    const src = helper.getNode('src1') as unknown as TestNode;
    const out = helper.getNode('out') as unknown as TestNode;
    const next = () => new Promise<Msg>((resolve) => out.on('input', resolve));

    const byName = next();
    src.receive({ payload: { cameras: ['Parking Lot Camera'] } });
    const named = (await byName).payload as SavedSource;
    assert.deepEqual(
      named.cameras.filter((c) => c.enabled).map((c) => c.displayName),
      ['Parking Lot Camera'],
    );

    // onvif-discover's output without credentials: the node lists cameras again with its own.
    const anonymous = await discover({ targets: ports.map((p) => `127.0.0.1:${p}`), timeoutMs: 3000 });
    assert.ok(anonymous.every((d) => d.cameras.length === 0 && d.errorCode === 'auth'));
    const fromDevices = next();
    src.receive({ payload: anonymous });
    const saved = (await fromDevices).payload as SavedSource;
    assert.deepEqual(
      saved.cameras.filter((c) => c.enabled).map((c) => c.displayName),
      ['Parking Lot Camera'],
      'the choice by name still applies',
    );
  });

  it('rejects a payload it does not understand through done(err)', async () => {
    await deploy([sourceNode()]);
    const caught = new Promise<Msg>((resolve) => (helper.getNode('caught') as unknown as TestNode).on('input', resolve));
    (helper.getNode('src1') as unknown as TestNode).receive({ payload: 42 });
    const m = await caught;
    assert.match(m.error?.message ?? '', /payload must be discovered devices/);
  });

  it('words its badges and errors with its en-US locale file: a missing archive, no host, a check without a host', async () => {
    const caughtError = () =>
      new Promise<string>((resolve) => (helper.getNode('caught') as unknown as TestNode).on('input', (m) => resolve(m.error?.message ?? '')));
    const missing = await deploy([sourceNode({ archive: 'gone' })]);
    assert.deepEqual([missing.status.fill, missing.status.text], ['red', 'archive missing']);
    let caught = caughtError();
    (helper.getNode('src1') as unknown as TestNode).receive({ payload: '' });
    assert.equal(await caught, 'Error: the nvr-archive node gone is not deployed (deleted or disabled?)');
    await helper.unload();

    const waiting = await deploy([sourceNode({ host: '' })]);
    assert.deepEqual([waiting.status.fill, waiting.status.text], ['yellow', 'waiting for devices']);
    const src = helper.getNode('src1') as unknown as TestNode;
    const badges: string[] = [];
    src.on('call:status', (c) => badges.push(String(c.args[0].text)));
    caught = caughtError();
    src.receive({ topic: 'doctor', payload: '' });
    assert.equal(await caught, 'Error: host is empty: the check needs the NVR address');
    assert.deepEqual(badges, ['checking…', 'no host']);
  });

  it("driver auto on a Hikvision recorder: saves the NVR's channels as cameras and the driver", async () => {
    const hik = await startSimulator({ preset: 'hikvision', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 5 });
    try {
      const { msg, status } = await deploy([sourceNode({ ports: String(hik.devices[0].port), driver: 'auto' })]);
      assert.equal(status.fill, 'green', status.text);
      const saved = (msg as Msg).payload as SavedSource;
      assert.equal(saved.driver, 'hikvision');
      assert.deepEqual(
        saved.cameras.map((c) => [c.displayName, c.videoSourceToken, c.codec]),
        [
          ['Front Door', 'ch1', 'H264'],
          ['Parking Lot', 'ch2', 'H265'],
          ['Warehouse', 'ch3', 'H264'],
        ],
      );
    } finally {
      await hik.stop();
    }
  });

  it('driver dahua with a wrong password: one login attempt, a red status that says so, nothing saved', async () => {
    const dh = await startSimulator({ preset: 'dahua', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 5 });
    try {
      const { status } = await deploy([sourceNode({ ports: String(dh.devices[0].port), driver: 'dahua' })], { src1: { user: 'admin', password: 'wrong' } });
      assert.equal(status.fill, 'red');
      assert.match(status.text ?? '', /wrong password/);
      assert.equal((dh as unknown as { vendor: { gate: { stats: { credentialed: number } } } }).vendor.gate.stats.credentialed, 1);
      assert.equal(sourceCount(), 0);
    } finally {
      await dh.stop();
    }
  });

  it('topic "doctor": the capability check of its host and ports, one report per port, password nowhere', async () => {
    await deploy([sourceNode()]);
    const out = helper.getNode('out') as unknown as TestNode;
    const got = new Promise<Msg>((resolve) => out.on('input', resolve));
    (helper.getNode('src1') as unknown as TestNode).receive({ topic: 'doctor', payload: '' });
    const m = await got;
    assert.equal(m.topic, 'doctor');
    const reports = m.payload as Array<{
      port: number;
      auth: string | null;
      cameras: Array<{ name: string; recording: string | null }>;
      problems: Array<{ problem: string }>;
    }>;
    assert.deepEqual(
      reports.map((r) => r.port),
      [...ports].sort((a, b) => a - b),
    );
    assert.deepEqual(reports.map((r) => r.cameras[0]?.name).sort(), CAMERAS);
    assert.ok(reports.every((r) => r.auth === 'ws-security' && r.cameras[0]?.recording));
    // This simulator runs without RTSP: the test replay fails and says so.
    assert.ok(reports.every((r) => r.problems.some((p) => /test replay/.test(p.problem))));
    assertNoSecret('doctor output', JSON.stringify(m));
  });

  it("serves the editor's Check route (POST, credentials in the body or from the deployed node)", async () => {
    await deploy([sourceNode()]);
    const targets = ports.map((p) => `127.0.0.1:${p}`);
    const withBody = await helper
      .request()
      .post('/vtrack-onvif/doctor')
      .send({ targets: targets.slice(0, 1), user: AUTH.user, password: AUTH.password, timeoutMs: 3000 })
      .expect(200);
    assert.equal((withBody.body as Array<{ auth: string }>)[0].auth, 'ws-security');
    const viaNode = await helper
      .request()
      .post('/vtrack-onvif/doctor')
      .send({ targets: targets.slice(0, 1), nodeId: 'src1' })
      .expect(200);
    assert.equal((viaNode.body as Array<{ auth: string }>)[0].auth, 'ws-security', 'uses the stored credentials of node src1');
    const anonymous = await helper
      .request()
      .post('/vtrack-onvif/doctor')
      .send({ targets: targets.slice(0, 1) })
      .expect(200);
    assert.match((anonymous.body as Array<{ problems: Array<{ action: string }> }>)[0].problems[0].action, /give the user name and password of an ONVIF user/);
    const bad = await helper.request().post('/vtrack-onvif/doctor').send({ targets: [] }).expect(400);
    assert.match((bad.body as { error: string }).error, /give --targets/);
    // The same guards as Discover: a cross-site form post cannot start a check, and a stored login
    // goes only to the node's own host and ports.
    const form = await helper.request().post('/vtrack-onvif/doctor').type('form').send(`targets=127.0.0.1:${ports[0]}&nodeId=src1`).expect(415);
    assert.match((form.body as { error: string }).error, /application\/json/);
    const elsewhere = await helper
      .request()
      .post('/vtrack-onvif/doctor')
      .send({ targets: ['127.0.0.2:9'], nodeId: 'src1' })
      .expect(403);
    assert.ok(!JSON.stringify(elsewhere.body).includes(AUTH.password));
  });
});
