// Which recording each camera syncs from. The discovery answer the editor's grid reads carries each
// camera's recording, the rule that mapped it and whether that is a guess; a recording picked in the
// grid is saved with the camera (camera_configurations.recording_token) and the sync fetches from it.
// Two simulator quirks make the mapping a guess: several-recordings (each camera also has a
// 640x360 sub-stream recording under the same SourceId) and foreign-source-id (SourceIds that name
// no video source, listed in reverse order, so pairing by order is wrong). Which recording a file
// came from shows in its resolution (ffprobe) and its downloaded_files.recording_token.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { helper, nodeModule } from './support/node-red';
import { startSimulator, type RunningSimulator } from '../lib/sim';
import type { QuirkName } from '../lib/sim/quirks';
import type { DiscoveredDevice } from '../lib/onvif/types';

type Msg = { topic?: string; payload: Record<string, unknown> };
interface TestNode {
  on(ev: 'input', cb: (msg: Msg) => void): void;
}

const AUTH = { user: 'admin', password: 'pw-rec-3' };
const node = (id: string) => helper.getNode(id) as unknown as TestNode;

function rows(dbFile: string, sql: string): Array<Record<string, unknown>> {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

function resolution(file: string): string {
  return execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=s=x:p=0', file])
    .toString()
    .trim();
}

describe('nvr-source: each camera’s recording, shown with its mapping and picked in the grid', function () {
  this.timeout(180_000);
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
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-recpick-'));
    userDir = path.join(dir, 'user');
    fs.mkdirSync(userDir);
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Two channels: Channel 1 is 1920x1080 H.264, Channel 2 1280x720 H.265; sub streams 640x360.
  const withSim = async (quirk: QuirkName, body: (sim: RunningSimulator) => Promise<void>) => {
    const sim = await startSimulator({ preset: 'nvr', channels: 2, basePort: 0, auth: AUTH, discovery: false, historyMinutes: 6, quirks: [quirk] });
    try {
      await body(sim);
    } finally {
      await sim.stop();
    }
  };

  const flow = (sim: RunningSimulator, cameras: Array<Record<string, unknown>>) => [
    {
      id: 'a1',
      type: 'nvr-archive',
      name: '',
      dbPath: '',
      downloadRoot: path.join(dir, 'dl'),
      segmentMinutes: 2,
      concurrency: 2,
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
      cameras,
      workdir: '',
      interval: 10,
      timeout: 3000,
      wires: [[]],
    },
    { id: 's1', type: 'nvr-sync', archive: 'a1', name: '', wires: [['files'], ['events']] },
    { id: 'files', type: 'helper' },
    { id: 'events', type: 'helper' },
  ];

  /** The editor's Discover request (the route the grid reads), with the login in the body. */
  async function discoverFor(sim: RunningSimulator): Promise<DiscoveredDevice> {
    await helper.load([...mods, nodeModule('onvif-discover')] as never, flow(sim, []).slice(0, 1) as never);
    const res = await helper
      .request()
      .post('/vtrack-onvif/discover')
      .send({ targets: [`127.0.0.1:${sim.devices[0].port}`], wsDiscovery: false, user: AUTH.user, password: AUTH.password, timeoutMs: 3000 })
      .expect(200);
    await helper.unload();
    return (res.body as DiscoveredDevice[])[0];
  }

  /** Deploys with these grid rows and returns camera name → resolutions and recording tokens of its files. */
  async function syncWith(sim: RunningSimulator, cameras: Array<Record<string, unknown>>): Promise<Map<string, { sizes: Set<string>; tokens: Set<string> }>> {
    await helper.load(mods as never, flow(sim, cameras) as never, { src1: AUTH } as never);
    const files: Msg[] = [];
    const events: Msg[] = [];
    node('files').on('input', (m) => files.push(m));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no finished pass within 90 s: ${JSON.stringify(events.map((e) => e.payload))}`)), 90_000);
      node('events').on('input', (m) => {
        events.push(m);
        if (m.topic === 'finished') {
          clearTimeout(t);
          resolve();
        }
      });
    });
    assert.deepEqual(
      events.filter((e) => e.topic === 'error').map((e) => e.payload.error),
      [],
    );
    const tokens = rows(
      path.join(userDir, 'vtrack-onvif.db'),
      'SELECT c.display_name AS camera, f.path AS path, f.recording_token AS token FROM downloaded_files f JOIN camera_configurations c ON c.id = f.camera_id',
    );
    const out = new Map<string, { sizes: Set<string>; tokens: Set<string> }>();
    for (const f of files) {
      const cam = String(f.payload.camera);
      const e = out.get(cam) ?? { sizes: new Set<string>(), tokens: new Set<string>() };
      e.sizes.add(resolution(String(f.payload.path)));
      e.tokens.add(String(tokens.find((r) => r.path === f.payload.path)?.token));
      out.set(cam, e);
    }
    return out;
  }

  const CH1 = 'Channel 1 Front Door';
  const CH2 = 'Channel 2 Parking Lot';

  describe('several recordings per camera (main and sub stream under one SourceId)', () => {
    it('the discovery answer shows each camera’s recording, the rule and that it is a guess, and lists every recording', async () => {
      await withSim('several-recordings', async (sim) => {
        const d = await discoverFor(sim);
        assert.deepEqual(
          d.cameras.map((c) => [c.name, c.recording?.token, c.recording?.by, c.recording?.ambiguous]),
          [
            [CH1, 'REC_1', 'source-token', true],
            [CH2, 'REC_2', 'source-token', true],
          ],
        );
        assert.match(d.cameras[0].recording?.reason ?? '', /SourceId is the camera's video source VS_1 \(newest of 2 recordings that match\)/);
        assert.deepEqual(
          (d.recordings ?? []).map((r) => [r.token, r.sourceId, r.content]),
          [
            ['REC_1', 'VS_1', `Recording of ${CH1}`],
            ['REC_2', 'VS_2', `Recording of ${CH2}`],
            ['REC_3', 'VS_1', `Recording of ${CH1} (sub stream)`],
            ['REC_4', 'VS_2', `Recording of ${CH2} (sub stream)`],
          ],
        );
      });
    });

    it('a recording picked for one camera is saved with it and the sync fetches from it; the other camera stays automatic', async () => {
      await withSim('several-recordings', async (sim) => {
        const got = await syncWith(sim, [
          { port: sim.devices[0].port, token: 'VS_1', name: CH1, recording: 'REC_3' },
          { port: sim.devices[0].port, token: 'VS_2', name: CH2 },
        ]);
        assert.deepEqual([...(got.get(CH1)?.sizes ?? [])], ['640x360'], 'Channel 1 from its sub-stream recording');
        assert.deepEqual([...(got.get(CH1)?.tokens ?? [])], ['REC_3']);
        assert.deepEqual([...(got.get(CH2)?.sizes ?? [])], ['1280x720'], 'Channel 2 from its main recording (automatic)');
        assert.deepEqual([...(got.get(CH2)?.tokens ?? [])], ['REC_2']);
        assert.deepEqual(
          rows(path.join(userDir, 'vtrack-onvif.db'), 'SELECT display_name AS name, recording_token AS rec FROM camera_configurations ORDER BY id'),
          [
            { name: CH1, rec: 'REC_3' },
            { name: CH2, rec: null },
          ],
        );
      });
    });
  });

  describe('foreign SourceIds (only the order is left, and it is wrong)', () => {
    it('the discovery answer says the cameras were paired by order, as a guess', async () => {
      await withSim('foreign-source-id', async (sim) => {
        const d = await discoverFor(sim);
        assert.deepEqual(
          d.cameras.map((c) => [c.name, c.recording?.token, c.recording?.by, c.recording?.ambiguous]),
          [
            [CH1, 'REC_2', 'order', true],
            [CH2, 'REC_1', 'order', true],
          ],
        );
        assert.match(d.cameras[0].recording?.reason ?? '', /paired by order .*pick the recording in the editor/);
      });
    });

    it('without a pick the sync follows the guess; with picks each camera gets its own recording', async () => {
      await withSim('foreign-source-id', async (sim) => {
        const port = sim.devices[0].port;
        const guessed = await syncWith(sim, []);
        assert.deepEqual([...(guessed.get(CH1)?.sizes ?? [])], ['1280x720'], "by order Channel 1 gets Channel 2's recording");
        await helper.unload();
        fs.rmSync(path.join(userDir, 'vtrack-onvif.db'));
        fs.rmSync(path.join(dir, 'dl'), { recursive: true, force: true });
        const picked = await syncWith(sim, [
          { port, token: 'VS_1', name: CH1, recording: 'REC_1' },
          { port, token: 'VS_2', name: CH2, recording: 'REC_2' },
        ]);
        assert.deepEqual([...(picked.get(CH1)?.sizes ?? [])], ['1920x1080']);
        assert.deepEqual([...(picked.get(CH1)?.tokens ?? [])], ['REC_1']);
        assert.deepEqual([...(picked.get(CH2)?.sizes ?? [])], ['1280x720']);
        assert.deepEqual([...(picked.get(CH2)?.tokens ?? [])], ['REC_2']);
      });
    });
  });
});
