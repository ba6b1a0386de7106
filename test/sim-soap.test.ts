// The simulator's device and media services answer like an ONVIF camera: the seed preset's three
// cameras with their exact names, resolutions and codecs.
import assert from 'node:assert/strict';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { attrOf, faultSubcodes, findAll, first, serviceUrlOf, soapCall, textOf } from './sim-helpers';

const TDS = 'xmlns="http://www.onvif.org/ver10/device/wsdl"';
const TRT = 'xmlns="http://www.onvif.org/ver10/media/wsdl"';
const TR2 = 'xmlns="http://www.onvif.org/ver20/media/wsdl"';

describe('simulator SOAP services (seed preset, no auth)', () => {
  let sim: RunningSimulator;
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: false });
  });
  after(async () => {
    await sim.stop();
  });

  it('starts the three seed cameras as separate devices with distinct URNs', () => {
    assert.deepEqual(
      sim.devices.map((d) => d.spec.name),
      ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera'],
    );
    assert.equal(new Set(sim.devices.map((d) => d.urn)).size, 3);
    for (const d of sim.devices) assert.match(d.xaddr, /^http:\/\/127\.0\.0\.1:\d+\/onvif\/device_service$/);
  });

  it('GetSystemDateAndTime reports the UTC clock', async () => {
    const r = await soapCall(sim.devices[0].xaddr, `<GetSystemDateAndTime ${TDS}/>`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/soap\+xml/);
    const utc = findAll(r.doc, 'UTCDateTime')[0];
    const t = Date.UTC(+first(utc, 'Year'), +first(utc, 'Month') - 1, +first(utc, 'Day'), +first(utc, 'Hour'), +first(utc, 'Minute'), +first(utc, 'Second'));
    assert.ok(Math.abs(t - Date.now()) < 3000, `device time ${new Date(t).toISOString()} is not now`);
  });

  it('GetDeviceInformation and GetScopes describe the device', async () => {
    const info = await soapCall(sim.devices[0].xaddr, `<GetDeviceInformation ${TDS}/>`);
    assert.equal(first(info.doc, 'Manufacturer'), 'VTrack Simulator');
    assert.equal(first(info.doc, 'SerialNumber'), 'SIMCAM0001');
    const scopes = await soapCall(sim.devices[0].xaddr, `<GetScopes ${TDS}/>`);
    const items = findAll(scopes.doc, 'ScopeItem').map(textOf);
    assert.ok(items.includes('onvif://www.onvif.org/name/Front%20Door%20Camera'), items.join(' '));
    assert.ok(items.includes('onvif://www.onvif.org/Profile/G'));
  });

  it('GetServices lists every service with its namespace and address, capabilities on request', async () => {
    const xaddr = sim.devices[1].xaddr;
    const r = await soapCall(xaddr, `<GetServices ${TDS}><IncludeCapability>true</IncludeCapability></GetServices>`);
    const services = findAll(r.doc, 'Service').map((s) => [first(s, 'Namespace'), first(s, 'XAddr')]);
    const base = xaddr.replace('/onvif/device_service', '');
    assert.deepEqual(services, [
      ['http://www.onvif.org/ver10/device/wsdl', `${base}/onvif/device_service`],
      ['http://www.onvif.org/ver10/media/wsdl', `${base}/onvif/media_service`],
      ['http://www.onvif.org/ver20/media/wsdl', `${base}/onvif/media2_service`],
      ['http://www.onvif.org/ver10/search/wsdl', `${base}/onvif/search_service`],
      ['http://www.onvif.org/ver10/recording/wsdl', `${base}/onvif/recording_service`],
      ['http://www.onvif.org/ver10/replay/wsdl', `${base}/onvif/replay_service`],
    ]);
    const replayCaps = findAll(r.doc, 'Service')[5];
    assert.equal(attrOf(findAll(replayCaps, 'Capabilities')[1], 'ReversePlayback'), 'false');
    const bare = await soapCall(xaddr, `<GetServices ${TDS}><IncludeCapability>false</IncludeCapability></GetServices>`);
    assert.equal(findAll(bare.doc, 'Capabilities').length, 0);
  });

  it('GetCapabilities points at the media, search, recording and replay services', async () => {
    const xaddr = sim.devices[0].xaddr;
    const r = await soapCall(xaddr, `<GetCapabilities ${TDS}><Category>All</Category></GetCapabilities>`);
    assert.equal(first(findAll(r.doc, 'Media')[0], 'XAddr'), serviceUrlOf(xaddr, 'media'));
    assert.equal(first(findAll(r.doc, 'Search')[0], 'XAddr'), serviceUrlOf(xaddr, 'search'));
    assert.equal(first(findAll(r.doc, 'Replay')[0], 'XAddr'), serviceUrlOf(xaddr, 'replay'));
  });

  const expected = [
    { name: 'Front Door Camera', w: '1920', h: '1080', media1: 'H264', media2: 'H264' },
    { name: 'Parking Lot Camera', w: '1280', h: '720', media1: 'H265', media2: 'H265' },
    { name: 'Warehouse Camera', w: '800', h: '600', media1: 'MPEG4', media2: 'MPV4-ES' },
  ];

  expected.forEach((e, i) => {
    it(`Media1 GetProfiles/GetVideoSources/GetStreamUri: ${e.name} ${e.w}x${e.h} ${e.media1}`, async () => {
      const media = serviceUrlOf(sim.devices[i].xaddr, 'media');
      const r = await soapCall(media, `<GetProfiles ${TRT}/>`);
      const profiles = findAll(r.doc, 'Profiles');
      assert.equal(profiles.length, 1);
      assert.equal(attrOf(profiles[0], 'token'), 'PROFILE_1_MAIN');
      assert.equal(first(profiles[0], 'Name'), e.name);
      assert.equal(first(findAll(profiles[0], 'VideoSourceConfiguration')[0], 'SourceToken'), 'VS_1');
      const enc = findAll(profiles[0], 'VideoEncoderConfiguration')[0];
      assert.equal(first(enc, 'Encoding'), e.media1);
      assert.equal(first(findAll(enc, 'Resolution')[0], 'Width'), e.w);
      assert.equal(first(findAll(enc, 'Resolution')[0], 'Height'), e.h);
      assert.equal(first(enc, 'FrameRateLimit'), '15');
      assert.ok(Number(first(enc, 'BitrateLimit')) > 0);

      const vs = await soapCall(media, `<GetVideoSources ${TRT}/>`);
      const src = findAll(vs.doc, 'VideoSources')[0];
      assert.equal(attrOf(src, 'token'), 'VS_1');
      assert.equal(first(src, 'Framerate'), '15');
      assert.equal(first(src, 'Width'), e.w);

      const uri = await soapCall(
        media,
        `<GetStreamUri ${TRT}><StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></StreamSetup><ProfileToken>PROFILE_1_MAIN</ProfileToken></GetStreamUri>`,
      );
      assert.equal(first(uri.doc, 'Uri'), `rtsp://127.0.0.1:${sim.devices[i].rtspPort}/live/PROFILE_1_MAIN`);
    });

    it(`Media2 GetProfiles: ${e.name} encoding ${e.media2}`, async () => {
      const media2 = serviceUrlOf(sim.devices[i].xaddr, 'media2');
      const r = await soapCall(media2, `<GetProfiles ${TR2}><Type>All</Type></GetProfiles>`);
      const enc = findAll(findAll(r.doc, 'Configurations')[0], 'VideoEncoder')[0];
      assert.equal(first(enc, 'Encoding'), e.media2);
      assert.equal(first(enc, 'Width'), e.w);
      assert.equal(first(enc, 'Height'), e.h);
      const uri = await soapCall(media2, `<GetStreamUri ${TR2}><Protocol>RTSP</Protocol><ProfileToken>PROFILE_1_MAIN</ProfileToken></GetStreamUri>`);
      assert.match(first(uri.doc, 'Uri'), /^rtsp:\/\/127\.0\.0\.1:\d+\/live\/PROFILE_1_MAIN$/);
    });
  });

  it('an unknown profile token is a Sender/InvalidArgVal/NoProfile fault', async () => {
    const r = await soapCall(serviceUrlOf(sim.devices[0].xaddr, 'media'), `<GetStreamUri ${TRT}><ProfileToken>NOPE</ProfileToken></GetStreamUri>`);
    assert.equal(r.status, 400);
    assert.deepEqual(faultSubcodes(r.doc), ['s:Sender', 'ter:InvalidArgVal', 'ter:NoProfile']);
  });

  it('an unknown operation is a Sender/ActionNotSupported fault', async () => {
    const r = await soapCall(sim.devices[0].xaddr, `<SystemReboot ${TDS}/>`);
    assert.equal(r.status, 400);
    assert.deepEqual(faultSubcodes(r.doc), ['s:Sender', 'ter:ActionNotSupported']);
  });

  it('malformed XML is a fault, not a crash, and the device keeps answering', async () => {
    const r = await soapCall(sim.devices[0].xaddr, '<<<not xml');
    assert.equal(r.status, 400);
    assert.ok(findAll(r.doc, 'Fault').length === 1);
    const ok = await soapCall(sim.devices[0].xaddr, `<GetDeviceInformation ${TDS}/>`);
    assert.equal(ok.status, 200);
  });

  it('nvr preset: one device exposing N channels as profiles, sources and recordings', async () => {
    const nvr = await startSimulator({ preset: 'nvr', channels: 6, basePort: 0, rtsp: false, discovery: false });
    try {
      assert.equal(nvr.devices.length, 1);
      const media = serviceUrlOf(nvr.devices[0].xaddr, 'media');
      const profiles = findAll((await soapCall(media, `<GetProfiles ${TRT}/>`)).doc, 'Profiles');
      assert.deepEqual(
        profiles.map((p) => attrOf(p, 'token')),
        ['PROFILE_1_MAIN', 'PROFILE_2_MAIN', 'PROFILE_3_MAIN', 'PROFILE_4_MAIN', 'PROFILE_5_MAIN', 'PROFILE_6_MAIN'],
      );
      const sources = findAll((await soapCall(media, `<GetVideoSources ${TRT}/>`)).doc, 'VideoSources');
      assert.equal(sources.length, 6);
      const scopes = findAll((await soapCall(nvr.devices[0].xaddr, `<GetScopes ${TDS}/>`)).doc, 'ScopeItem').map(textOf);
      assert.ok(scopes.includes('onvif://www.onvif.org/type/Network_Video_Recorder'));
    } finally {
      await nvr.stop();
    }
  });
});
