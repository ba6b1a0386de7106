// nvr-source's per-source opt-ins, end to end through nvr-archive + nvr-source + nvr-sync: an
// HTTPS-only NVR with a self-signed certificate, and an NVR that offers only Basic login (SOAP and
// RTSP). Each syncs only with its setting on; with it off the source is refused with a badge that
// names the setting, and nothing is saved. The Check (doctor) route follows the same settings.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { helper, nodeModule } from './support/node-red';
import { probe } from './support/media';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../lib/sim';

type Msg = { topic?: string; payload: Record<string, unknown> };
interface TestNode {
  on(ev: 'input', cb: (msg: Msg) => void): void;
  on(ev: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void;
  on(ev: 'call:error', cb: (call: { args: unknown[] }) => void): void;
}

const AUTH = { user: 'admin', password: 'pw-access-7' };
// A throw-away self-signed certificate for 127.0.0.1 (test/fixtures/tls, made with openssl req -x509).
const TLS_DIR = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');
const TLS = { key: fs.readFileSync(path.join(TLS_DIR, 'selfsigned.key')), cert: fs.readFileSync(path.join(TLS_DIR, 'selfsigned.crt')) };

const node = (id: string) => helper.getNode(id) as unknown as TestNode;

function count(dbFile: string, sql: string): number {
  if (!fs.existsSync(dbFile)) return 0;
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('nvr-source opt-ins: self-signed HTTPS and Basic authentication, end to end', function () {
  this.timeout(120_000);
  let dir: string;
  let userDir: string;
  const mods = [nodeModule('nvr-archive'), nodeModule('nvr-source'), nodeModule('nvr-sync')];

  before(async () => {
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  after(async () => {
    helper.settings({});
    await new Promise<void>((r) => helper.stopServer(() => r()));
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-access-'));
    userDir = path.join(dir, 'user');
    fs.mkdirSync(userDir);
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const withSim = async (extra: Partial<SimulatorOptions>, body: (sim: RunningSimulator) => Promise<void>) => {
    const sim = await startSimulator({ preset: 'nvr', channels: 1, quality: 'low', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 6, ...extra });
    try {
      await body(sim);
    } finally {
      await sim.stop();
    }
  };

  const flow = (sim: RunningSimulator, opts: Record<string, unknown>) => [
    {
      id: 'a1',
      type: 'nvr-archive',
      name: '',
      dbPath: '',
      downloadRoot: path.join(dir, 'dl'),
      segmentMinutes: 2,
      concurrency: 1,
      sinceHours: 0.05,
      maxAgeDays: '',
      maxGB: '',
      minFreeGB: 0.1,
      fastReplay: true,
    },
    {
      id: 'src1',
      type: 'nvr-source',
      archive: 'a1',
      name: 'nvr',
      host: '127.0.0.1',
      ports: String(sim.devices[0].port),
      selection: 'all',
      cameras: [],
      workdir: '',
      interval: 10,
      timeout: 3000,
      wires: [['out']],
      ...opts,
    },
    { id: 'out', type: 'helper' },
    { id: 's1', type: 'nvr-sync', archive: 'a1', name: '', wires: [['files'], ['events']] },
    { id: 'files', type: 'helper' },
    { id: 'events', type: 'helper' },
  ];

  /** Deploys and resolves with the source's first red badge and its error log line. */
  async function refused(sim: RunningSimulator, opts: Record<string, unknown>): Promise<{ badge: string; error: string }> {
    await helper.load(mods as never, flow(sim, opts) as never, { src1: AUTH } as never);
    const errors: string[] = [];
    node('src1').on('call:error', (c) => errors.push(String(c.args[0])));
    const badge = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no red badge within 20 s')), 20_000);
      node('src1').on('call:status', (c) => {
        if (c.args[0].fill !== 'red') return;
        clearTimeout(t);
        resolve(c.args[0].text ?? '');
      });
    });
    return { badge, error: errors.join('\n') };
  }

  /** Deploys and resolves with the file messages of the first pass and the events. */
  async function synced(sim: RunningSimulator, opts: Record<string, unknown>): Promise<{ files: Msg[]; events: Msg[] }> {
    await helper.load(mods as never, flow(sim, opts) as never, { src1: AUTH } as never);
    const files: Msg[] = [];
    const events: Msg[] = [];
    node('files').on('input', (m) => files.push(m));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no finished pass within 60 s: ${JSON.stringify(events.map((e) => e.payload))}`)), 60_000);
      node('events').on('input', (m) => {
        events.push(m);
        if (m.topic === 'finished') {
          clearTimeout(t);
          resolve();
        }
      });
    });
    return { files, events };
  }

  function assertVideo(files: Msg[]): void {
    assert.ok(files.length >= 1, 'at least one file');
    for (const f of files) {
      assert.ok(probe(String(f.payload.path)).frames > 0, `${String(f.payload.path)} decodes to frames`);
    }
  }

  describe('an HTTPS-only NVR with a self-signed certificate', () => {
    it('is refused with the setting off: the badge names the setting, nothing is saved', async () => {
      await withSim({ tls: TLS }, async (sim) => {
        const r = await refused(sim, {});
        assert.equal(r.badge, 'self-signed cert — turn on accept self-signed');
        assert.match(r.error, /TLS certificate is not trusted.*accept self-signed certificate/);
        assert.equal(count(path.join(userDir, 'vtrack-onvif.db'), 'SELECT count(*) AS n FROM video_sources'), 0);
      });
    });

    it('syncs with "accept self-signed certificate" on: discovery, search and replay all reach it', async () => {
      await withSim({ tls: TLS }, async (sim) => {
        assert.match(sim.devices[0].xaddr, /^https:/);
        const r = await synced(sim, { acceptSelfSigned: true });
        const errors = r.events.filter((e) => e.topic === 'error');
        assert.deepEqual(
          errors.map((e) => e.payload.error),
          [],
        );
        assertVideo(r.files);
      });
    });
  });

  describe('an NVR that offers only Basic authentication (SOAP and RTSP)', () => {
    it('is refused with the setting off: the badge names the setting, nothing is saved', async () => {
      await withSim({ quirks: ['basic-auth'] }, async (sim) => {
        const r = await refused(sim, {});
        assert.equal(r.badge, 'Basic auth only — turn on allow Basic auth');
        assert.match(r.error, /only HTTP Basic.*clear text/);
        assert.equal(count(path.join(userDir, 'vtrack-onvif.db'), 'SELECT count(*) AS n FROM video_sources'), 0);
      });
    });

    it('syncs with "allow Basic authentication" on: SOAP calls and the RTSP replay log in with Basic', async () => {
      await withSim({ quirks: ['basic-auth'] }, async (sim) => {
        const r = await synced(sim, { allowBasicAuth: true });
        assert.deepEqual(
          r.events.filter((e) => e.topic === 'error').map((e) => e.payload.error),
          [],
        );
        assertVideo(r.files);
      });
    });
  });

  it("the editor's Check route: the body's setting for a login it sends; the deployed node's own for its stored login, and only on its host and ports", async () => {
    await withSim({ tls: TLS }, async (sim) => {
      await helper.load(mods as never, flow(sim, { acceptSelfSigned: true }) as never, { src1: AUTH } as never);
      const targets = [`127.0.0.1:${sim.devices[0].port}`];
      const check = async (body: Record<string, unknown>) =>
        (
          await helper
            .request()
            .post('/vtrack-onvif/doctor')
            .send({ targets, timeoutMs: 3000, ...body })
            .expect(200)
        ).body as Array<{
          xaddr: string;
          auth: string | null;
          problems: Array<{ problem: string; action: string }>;
        }>;
      const off = await check({ user: AUTH.user, password: AUTH.password });
      assert.match(off[0].problems[0].action, /turn on "accept self-signed certificate"/);
      const on = await check({ user: AUTH.user, password: AUTH.password, acceptSelfSigned: true });
      assert.equal(on[0].xaddr, `https://127.0.0.1:${sim.devices[0].port}/onvif/device_service`);
      assert.equal(on[0].auth, 'ws-security');
      const stored = await check({ nodeId: 'src1' });
      assert.equal(stored[0].auth, 'ws-security', "the deployed node's setting (on) applies to its stored login");
      const elsewhere = await helper
        .request()
        .post('/vtrack-onvif/doctor')
        .send({ targets: ['127.0.0.1:1'], nodeId: 'src1' })
        .expect(403);
      assert.match((elsewhere.body as { error: string }).error, /only used with the host and ports saved in that node/);
    });
  });

  it('refuses a setting that is not on or off (a hand-edited flow), never reading it as on', async () => {
    await withSim({ tls: TLS }, async (sim) => {
      const r = await refused(sim, { acceptSelfSigned: 'false' });
      assert.match(r.badge, /^invalid setting: accept self-signed certificate/);
      assert.match(r.error, /accept self-signed certificate: "false" is not on or off/);
    });
  });
});
