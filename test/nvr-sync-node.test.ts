// nvr-sync with an nvr-archive and an nvr-source against the simulator: the archive's one engine
// syncs the sources nvr-source nodes registered (their login handed over in-process); nvr-sync
// turns its events into messages and a summary badge and takes commands. Also: sources follow
// their nodes (deleted → stops, kept inactive; forget → rows gone), several nvr-sync nodes share
// one engine, invalid settings are refused, and a flow saved by 0.1.0 still syncs.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { helper, nodeModule } from './support/node-red';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import { openArchives } from '../lib/archive/archive';

type Msg = { topic?: string; payload: Record<string, unknown>; error?: { message: string } };
interface TestNode {
  on(ev: 'input', cb: (msg: Msg) => void): void;
  on(ev: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void;
  receive(msg: Record<string, unknown>): void;
}

const AUTH = { user: 'admin', password: 'pw-secret-1' };
const CAMERAS = ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera'];

function rows(dbFile: string, sql: string): Array<Record<string, unknown>> {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

const node = (id: string) => helper.getNode(id) as unknown as TestNode;
const nextMsg = (id: string, pred: (m: Msg) => boolean = () => true) => new Promise<Msg>((resolve) => node(id).on('input', (m) => pred(m) && resolve(m)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nvr-sync node (with nvr-archive and nvr-source)', function () {
  this.timeout(120_000);
  let sim: RunningSimulator;
  let dir: string;
  let userDir: string;
  let ports: string;
  const mods = [nodeModule('nvr-archive'), nodeModule('nvr-source'), nodeModule('nvr-sync')];

  before(async () => {
    // Ten minutes recorded, six synced first (sinceHours 0.1): the backfill spec's first two minutes
    // are never held by the first pass, however long the deploy takes (its first ask starts one GOP
    // early, and would reach back to the recording's start if that were only seconds away).
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 10 });
    ports = sim.devices.map((d) => d.port).join(',');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-nvr-sync-'));
    userDir = path.join(dir, 'user');
    fs.mkdirSync(userDir);
    helper.settings({ userDir });
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  after(async () => {
    await helper.unload();
    await sim.stop();
    helper.settings({});
    await new Promise<void>((r) => helper.stopServer(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const dbFile = () => path.join(userDir, 'vtrack-onvif.db');
  const archive = (extra: Record<string, unknown> = {}) => ({
    id: 'a1',
    type: 'nvr-archive',
    name: '',
    dbPath: '',
    downloadRoot: path.join(dir, 'dl'),
    segmentMinutes: 2,
    concurrency: 2,
    sinceHours: 0.1,
    maxAgeDays: '',
    maxGB: '',
    minFreeGB: 0.5,
    fastReplay: true,
    ...extra,
  });
  const source = (extra: Record<string, unknown> = {}) => ({
    id: 'src1',
    type: 'nvr-source',
    archive: 'a1',
    name: 'seed',
    host: '127.0.0.1',
    ports,
    selection: 'all',
    cameras: [],
    workdir: '',
    interval: 10,
    timeout: 3000,
    wires: [[]],
    ...extra,
  });
  const sync = (extra: Record<string, unknown> = {}) => ({ id: 's1', type: 'nvr-sync', archive: 'a1', name: '', wires: [['files'], ['events']], ...extra });
  const rest = () => [
    { id: 'files', type: 'helper' },
    { id: 'events', type: 'helper' },
    { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
  const creds = { src1: AUTH };

  /** Load the flow and collect messages until the first pass finishes. */
  async function deployAndWaitForPass(nodes: Array<Record<string, unknown>>): Promise<{ files: Msg[]; events: Msg[]; statuses: string[] }> {
    const files: Msg[] = [];
    const events: Msg[] = [];
    const statuses: string[] = [];
    await helper.load(mods as never, [...nodes, ...rest()] as never, creds as never);
    node('s1').on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    node('files').on('input', (m) => files.push(m));
    await new Promise<void>((resolve) => {
      node('events').on('input', (m) => {
        events.push(m);
        if (m.topic === 'finished') resolve();
      });
    });
    return { files, events, statuses };
  }

  let firstDeployAt = 0;
  it('syncs the source nvr-source registered and sends one message per new file; the summary badge counts sources', async () => {
    firstDeployAt = Date.now();
    const r = await deployAndWaitForPass([archive(), source(), sync()]);
    assert.ok(
      r.files.length >= 3,
      `${r.files.length} files: ${JSON.stringify(r.files.map((m) => [m.topic, m.payload.start, m.payload.end]))} ${JSON.stringify(r.events.filter((m) => m.topic !== 'progress').map((m) => m.payload))}`,
    );
    assert.deepEqual([...new Set(r.files.map((m) => m.topic))].sort(), CAMERAS);
    for (const m of r.files) {
      const p = m.payload;
      for (const k of ['path', 'camera', 'source', 'sourceId', 'start', 'end', 'durationSec', 'bytes', 'codec', 'width', 'height', 'frames', 'speedX'])
        assert.ok(k in p, `payload.${k}`);
      assert.ok(!('cameraId' in p));
      assert.equal(p.camera, m.topic);
      assert.equal(p.source, 'seed');
      assert.ok(String(p.path).startsWith(path.join(dir, 'dl', 'seed')), `under the archive's download folder: ${String(p.path)}`);
      assert.equal(fs.statSync(p.path as string).size, p.bytes, 'the file is complete when the message leaves');
    }
    // Progress: at most one a second per source, plus the first of each file (not one per percent).
    const progress = r.events.filter((m) => m.topic === 'progress');
    const started = r.events.find((m) => m.topic === 'started');
    const finished = r.events.find((m) => m.topic === 'finished');
    const seconds = Number(finished?.payload.durationMs ?? 0) / 1000;
    const filesStarted = new Set(progress.map((m) => `${String(m.payload.camera)}#${String(m.payload.index)}`)).size;
    assert.ok(started && progress.length >= 1, 'progress events');
    assert.ok(progress.length <= filesStarted + Math.ceil(seconds) + 1, `${progress.length} progress events for ${filesStarted} files in ${seconds} s`);
    await sleep(50);
    assert.match(r.statuses.at(-1) ?? '', /^1 ok · next \d\d:\d\d$/);
    assert.equal(openArchives().length, 1, 'one archive (catalog + engine) in the process');
    const all = JSON.stringify([r.files, r.events]);
    assert.ok(!all.includes(AUTH.password), 'no password in any message');
  });

  it('syncs on demand (topic "sync") and fetches nothing it holds already', async () => {
    // Real time runs on: a 2-minute slot may close between the passes, and its file is new. What
    // must never come again is a file of a slot the first pass had closed.
    const heldUntil = Math.floor((firstDeployAt - 15_000 - 2000) / 120_000) * 120_000;
    const files: Msg[] = [];
    node('files').on('input', (m) => files.push(m));
    const finished = nextMsg('events', (m) => m.topic === 'finished');
    node('s1').receive({ topic: 'sync' });
    const f = await finished;
    assert.equal(f.payload.reason, 'manual');
    assert.equal(f.payload.files, files.length);
    for (const m of files) assert.ok(Date.parse(m.payload.start as string) >= heldUntil - 2000, `${m.topic} ${m.payload.start} fetched again`);
  });

  it('backfills an older range for one camera (topic "backfill")', async () => {
    const start = new Date(sim.devices[0].spec.cameras[0].recording.start);
    const files: Msg[] = [];
    node('files').on('input', (m) => files.push(m));
    const finished = nextMsg('events', (m) => m.topic === 'finished');
    node('s1').receive({
      topic: 'backfill',
      payload: { from: start.toISOString(), to: new Date(start.getTime() + 120_000).toISOString(), cameras: ['Front Door Camera'] },
    });
    const f = await finished;
    assert.equal(f.payload.reason, 'backfill');
    assert.deepEqual(
      files.map((m) => m.topic),
      ['Front Door Camera'],
    );
    assert.equal(files[0].payload.start, start.toISOString());
  });

  it('verifies the archive on topic "verify": a deleted file is reported, and after fix the next pass fetches it again', async () => {
    const reportOf = async (payload: Record<string, unknown>) => {
      const out = nextMsg('events', (m) => m.topic === 'verify');
      node('s1').receive({ topic: 'verify', payload });
      return (await out).payload as unknown as { clean: boolean; cameras: Array<{ camera: string; bad: Array<{ path: string; problem: string }> }> };
    };
    const mp4s = (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.mp4') && f.includes('Front_Door'))
      .map((f) => path.join(dir, f));
    assert.ok(mp4s.length > 0, 'files to check');
    const victim = mp4s.sort()[0];
    fs.rmSync(victim);
    const report = await reportOf({});
    assert.equal(report.clean, false);
    assert.deepEqual(
      report.cameras.flatMap((c) => c.bad).map((b) => [b.path, b.problem]),
      [[victim, 'missing']],
    );
    await reportOf({ fix: true });
    const finished = nextMsg('events', (m) => m.topic === 'finished');
    node('s1').receive({ topic: 'sync' });
    await finished;
    assert.ok(fs.existsSync(victim), 'fetched again under its name');
    const after = await reportOf({});
    assert.deepEqual(
      after.cameras.flatMap((c) => c.bad),
      [],
    );
  });

  it('rejects a backfill without valid dates and an unknown topic through done(err), which Catch nodes see', async () => {
    let caught = nextMsg('caught');
    node('s1').receive({ topic: 'backfill', payload: { from: 'yesterday-ish', to: 'now' } });
    assert.match((await caught).error?.message ?? '', /"from" must be a date/);
    caught = nextMsg('caught');
    node('s1').receive({ topic: 'frobnicate' });
    assert.match((await caught).error?.message ?? '', /unknown topic "frobnicate"/);
  });

  it('pauses and resumes', async () => {
    const statuses: string[] = [];
    node('s1').on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    node('s1').receive({ topic: 'pause' });
    await sleep(50);
    assert.equal(statuses.at(-1), 'paused');
    node('s1').receive({ topic: 'resume' });
    await sleep(50);
    assert.notEqual(statuses.at(-1), 'paused');
  });

  it('resumes after a restart from SQLite, without fetching a held segment again', async () => {
    await helper.unload();
    const r = await deployAndWaitForPass([archive(), source(), sync()]);
    const held = rows(dbFile(), 'SELECT camera_id, start_time, path FROM downloaded_files');
    assert.equal(new Set(held.map((x) => `${String(x.camera_id)}@${String(x.start_time)}`)).size, held.length, 'one row per camera and start');
    for (const m of r.files) assert.equal(held.filter((x) => x.path === m.payload.path).length, 1);
  });

  it('lets several nvr-sync nodes listen to one archive: one engine, every file message on each', async () => {
    await helper.unload();
    const second = { id: 's2', type: 'nvr-sync', archive: 'a1', name: '', wires: [['files2'], []] };
    // Its own database, so the first pass surely fetches files.
    const own = archive({ dbPath: 'two.db', downloadRoot: path.join(dir, 'dl2') });
    await helper.load(mods as never, [own, source(), sync(), second, { id: 'files2', type: 'helper' }, ...rest()] as never, creds as never);
    const files: Msg[] = [];
    const files2: Msg[] = [];
    node('files').on('input', (m) => files.push(m));
    node('files2').on('input', (m) => files2.push(m));
    await nextMsg('events', (m) => m.topic === 'finished');
    await sleep(50);
    assert.equal(openArchives().length, 1, 'one archive for the two nodes');
    assert.ok(files.length >= 1);
    assert.deepEqual(
      files2.map((m) => m.payload.path),
      files.map((m) => m.payload.path),
    );
    const db2 = path.join(userDir, 'two.db');
    assert.equal(rows(db2, 'SELECT COUNT(*) AS n FROM downloaded_files')[0].n, files.length, 'each file fetched once');
  });

  it('stops syncing a deleted nvr-source at the next deploy and keeps it inactive with its files; forget removes the rows', async () => {
    await helper.unload();
    await helper.load(mods as never, [archive(), source(), sync(), ...rest()] as never, creds as never);
    await nextMsg('events', (m) => m.topic === 'finished');
    const filesBefore = rows(dbFile(), `SELECT path FROM downloaded_files WHERE status = 'done'`).map((x) => String(x.path));
    assert.ok(filesBefore.length > 0);
    await helper.unload(); // close(removed = false): a restart, the node comes back...
    // ...but the flow deployed next has no nvr-source: the archive marks the source inactive.
    await helper.load(mods as never, [archive(), sync(), ...rest()] as never, {} as never);
    const events: Msg[] = [];
    node('events').on('input', (m) => events.push(m));
    await sleep(300);
    assert.deepEqual(rows(dbFile(), 'SELECT name, active FROM video_sources'), [{ name: 'seed', active: 0 }]);
    node('s1').receive({ topic: 'sync' });
    await sleep(500);
    assert.deepEqual(
      events.map((m) => m.topic),
      [],
      'no pass, no error about the inactive source',
    );
    for (const f of filesBefore) assert.ok(fs.existsSync(f), `${f} kept`);

    const done = nextMsg('events', (m) => m.topic === 'forgotten');
    node('s1').receive({ topic: 'forget', payload: { source: 'seed' } });
    const r = await done;
    assert.equal(r.payload.source, 'seed');
    assert.equal(r.payload.filesKept, filesBefore.length);
    for (const t of ['video_sources', 'camera_configurations', 'sync_status', 'downloaded_files'])
      assert.deepEqual(rows(dbFile(), `SELECT COUNT(*) AS n FROM ${t}`), [{ n: 0 }], t);
    for (const f of filesBefore) assert.ok(fs.existsSync(f), `${f} kept (deleteFiles not asked)`);
  });

  it('refuses to forget a source whose nvr-source is deployed, and deletes files when asked', async () => {
    await helper.unload();
    await helper.load(mods as never, [archive(), source(), sync(), ...rest()] as never, creds as never);
    await nextMsg('events', (m) => m.topic === 'finished');
    let caught = nextMsg('caught');
    node('s1').receive({ topic: 'forget', payload: { source: 'seed' } });
    assert.match((await caught).error?.message ?? '', /still synced by a deployed nvr-source/);
    const files = rows(dbFile(), `SELECT path FROM downloaded_files WHERE status = 'done'`).map((x) => String(x.path));
    // Delete the node: Node-RED closes it with removed = true (the e2e spec deploys a real deletion).
    await (helper.getNode('src1') as unknown as { close(removed: boolean): Promise<void> }).close(true);
    assert.deepEqual(rows(dbFile(), 'SELECT active FROM video_sources'), [{ active: 0 }]);
    const forgotten = nextMsg('events', (m) => m.topic === 'forgotten');
    node('s1').receive({ topic: 'forget', payload: { source: 'seed', deleteFiles: true } });
    const r = await forgotten;
    assert.equal(r.payload.filesDeleted, files.length);
    for (const f of files) assert.ok(!fs.existsSync(f), `${f} deleted`);
    caught = nextMsg('caught');
    node('s1').receive({ topic: 'forget', payload: { source: 'seed' } });
    assert.match((await caught).error?.message ?? '', /no source "seed"/);
  });

  it('refuses invalid archive settings with a red badge and done(err), never another meaning', async () => {
    await helper.unload();
    const statuses: Array<{ fill?: string; text?: string }> = [];
    await helper.load(mods as never, [archive({ concurrency: 0, sinceHours: '24h' }), sync(), ...rest()] as never);
    node('s1').on('call:status', (c) => statuses.push(c.args[0]));
    const caught = nextMsg('caught');
    node('s1').receive({ topic: 'sync' });
    const m = await caught;
    assert.match(m.error?.message ?? '', /parallel sessions: 0 is outside 1 to 16/);
    assert.match(m.error?.message ?? '', /first sync: "24h" is not a number/);
    assert.equal(statuses.at(-1)?.fill, 'red');
    assert.match(statuses.at(-1)?.text ?? '', /invalid setting|parallel sessions/);
    assert.equal(openArchives().length, 0, 'nothing opened');
  });

  it('closes within 15 s while a download runs, leaving no .part file', async () => {
    await helper.unload();
    await helper.load(mods as never, [archive(), source(), sync(), ...rest()] as never, creds as never);
    await nextMsg('events', (m) => m.topic === 'finished');
    const started = nextMsg('events', (m) => m.topic === 'progress');
    const start = new Date(sim.devices[0].spec.cameras[0].recording.start);
    node('s1').receive({ topic: 'backfill', payload: { from: new Date(start.getTime() - 3_600_000).toISOString(), to: new Date().toISOString() } });
    await started;
    const t0 = Date.now();
    await helper.unload();
    assert.ok(Date.now() - t0 < 15_000);
    const parts = fs
      .readdirSync(path.join(dir, 'dl'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.part'));
    assert.deepEqual(parts, []);
    assert.equal(openArchives().length, 0, 'the last user closed the archive');
  });

  it('loads a flow saved by 0.1.0 (no nvr-archive; a relative database path) and syncs into that database', async () => {
    await helper.unload();
    // 0.1.0's nodes: nvr-source and nvr-sync each with their own dbPath and settings.
    const old = [
      {
        id: 'src1',
        type: 'nvr-source',
        name: 'old',
        host: '127.0.0.1',
        ports,
        selection: 'all',
        cameras: [],
        workdir: path.join(dir, 'old'),
        interval: 10,
        dbPath: 'data/old.db',
        timeout: 3000,
        wires: [['s1']],
      },
      {
        id: 's1',
        type: 'nvr-sync',
        name: '',
        dbPath: 'data/old.db',
        segmentMinutes: 2,
        concurrency: 2,
        sinceHours: 0.1,
        maxAgeDays: '',
        maxGB: '',
        minFreeGB: 0.5,
        fastReplay: true,
        wires: [['files'], ['events']],
      },
    ];
    fs.mkdirSync(path.join(userDir, 'data'));
    const r = await deployAndWaitForPass(old);
    assert.ok(
      r.files.length >= 3,
      `${r.files.length} files: ${JSON.stringify(r.files.map((m) => [m.topic, m.payload.start, m.payload.end]))} ${JSON.stringify(r.events.filter((m) => m.topic !== 'progress').map((m) => m.payload))}`,
    );
    const db = path.join(userDir, 'data', 'old.db');
    assert.ok((rows(db, 'SELECT COUNT(*) AS n FROM downloaded_files')[0].n as number) >= 3, 'files recorded in <userDir>/data/old.db');
    assert.equal(openArchives().length, 1, 'nvr-source and nvr-sync share the implicit archive');
    assert.equal(openArchives()[0].settings.sync.segmentMinutes, 2, "the 0.1.0 nvr-sync's settings apply");
  });
});
