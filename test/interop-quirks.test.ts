// Each real-device quirk the simulator reproduces (`sim --quirk NAME`, lib/sim/quirks.ts) against
// our client, over loopback: what the client does about it, and what it reports.
import { strict as assert } from 'node:assert';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { startRtspServer, type RtspServerHandle, type RtspServerOptions } from '../lib/sim/rtsp-server';
import { replayPath, profileToken, videoSourceToken } from '../lib/sim/tokens';
import type { QuirkName } from '../lib/sim/quirks';
import { parseQuirks } from '../lib/sim/quirks';
import type { SimCameraSpec, SimDeviceSpec } from '../lib/sim/types';
import { probeClock, getServices } from '../lib/onvif/device';
import { discover } from '../lib/onvif/discovery';
import { findRecordedRanges, searchRecordings, type SearchCtx } from '../lib/onvif/search';
import { OnvifError } from '../lib/onvif/errors';
import { openDeviceSession, recordingChoice } from '../lib/sync/device-session';
import { replay, type ReplayFrame } from '../lib/rtsp/replay-session';
import { RtspError } from '../lib/rtsp/errors';
import { clockReply, httpReply, soapEnvelope, startHostileServer, type HostileServer } from './support/hostile-peers';

const AUTH = { user: 'admin', password: 'pw' };
const creds = { user: AUTH.user, password: AUTH.password };

async function nvr(quirks: QuirkName[], channels = 2): Promise<RunningSimulator> {
  return startSimulator({ host: '127.0.0.1', preset: 'nvr', channels, basePort: 0, auth: AUTH, discovery: false, rtsp: false, historyMinutes: 30, quirks });
}

