// How a replay's connection ends does not decide whether it is complete; its frame times do
// (issue F). Real NVR firmwares reset the TCP connection right after the last packet instead of
// sending RTCP BYE, or never answer TEARDOWN: a replay whose frames reach the asked end is then
// complete, frame for frame. A reset before the end stays a network error, with all that arrived
// kept (the sync runner fetches the rest). Simulator over loopback, files checked with ffmpeg.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { FileNaming } from '../lib/sync/naming';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:net';
import { END_FAULTS, startRtspServer, type EndFaults, type RtspServerHandle, type RtspServerOptions } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import { packageRoot } from '../lib/sim/clips';
import type { SimCameraSpec, SimDeviceSpec } from '../lib/sim/types';
import { replayToFiles, ReplayToFilesError } from '../lib/media/replay-to-files';
import { optionsFromArgs, run as runSimCli } from '../lib/cli/sim';
import { frameMd5s } from './support/media';

const AUTH = { user: 'admin', password: 's3cret!' };
const REC_START = new Date(Math.floor((Date.now() - 3600_000) / 60_000) * 60_000);
const at = (sec: number) => new Date(REC_START.getTime() + sec * 1000);
const FPS = 15;

const CAMERA: SimCameraSpec = {
  name: 'H264 cam',
  codec: 'H264',
  width: 1920,
  height: 1080,
  fps: FPS,
  bitrateKbps: 1000,
  clip: 'front-door-1080p-h264',
  recording: { start: REC_START },
};

const DEVICE: SimDeviceSpec = {
  name: 'test',
  manufacturer: 'VTrack Simulator',
  model: 't',
  firmware: '1',
  serial: 'T1',
  hardware: 't',
  location: 'loopback',
  urn: 'urn:uuid:11111111-1111-4111-a111-111111111112',
  port: 0,
  rtspPort: 0,
  cameras: [CAMERA],
};

