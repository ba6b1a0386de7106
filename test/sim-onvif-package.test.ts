// A third-party client, the npm `onvif` package, works against the simulator unchanged: proof that
// our responses are ONVIF-shaped, not just shaped for our own parser.
import assert from 'node:assert/strict';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';

/** The slice of onvif's callback API these specs use (the package ships no types). */
interface OnvifCam {
  media2Support: boolean;
  profiles: Array<{ $: { token: string }; name: string; videoEncoderConfiguration: { encoding: string; resolution: { width: number; height: number } } }>;
  connect(cb: (err: Error | null) => void): void;
  getDeviceInformation(cb: (err: Error | null, info: { manufacturer: string; model: string; serialNumber: string }) => void): void;
  getProfiles(cb: (err: Error | null, profiles: OnvifCam['profiles']) => void): void;
  getVideoSources(cb: (err: Error | null, sources: Array<{ $: { token: string }; resolution: { width: number; height: number } }>) => void): void;
  getRecordings(cb: (err: Error | null, items: unknown) => void): void;
  getReplayUri(o: { recordingToken: string }, cb: (err: Error | null, uri: string) => void): void;
  getStreamUri(o: { protocol: string; profileToken: string }, cb: (err: Error | null, r: { uri: string }) => void): void;
}
type CamCtor = new (o: {
  hostname: string;
  port: number;
  username?: string;
  password?: string;
  autoconnect: boolean;
  useWSSecurity?: boolean;
  timeout?: number;
}) => OnvifCam;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped CommonJS package
const { Cam } = require('onvif') as { Cam: CamCtor };

function call<T>(fn: (cb: (err: Error | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

describe('the npm onvif package against the simulator', () => {
  let sim: RunningSimulator;
  let nvr: RunningSimulator;
  const auth = { user: 'admin', password: 'pw' };
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: false, auth });
    nvr = await startSimulator({ preset: 'nvr', channels: 3, basePort: 0, rtsp: false, discovery: false, auth });
  });
  after(async () => {
    await sim.stop();
    await nvr.stop();
  });

  const cam = (port: number, extra: { useWSSecurity?: boolean; password?: string } = {}): OnvifCam =>
    new Cam({
      hostname: '127.0.0.1',
      port,
      username: auth.user,
      password: extra.password ?? auth.password,
      autoconnect: false,
      useWSSecurity: extra.useWSSecurity,
      timeout: 5000,
    });

  it('connects (WS-Security), reads device information, profiles and video sources of each seed camera', async () => {
    const want = [
      ['Front Door Camera', 'H264', 1920, 1080],
      ['Parking Lot Camera', 'H265', 1280, 720],
      ['Warehouse Camera', 'MPV4-ES', 800, 600],
    ] as const;
    for (const [i, dev] of sim.devices.entries()) {
      const c = cam(dev.port);
      await call<null>((cb) => c.connect((err) => cb(err, null)));
      const info = await call<{ manufacturer: string; serialNumber: string }>((cb) => c.getDeviceInformation(cb));
      assert.equal(info.manufacturer, 'VTrack Simulator');
      assert.equal(info.serialNumber, dev.spec.serial);
      // onvif prefers Media2 when GetServices lists it.
      assert.equal(c.media2Support, true);
      const profiles = await call<OnvifCam['profiles']>((cb) => c.getProfiles(cb));
      const [name, encoding, width, height] = want[i];
      assert.equal(profiles.length, 1);
      assert.equal(profiles[0].name, name);
      assert.equal(profiles[0].$.token, 'PROFILE_1_MAIN');
      assert.equal(profiles[0].videoEncoderConfiguration.encoding, encoding);
      assert.deepEqual(profiles[0].videoEncoderConfiguration.resolution, { width, height });
      const sources = await call<Array<{ $: { token: string }; resolution: { width: number; height: number } }>>((cb) => c.getVideoSources(cb));
      assert.deepEqual(
        sources.map((s) => [s.$.token, s.resolution.width, s.resolution.height]),
        [['VS_1', width, height]],
      );
      const stream = await call<{ uri: string }>((cb) => c.getStreamUri({ protocol: 'RTSP', profileToken: 'PROFILE_1_MAIN' }, cb));
      assert.equal(stream.uri, `rtsp://127.0.0.1:${dev.rtspPort}/live/PROFILE_1_MAIN`);
    }
  });

  it('reads recordings and replay URIs from the NVR', async () => {
    const c = cam(nvr.devices[0].port);
    await call<null>((cb) => c.connect((err) => cb(err, null)));
    const items = (await call<unknown>((cb) => c.getRecordings(cb))) as Array<{
      recordingToken: string;
      configuration: { source: { sourceId: string; name: string } };
    }>;
    assert.deepEqual(
      items.map((r) => [r.recordingToken, r.configuration.source.sourceId]),
      [
        ['REC_1', 'VS_1'],
        ['REC_2', 'VS_2'],
        ['REC_3', 'VS_3'],
      ],
    );
    const uri = await call<string>((cb) => c.getReplayUri({ recordingToken: 'REC_3' }, cb));
    assert.equal(uri, `rtsp://127.0.0.1:${nvr.devices[0].rtspPort}/replay/REC_3`);
  });

  it('connects with HTTP Digest only (useWSSecurity false)', async () => {
    const c = cam(sim.devices[0].port, { useWSSecurity: false });
    await call<null>((cb) => c.connect((err) => cb(err, null)));
    const info = await call<{ model: string }>((cb) => c.getDeviceInformation(cb));
    assert.equal(info.model, 'SIM-CAM-1');
  });

  it('fails to connect with a wrong password, with an authorization error', async () => {
    for (const useWSSecurity of [true, false]) {
      const c = cam(sim.devices[0].port, { password: 'wrong', useWSSecurity });
      await assert.rejects(
        call<null>((cb) => c.connect((err) => cb(err, null))),
        (err: Error) => /not authorized|authentication failed/i.test(err.message),
      );
    }
  });
});