describe('interop: simulator quirks of real devices', function () {
  this.timeout(30_000);
  let sim: RunningSimulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it('--quirk parsing: comma lists, unknown names refused', () => {
    assert.deepEqual([...parseQuirks(['clock-auth,no-abac', 'real-time'])], ['clock-auth', 'no-abac', 'real-time']);
    assert.throws(() => parseQuirks(['clock-auth', 'nope']), /unknown quirk "nope"/);
  });

  it('clock-auth: GetSystemDateAndTime wants credentials (401, HTML body) → retried with HTTP Digest; discover lists the cameras', async () => {
    sim = await nvr(['clock-auth']);
    const url = sim.devices[0].xaddr;
    await assert.rejects(probeClock(url, 3000), (e: unknown) => e instanceof OnvifError && e.code === 'auth');
    const probe = await probeClock(url, 3000, undefined, { credentials: creds });
    assert.equal(probe.clockAuth, 'http-digest');
    assert.ok(Math.abs(probe.clockOffsetMs) < 5000);
    const [dev] = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, user: AUTH.user, password: AUTH.password });
    assert.equal(dev.error, undefined, dev.error);
    assert.deepEqual(
      dev.cameras.map((c) => c.name),
      ['Channel 1 Front Door', 'Channel 2 Parking Lot'],
    );
  });

  it('bare-encoder: encoders without Encoding/Resolution and no Media2 → codec and size from GetVideoEncoderConfigurations', async () => {
    sim = await nvr(['bare-encoder']);
    const [dev] = await discover({ targets: `127.0.0.1:${sim.devices[0].port}`, user: AUTH.user, password: AUTH.password });
    assert.equal(dev.error, undefined, dev.error);
    assert.deepEqual(
      dev.cameras.map((c) => `${c.name} ${c.profiles[0].width}x${c.profiles[0].height} ${c.profiles[0].encoding}`),
      ['Channel 1 Front Door 1920x1080 H264', 'Channel 2 Parking Lot 1280x720 H265'],
    );
  });

  it('empty-source-id: recordings tied to cameras by GetRecordingJobs (job source = profile), with the reason', async () => {
    sim = await nvr(['empty-source-id']);
    const s = await openDeviceSession('127.0.0.1', sim.devices[0].port, creds, 3000);
    assert.ok(s.recordings.every((r) => r.sourceId === undefined));
    assert.equal(s.jobs.length, 2);
    const cams = [0, 1].map((i) => ({ videoSourceToken: videoSourceToken(i), profileToken: profileToken(i), displayName: `Cam ${i}`, recordingToken: null }));
    const c1 = recordingChoice(s, cams[1], cams);
    assert.equal(c1?.recording.token, s.recordings[1].token);
    assert.equal(c1?.by, 'recording-job');
    assert.match(c1?.reason ?? '', /recording job records profile PROFILE_2_MAIN/);
  });

  it('foreign-source-id: SourceIds naming none of the cameras make the session ask for jobs; foreign there too, only the order is left — flagged as a guess', async () => {
    sim = await nvr(['foreign-source-id']);
    const cams = [0, 1].map((i) => ({ videoSourceToken: videoSourceToken(i), profileToken: profileToken(i), displayName: `Cam ${i}`, recordingToken: null }));
    const tokens = cams.flatMap((c) => [c.videoSourceToken, c.profileToken]);
    const s = await openDeviceSession('127.0.0.1', sim.devices[0].port, creds, 3000, undefined, { sourceTokens: tokens });
    assert.deepEqual(
      s.recordings.map((r) => [r.token, r.sourceId]),
      [
        ['REC_2', 'SIMNVR0001:input2'],
        ['REC_1', 'SIMNVR0001:input1'],
      ],
    );
    assert.equal(s.jobs.length, 2, 'jobs asked for: a SourceId names none of the cameras');
    const c0 = recordingChoice(s, cams[0], cams);
    assert.equal(c0?.recording.token, 'REC_2', 'paired by order, and wrongly: the reason the editor offers a choice');
    assert.equal(c0?.by, 'order');
    assert.equal(c0?.ambiguous, true);
    // A recording the user picked wins over every rule.
    const picked = recordingChoice(s, { ...cams[0], recordingToken: 'REC_1' }, [{ ...cams[0], recordingToken: 'REC_1' }, cams[1]]);
    assert.deepEqual([picked?.recording.token, picked?.by, picked?.ambiguous], ['REC_1', 'saved', false]);
    assert.equal(recordingChoice(s, cams[1], [{ ...cams[0], recordingToken: 'REC_1' }, cams[1]])?.recording.token, 'REC_2');
    // Without the cameras' tokens, only an empty SourceId is a reason to ask.
    assert.equal((await openDeviceSession('127.0.0.1', sim.devices[0].port, creds, 3000)).jobs.length, 0);
  });

  it('search-stuck: a recording search that never completes keeps its results, is partial, and the session still opens', async () => {
    sim = await nvr(['search-stuck']);
    const services = await getServices(sim.devices[0].xaddr, { credentials: creds, clockOffsetMs: 0, timeoutMs: 3000 });
    const ctx: SearchCtx = { credentials: creds, clockOffsetMs: 0, timeoutMs: 3000, maxPages: 4, searchTimeoutMs: 60_000 };
    const res = await searchRecordings(services, ctx);
    assert.equal(res.partial, true);
    assert.equal(res.recordings.length, 2);
    assert.match(res.warnings[0], /still "Searching" after 4 pages/);
  });

  it('no-find-events: FindEvents refused (InvalidArgVal) → DataFrom/DataTo with gapsVisible false', async () => {
    sim = await nvr(['no-find-events']);
    const s = await openDeviceSession('127.0.0.1', sim.devices[0].port, creds, 3000);
    const to = new Date();
    const from = new Date(to.getTime() - 10 * 60_000);
    const r = await findRecordedRanges(s.services, s.ctx, s.recordings[0], from, to);
    assert.equal(r.gapsVisible, false);
    assert.equal(r.intervals.length, 1);
    assert.match(r.warnings.join(' '), /InvalidArgVal|not supported/);
  });

  it('epoch-dates: DataFrom 1970 is unknown with a warning; planning starts at the asked window, not 1970', async () => {
    sim = await nvr(['epoch-dates']);
    const s = await openDeviceSession('127.0.0.1', sim.devices[0].port, creds, 3000);
    assert.equal(s.recordings[0].earliest, undefined);
    assert.match(s.warnings.join(' '), /1970-01-01T00:03:15\.000Z is implausible/);
    const to = new Date();
    const from = new Date(to.getTime() - 5 * 60_000);
    const r = await findRecordedRanges(s.services, s.ctx, s.recordings[0], from, to);
    assert.ok(r.intervals.every((i) => i.start.getTime() >= from.getTime()));
  });
});

