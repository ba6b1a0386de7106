import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { helper, nodeModule } from './support/node-red';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { discover } from '../lib/onvif/discovery';
import { openCatalog } from '../lib/catalog';
import { saveSourceFromDevices } from '../lib/sources/save-from-devices';

type Msg = { topic?: string; payload: Record<string, unknown>; error?: { message: string } };
interface TestNode {
  on(ev: 'input', cb: (msg: Msg) => void): void;
  on(ev: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void;
  receive(msg: Record<string, unknown>): void;
}

const AUTH = { user: 'admin', password: 'pw-secret-1' };

describe('nvr-sync node', function () {
  this.timeout(120_000);
  let sim: RunningSimulator;
  let dir: string;
  let dbPath: string;
  const mods = [nodeModule('nvr-sync'), nodeModule('onvif-discover')];

  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 6 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-nvr-sync-'));
    dbPath = path.join(dir, 'vtrack-onvif.db');
    const catalog = openCatalog(dbPath);
    const devices = await discover({ targets: sim.devices.map((d) => `127.0.0.1:${d.port}`), ...AUTH, timeoutMs: 3000 });
    // The credentials stay with a Node-RED node ("holder" below); the catalog only knows its id.
    await saveSourceFromDevices(catalog, { name: 'seed', host: '127.0.0.1', ports: devices.map((d) => d.port), devices, selection: 'all', workingDirectory: path.join(dir, 'dl'), nodeId: 'holder' });
    catalog.close();
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  after(async () => {
    await helper.unload();
    await sim.stop();
    await new Promise<void>((r) => helper.stopServer(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const flow = (extra: Record<string, unknown> = {}) =>
    [
      { id: 's1', type: 'nvr-sync', name: '', dbPath, segmentMinutes: 2, concurrency: 2, sinceHours: 0.05, maxAgeDays: '', maxGB: '', fastReplay: true, wires: [['files'], ['events']], ...extra },
      { id: 'holder', type: 'onvif-discover', targets: '', wsdMode: 'off', timeout: 1000, output: 'array', onDeploy: false, wires: [[]] },
      { id: 'files', type: 'helper' },
      { id: 'events', type: 'helper' },
      { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ] as never;
  const creds = { holder: AUTH };

  /** Load the flow and collect messages until the first pass finishes. */
  async function deployAndWaitForPass(): Promise<{ files: Msg[]; events: Msg[]; statuses: string[]; startedAfterMs: number }> {
    const files: Msg[] = [];
    const events: Msg[] = [];
    const statuses: string[] = [];
    const t0 = Date.now();
    let startedAfterMs = -1;
    await helper.load(mods as never, flow(), creds);
    (helper.getNode('s1') as unknown as TestNode).on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    (helper.getNode('files') as unknown as TestNode).on('input', (m) => files.push(m));
    await new Promise<void>((resolve) => {
      (helper.getNode('events') as unknown as TestNode).on('input', (m) => {
        events.push(m);
        if (m.topic === 'started' && startedAfterMs < 0) startedAfterMs = Date.now() - t0;
        if (m.topic === 'finished') resolve();
      });
    });
    return { files, events, statuses, startedAfterMs };
  }

  let firstDeployAt = 0;
  it('starts syncing the sources in SQLite within 0.5 s of deploy and sends one message per new file', async () => {
    firstDeployAt = Date.now();
    const r = await deployAndWaitForPass();
    assert.ok(r.startedAfterMs >= 0 && r.startedAfterMs < 500, `started after ${r.startedAfterMs} ms`);
    assert.ok(r.files.length >= 3, `${r.files.length} files`);
    assert.deepEqual([...new Set(r.files.map((m) => m.topic))].sort(), ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera']);
    for (const m of r.files) {
      const p = m.payload;
      for (const k of ['path', 'camera', 'source', 'start', 'end', 'durationSec', 'bytes', 'codec', 'width', 'height', 'frames', 'speedX']) assert.ok(k in p, `payload.${k}`);
      assert.equal(p.camera, m.topic);
      assert.equal(p.source, 'seed');
      assert.equal(fs.statSync(p.path as string).size, p.bytes, 'the file is complete when the message leaves');
    }
    assert.ok(r.events.some((m) => m.topic === 'progress'));
    assert.ok(r.statuses.some((s) => /\d+\/\d+ · \d+%/.test(s)), `progress status among ${r.statuses.join(' | ')}`);
    await new Promise((res) => setTimeout(res, 50));
    assert.match(r.statuses.at(-1) ?? '', /^idle · next \d\d:\d\d$/);
    const all = JSON.stringify([r.files, r.events]);
    assert.ok(!all.includes(AUTH.password), 'no password in any message');
  });

  it('syncs on demand (topic "sync") and fetches nothing it holds already', async () => {
    // Real time runs on: a 2-minute slot may close between the passes, and its file is new. What
    // must never come again is a file of a slot the first pass had closed.
    const heldUntil = Math.floor((firstDeployAt - 15_000) / 120_000) * 120_000;
    const files: Msg[] = [];
    (helper.getNode('files') as unknown as TestNode).on('input', (m) => files.push(m));
    const finished = new Promise<Msg>((resolve) => (helper.getNode('events') as unknown as TestNode).on('input', (m) => m.topic === 'finished' && resolve(m)));
    (helper.getNode('s1') as unknown as TestNode).receive({ topic: 'sync' });
    const f = await finished;
    assert.equal(f.payload.reason, 'manual');
    assert.equal(f.payload.files, files.length);
    for (const m of files) assert.ok(Date.parse(m.payload.start as string) >= heldUntil - 2000, `${m.topic} ${m.payload.start} fetched again`);
  });

  it('backfills an older range for one camera (topic "backfill")', async () => {
    const start = new Date(sim.devices[0].spec.cameras[0].recording.start);
    const files: Msg[] = [];
    (helper.getNode('files') as unknown as TestNode).on('input', (m) => files.push(m));
    const finished = new Promise<Msg>((resolve) => (helper.getNode('events') as unknown as TestNode).on('input', (m) => m.topic === 'finished' && resolve(m)));
    (helper.getNode('s1') as unknown as TestNode).receive({ topic: 'backfill', payload: { from: start.toISOString(), to: new Date(start.getTime() + 120_000).toISOString(), cameras: ['Front Door Camera'] } });
    const f = await finished;
    assert.equal(f.payload.reason, 'backfill');
    assert.deepEqual(files.map((m) => m.topic), ['Front Door Camera']);
    assert.equal(files[0].payload.start, start.toISOString());
  });

  it('rejects a backfill without valid dates through done(err), which Catch nodes see', async () => {
    const caught = new Promise<Msg>((resolve) => (helper.getNode('caught') as unknown as TestNode).on('input', resolve));
    (helper.getNode('s1') as unknown as TestNode).receive({ topic: 'backfill', payload: { from: 'yesterday-ish', to: 'now' } });
    const m = await caught;
    assert.match(m.error?.message ?? '', /"from" must be a date/);
  });

  it('pauses and resumes', async () => {
    const node = helper.getNode('s1') as unknown as TestNode;
    const statuses: string[] = [];
    node.on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    node.receive({ topic: 'pause' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(statuses.at(-1), 'paused');
    node.receive({ topic: 'resume' });
    await new Promise((r) => setTimeout(r, 50));
    assert.notEqual(statuses.at(-1), 'paused');
  });

  it('resumes after a restart from SQLite alone, without fetching a held segment again', async () => {
    await helper.unload();
    const r = await deployAndWaitForPass();
    assert.ok(r.startedAfterMs < 500);
    const held = new Set<string>();
    const catalog = openCatalog(dbPath);
    try {
      const rows = catalog.listSources().flatMap((s) => catalog.listCameras(s.id)).flatMap((c) => catalog.listDownloads(c.id));
      for (const row of rows) {
        assert.ok(!held.has(`${row.cameraId}@${row.startTime}`), 'one row per camera and start');
        held.add(`${row.cameraId}@${row.startTime}`);
      }
      // Whatever this pass fetched is new (a slot that closed meanwhile), never a repeat.
      for (const m of r.files) assert.equal(rows.filter((row) => row.path === m.payload.path).length, 1);
    } finally {
      catalog.close();
    }
  });

  it('lets only one nvr-sync use a database; a second stays idle and says why', async () => {
    await helper.unload();
    const extra = [
      { id: 's2', type: 'nvr-sync', dbPath, segmentMinutes: 2, concurrency: 2, sinceHours: 0.05, fastReplay: true, wires: [[], []] },
    ];
    await helper.load(mods as never, [...(flow() as unknown as object[]), ...extra] as never, creds);
    const warned = (helper.log().args as unknown[][]).map((a) => JSON.stringify(a[0])).filter((l) => l.includes('"id":"s2"'));
    assert.ok(warned.some((l) => /another nvr-sync \(s1\) already syncs vtrack-onvif\.db/.test(l)), warned.join('\n'));
    const caught = new Promise<Msg>((resolve) => (helper.getNode('caught') as unknown as TestNode).on('input', resolve));
    (helper.getNode('s2') as unknown as TestNode).receive({ topic: 'sync' });
    assert.match((await caught).error?.message ?? '', /another nvr-sync \(s1\)/);
  });

  it('closes within 15 s while a download runs, leaving no .part file', async () => {
    await helper.unload();
    await helper.load(mods as never, flow(), creds);
    // Backfill everything so a download is surely running, then stop the flow at once.
    const node = helper.getNode('s1') as unknown as TestNode;
    const started = new Promise<void>((resolve) => (helper.getNode('events') as unknown as TestNode).on('input', (m) => m.topic === 'progress' && resolve()));
    const start = new Date(sim.devices[0].spec.cameras[0].recording.start);
    node.receive({ topic: 'backfill', payload: { from: new Date(start.getTime() - 3_600_000).toISOString(), to: new Date().toISOString() } });
    await started;
    const t0 = Date.now();
    await helper.unload();
    assert.ok(Date.now() - t0 < 15_000);
    const parts = fs.readdirSync(path.join(dir, 'dl'), { recursive: true }).map(String).filter((f) => f.endsWith('.part'));
    assert.deepEqual(parts, []);
  });
});