describe('a replay is complete by its frame times, however the NVR ends the connection', function () {
  this.timeout(60_000);
  let dir: string;
  let server: RtspServerHandle | undefined;
  let clipFrames: string[];

  before(() => {
    // Recording frame n shows clip frame n mod 150: the clip looped twice covers seconds 0–20.
    dir = mkdtempSync(join(tmpdir(), 'vtrack-end-'));
    const raw = readFileSync(join(packageRoot(), 'assets', 'clips', 'front-door-1080p-h264.h264'));
    const looped = join(dir, 'looped.h264');
    writeFileSync(looped, Buffer.concat([raw, raw]));
    clipFrames = frameMd5s(looped, 'h264');
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vtrack-end-'));
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (endFaults: EndFaults, extra: Partial<RtspServerOptions> = {}) => {
    server = await startRtspServer({ host: '127.0.0.1', port: 0, auth: AUTH, device: DEVICE, endFaults, ...extra });
    return `rtsp://127.0.0.1:${server.port}${replayPath(0)}`;
  };
  const naming = (): FileNaming => ({ kind: 'camera-folder', folder: join(dir, 'cam') });
  const parts = () => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.part'));

  const cases: Array<{ name: string; faults: EndFaults; extra?: Partial<RtspServerOptions>; note: RegExp }> = [
    { name: 'reset-at-end: TCP RST right after the last frame, no BYE', faults: { resetAtEnd: true }, note: /the replay is complete/ },
    {
      // Without 0xABAC there is no T flag either: nothing but the frame times says the range is done.
      name: 'reset-at-end on a server without the ONVIF extension (no T flag; times from RTCP)',
      faults: { resetAtEnd: true },
      extra: { quirks: { noAbac: true } },
      note: /the replay is complete/,
    },
    { name: 'no-teardown-reply: TEARDOWN never answered', faults: { noTeardownReply: true }, note: /TEARDOWN: no answer within \d+ ms \(ignored/ },
  ];
  for (const c of cases) {
    it(`${c.name} → one complete file, frame for frame the clip, no error`, async () => {
      const url = await start(c.faults, c.extra);
      const log: string[] = [];
      const files = await replayToFiles({ url, ...AUTH, from: at(5), to: at(20), naming: naming(), log: (m) => log.push(m) });
      assert.equal(files.length, 1);
      const f = files[0];
      assert.equal(f.frames, 225);
      assert.equal(f.start.getTime(), at(5).getTime());
      assert.equal(f.end.getTime(), at(20).getTime());
      assert.deepEqual(frameMd5s(f.path), clipFrames.slice(75, 300));
      assert.deepEqual(parts(), []);
      assert.ok(
        log.some((m) => c.note.test(m)),
        `a debug note says why the connection's end was not a failure: ${JSON.stringify(log)}`,
      );
    });
  }

  it('no-teardown-reply: stopping (abort) while the TEARDOWN answer is awaited keeps the complete replay', async () => {
    // A loopback relay in front of the simulator sees the client's TEARDOWN go by and aborts then:
    // the frames are all in, so the wait for the answer is only a courtesy to the NVR.
    const url = new URL(await start({ noTeardownReply: true }));
    const ac = new AbortController();
    const relay: Server = createServer((client) => {
      const upstream = connect(Number(url.port), '127.0.0.1');
      client.on('data', (d: Buffer) => {
        upstream.write(d);
        if (d.includes('TEARDOWN ')) setImmediate(() => ac.abort());
      });
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    try {
      const port = (relay.address() as { port: number }).port;
      const files = await replayToFiles({
        url: `rtsp://127.0.0.1:${port}${url.pathname}`,
        ...AUTH,
        from: at(5),
        to: at(20),
        naming: naming(),
        signal: ac.signal,
      });
      assert.ok(ac.signal.aborted, 'the abort came while the TEARDOWN answer was awaited');
      assert.equal(files.length, 1);
      assert.equal(files[0].frames, 225);
      assert.deepEqual(frameMd5s(files[0].path), clipFrames.slice(75, 300));
    } finally {
      await new Promise((r) => relay.close(r));
    }
  });

  it('every frame of the range, then silence (no T flag, no BYE, connection open) → complete after the end grace, not an idle error', async () => {
    // stallAfterFrames: the 225 frames of the range, then nothing; no-abac: no T flag either.
    const url = await start({}, { stallAfterFrames: 225, quirks: { noAbac: true } });
    const log: string[] = [];
    const files = await replayToFiles({
      url,
      ...AUTH,
      from: at(5),
      to: at(20),
      naming: naming(),
      timeouts: { idleMs: 4000, endGraceMs: 1000 },
      log: (m) => log.push(m),
    });
    assert.equal(files.length, 1);
    assert.equal(files[0].frames, 225);
    assert.deepEqual(frameMd5s(files[0].path), clipFrames.slice(75, 300));
    assert.ok(
      log.some((m) => /after the frames covered the asked range \(no BYE, no T flag\)/.test(m)),
      JSON.stringify(log),
    );
  });

  it('a reset in the MIDDLE of the range is a network error, not a success; every frame sent before it is kept', async () => {
    // 90 frames (6 s) of the asked 15 s, then RST: the frames fall 9 s short of the asked end.
    const url = await start({ resetMid: { afterFrames: 90, remaining: 1 } });
    const err = await replayToFiles({ url, ...AUTH, from: at(5), to: at(20), naming: naming() }).then(
      () => assert.fail('a replay 9 s short of its end must not succeed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ReplayToFilesError, String(err));
    assert.equal(err.kind, 'network');
    assert.equal(err.completed.length, 1, 'what arrived is a finished file');
    const kept = err.completed[0];
    assert.equal(kept.frames, 90);
    assert.equal(kept.start.getTime(), at(5).getTime());
    assert.equal(kept.end.getTime(), at(11).getTime());
    assert.deepEqual(frameMd5s(kept.path), clipFrames.slice(75, 165));
    assert.deepEqual(parts(), []);
  });

  it('sim --fault lists and parses every end-of-replay fault', async () => {
    assert.deepEqual(optionsFromArgs(['--fault', 'reset-at-end', '--fault', 'no-teardown-reply', '--fault', 'reset-mid:40:2']).faults?.end, {
      resetAtEnd: true,
      noTeardownReply: true,
      resetMid: { afterFrames: 40, remaining: 2 },
    });
    assert.deepEqual(optionsFromArgs(['--fault', 'reset-mid']).faults?.end, { resetMid: { afterFrames: 150, remaining: Infinity } });
    assert.throws(() => optionsFromArgs(['--fault', 'reset-mid:x']), /reset-mid: expected a whole number/);
    let help = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => ((help += String(chunk)), true)) as typeof process.stdout.write;
    try {
      assert.equal(await runSimCli(['--help']), 0);
    } finally {
      process.stdout.write = write;
    }
    // Each listed with a description on its line.
    for (const f of END_FAULTS) assert.match(help, new RegExp(`^ +${f}(\\[:FRAMES\\[:COUNT\\]\\])? +\\S`, 'm'), `${f} in --help`);
  });
});