describe('interop: replay quirks of real devices', function () {
  this.timeout(60_000);
  const REC_START = new Date(Math.floor((Date.now() - 3600_000) / 60_000) * 60_000);
  const at = (sec: number) => new Date(REC_START.getTime() + sec * 1000);
  const cam: SimCameraSpec = {
    name: 'H264 cam',
    codec: 'H264',
    width: 1920,
    height: 1080,
    fps: 15,
    bitrateKbps: 1000,
    clip: 'front-door-1080p-h264',
    recording: { start: REC_START },
  };
  const device: SimDeviceSpec = {
    name: 't',
    manufacturer: 'VTrack Simulator',
    model: 't',
    firmware: '1',
    serial: 'T1',
    hardware: 't',
    location: 'loopback',
    urn: 'urn:uuid:22222222-2222-4222-a222-222222222222',
    port: 0,
    rtspPort: 0,
    cameras: [cam],
  };
  let server: RtspServerHandle | undefined;
  const start = async (extra: Partial<RtspServerOptions>) => {
    server = await startRtspServer({ host: '127.0.0.1', port: 0, auth: AUTH, device, ...extra });
    return `rtsp://127.0.0.1:${server.port}${replayPath(0)}`;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const run = async (url: string, from: Date, to: Date, rateControl = false) => {
    const frames: ReplayFrame[] = [];
    const stats = await replay({ url, ...AUTH, from, to, rateControl, onFrame: (f) => void frames.push(f) });
    return { frames, stats };
  };

  it('strict-clock: fractional times are sent as whole seconds (start floored, end ceiled), so a strict server replays', async () => {
    const url = await start({ quirks: { strictClock: true } });
    const { frames, stats } = await run(url, new Date(at(5).getTime() + 400), new Date(at(7).getTime() + 600));
    assert.ok(frames.length > 0);
    assert.equal(frames[0].ntpTime.getTime(), at(5).getTime(), 'from the floored start');
    assert.equal(stats.timeSource, 'onvif-extension');
  });

  it('refuse-onvif-replay: 551 to Require → once without it; the frame times prove the range, so it is accepted', async () => {
    const url = await start({ quirks: { refuseRequire: true } });
    const { frames, stats } = await run(url, at(10), at(12));
    assert.equal(stats.withoutOnvifReplay, true);
    assert.equal(frames[0].ntpTime.getTime(), at(10).getTime());
  });

  it('no-abac: without the 0xABAC extension, frame times come from the RTCP sender report (same as with it)', async () => {
    const withExt = await run(await start({}), at(20), at(22));
    await server?.close();
    const url = await start({ quirks: { noAbac: true } });
    const { frames, stats } = await run(url, at(20), at(22));
    assert.equal(stats.timeSource, 'rtcp-sr');
    assert.deepEqual(
      frames.map((f) => f.ntpTime.getTime()),
      withExt.frames.map((f) => f.ntpTime.getTime()),
    );
  });

  it('real-time: an NVR ignoring Rate-Control: no is detected from the measured speed', async () => {
    const url = await start({ rateControl: 'ignore' });
    const { stats } = await run(url, at(30), at(33));
    assert.equal(stats.rateControlHonoured, false);
    assert.ok((stats.speedX ?? 99) < 1.5, `speed ${stats.speedX}`);
  });

  it('a server honouring Rate-Control: no is reported as such', async () => {
    const url = await start({});
    const { stats } = await run(url, at(40), at(43));
    assert.equal(stats.rateControlHonoured, true, `speed ${stats.speedX}`);
  });

  it('busy-453: Not Enough Bandwidth is the "busy" error kind', async () => {
    const url = await start({ busyReplays: { remaining: 1, status: '453 Not Enough Bandwidth' } });
    await assert.rejects(run(url, at(50), at(52)), (e: unknown) => e instanceof RtspError && e.kind === 'busy' && e.status === 453);
  });

  it('a 4xx other than auth/busy (404 unknown recording) is the "permanent" error kind', async () => {
    const url = await start({});
    await assert.rejects(
      run(url.replace(/REC_1$/, 'REC_404'), at(50), at(52)),
      (e: unknown) => e instanceof RtspError && e.kind === 'permanent' && e.status === 404,
    );
  });
});

describe('interop: clock that wants WS-Security only', () => {
  let server: HostileServer | undefined;
  after(() => server?.close());

  it('GetSystemDateAndTime refused without a UsernameToken and no Digest challenge → WS-Security stamped with our clock', async () => {
    const seen: string[] = [];
    server = await startHostileServer((sock, req) => {
      const wsse = /UsernameToken/.test(req.body);
      seen.push(`${wsse ? 'wsse' : 'none'}${req.headers.get('authorization') ? '+digest' : ''}`);
      if (wsse) return void sock.end(httpReply(200, clockReply()));
      sock.end(
        httpReply(
          400,
          soapEnvelope(
            '<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text>Sender not authorized</s:Text></s:Reason></s:Fault>',
          ),
        ),
      );
    });
    const url = `http://127.0.0.1:${server.port}/onvif/device_service`;
    const probe = await probeClock(url, 3000, undefined, { credentials: creds });
    assert.equal(probe.clockAuth, 'ws-security');
    assert.deepEqual(seen, ['none', 'none', 'wsse'], 'plain, then Digest-only (no challenge came), then WS-Security');
  });
});
