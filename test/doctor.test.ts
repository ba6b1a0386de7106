// The capability check (`vtrack-onvif doctor`) against the simulator with real-device quirks on,
// and against a port where nothing listens.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { doctor } from '../lib/onvif/doctor';

const AUTH = { user: 'admin', password: 'pw' };
const CLI = path.join(__dirname, '..', 'lib', 'cli.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('doctor: capability check', function () {
  this.timeout(60_000);
  let sim: RunningSimulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it('NVR with clock-auth, no-find-events and real-time: services, auth, cameras with recordings, gaps not visible, real-time replay — each a problem with an action', async () => {
    sim = await startSimulator({
      host: '127.0.0.1',
      preset: 'nvr',
      channels: 2,
      basePort: 0,
      auth: AUTH,
      discovery: false,
      quirks: ['clock-auth', 'no-find-events', 'real-time'],
    });
    const [r] = await doctor({ targets: `127.0.0.1:${sim.devices[0].port}`, ...AUTH, replaySeconds: 3 });
    assert.deepEqual(r.services, { media: true, media2: true, search: true, replay: true, recording: true, events: false, profileG: true });
    assert.equal(r.auth, 'ws-security');
    assert.equal(r.clockAuth, 'http-digest');
    assert.ok(r.clockOffsetMs !== null && Math.abs(r.clockOffsetMs) < 5000);
    assert.deepEqual(
      r.cameras.map((c) => [c.name, c.recording, c.gapsVisible]),
      [
        ['Channel 1 Front Door', 'REC_1', false],
        ['Channel 2 Parking Lot', 'REC_2', false],
      ],
    );
    assert.match(r.cameras[0].mapping ?? '', /SourceId is the camera's video source/);
    assert.ok(r.cameras.every((c) => c.from && c.to));
    assert.equal(r.replay?.ok, true);
    assert.equal(r.replay?.rateControlHonoured, false);
    const problems = r.problems.map((p) => p.problem).join('\n');
    assert.match(problems, /GetSystemDateAndTime demands authentication/);
    assert.match(problems, /gaps in motion recording cannot be seen/);
    assert.match(problems, /NVR replays in real time/);
    assert.ok(r.problems.every((p) => p.action.length > 0));
  });

  it('a clean NVR: no problems, Rate-Control honoured', async () => {
    sim = await startSimulator({ host: '127.0.0.1', preset: 'nvr', channels: 1, basePort: 0, auth: AUTH, discovery: false });
    const [r] = await doctor({ targets: `127.0.0.1:${sim.devices[0].port}`, ...AUTH, replaySeconds: 3 });
    assert.deepEqual(r.problems, []);
    assert.equal(r.replay?.rateControlHonoured, true);
    assert.equal(r.cameras[0].gapsVisible, true);
    assert.equal(r.cameras[0].name, 'Channel 1 Front Door', "a one-channel NVR's camera is named after its channel");
  });

  it('wrong password: the ONVIF-user advice; nothing listening: check the address', async () => {
    sim = await startSimulator({ host: '127.0.0.1', preset: 'nvr', channels: 1, basePort: 0, auth: AUTH, discovery: false, rtsp: false });
    const closed = await freePort();
    const [bad, none] = await doctor({
      targets: [`127.0.0.1:${sim.devices[0].port}`, `127.0.0.1:${closed}`],
      user: 'admin',
      password: 'wrong',
      replaySeconds: 0,
    });
    assert.match(bad.problems[0].action, /create an ONVIF user/);
    assert.equal(bad.auth, null);
    assert.match(none.problems[0].problem, /connection refused/);
    assert.match(none.problems[0].action, /check the address and port/);
  });

  it('CLI --json: one object per device with the promised fields; exit 1 when there are problems', async () => {
    sim = await startSimulator({ host: '127.0.0.1', preset: 'nvr', channels: 1, basePort: 0, auth: AUTH, discovery: false, quirks: ['no-find-events'] });
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [CLI, 'doctor', '--targets', `127.0.0.1:${sim?.devices[0].port}`, '--user', 'admin', '--password', 'pw', '--json', '--replay-seconds', '2'],
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
      );
    });
    assert.equal(code, 1);
    const [d] = JSON.parse(out) as Array<Record<string, unknown>>;
    for (const k of ['services', 'auth', 'clockOffsetMs', 'cameras', 'replay', 'problems']) assert.ok(k in d, k);
    const cam = (d.cameras as Array<Record<string, unknown>>)[0];
    assert.deepEqual(Object.keys(cam).sort(), ['from', 'gapsVisible', 'mapping', 'name', 'recording', 'to']);
    const rep = d.replay as Record<string, unknown>;
    assert.equal(rep.ok, true);
    assert.ok('speedX' in rep && 'rateControlHonoured' in rep);
  });
});
