// Discovery and Profile G search against recorded answers of real devices (test/fixtures/devices,
// sources in its README), served from loopback: Dahua NVR + camera, Hikvision NVR + camera, Axis
// SD-card camera, Milesight camera, Uniview recorder.
import { strict as assert } from 'node:assert';
import { getCameras, getDeviceInformation, getScopes, getServices, probeClock, scopeValue } from '../lib/onvif/device';
import { findRecordedRanges, getRecordingJobs, getRecordings, getRecordingSummary, getReplayUri, searchRecordings, type SearchCtx } from '../lib/onvif/search';
import { mapRecordings } from '../lib/onvif/recording-map';
import { startFixtureDevice, type FixtureDevice } from './support/fixture-device';

const ctx = (o: Partial<SearchCtx> = {}): SearchCtx => ({ clockOffsetMs: 0, timeoutMs: 3000, ...o });

describe('interop: recorded answers of real devices (loopback)', () => {
  let dev: FixtureDevice | undefined;
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
  });

  it('Dahua 12-channel NVR: encoder configurations without Encoding/Resolution → 12 channels at the source size, none "0x0"', async () => {
    dev = await startFixtureDevice('dahua-nvr-12ch');
    const cams = await getCameras(dev.services(['media']), ctx(), 'NVR', { recorder: true });
    assert.equal(cams.length, 12);
    assert.deepEqual(
      cams.map((c) => c.name),
      Array.from({ length: 12 }, (_, i) => `Channel ${i + 1}`),
      'firmware names (VideoSourceConfig_ChannelN, MediaProfile_ChannelN_MainStream) give the channel number',
    );
    for (const c of cams) {
      assert.equal(c.profiles.length, 3, `${c.name}: main + two sub streams`);
      for (const p of c.profiles) assert.ok(p.width > 0 && p.height > 0, `${c.name}/${p.name}: ${p.width}x${p.height}`);
    }
    assert.deepEqual([cams[0].profiles[0].width, cams[0].profiles[0].height], [2048, 1536]);
    assert.ok(dev.ops.includes('media.GetVideoEncoderConfigurations'), 'asked the encoder configurations before falling back to the source size');
  });

  it('Dahua camera: GetServices refused → the GetCapabilities addresses, rebased onto the address we reached', async () => {
    dev = await startFixtureDevice('dahua-ipc');
    const s = await getServices(`${dev.base}/device_service`, ctx());
    assert.equal(s.media, `${dev.base}/media_service`);
    assert.equal(s.search, undefined);
    assert.equal(s.profileG, false);
    assert.deepEqual(dev.ops, ['device.GetServices', 'device.GetCapabilities']);
  });

  it('Hikvision camera: default-namespace (unprefixed) GetProfiles parses; one camera named after the device', async () => {
    dev = await startFixtureDevice('hikvision-ipc');
    const cams = await getCameras(dev.services(['media']), ctx(), 'Hik Front');
    assert.equal(cams.length, 1);
    assert.equal(cams[0].token, 'VideoSource_1');
    assert.equal(cams[0].name, 'Hik Front', 'only generic names (VideoSourceConfig, mainStream): the device name');
    assert.deepEqual(
      { enc: cams[0].profiles[0].encoding, w: cams[0].profiles[0].width, h: cams[0].profiles[0].height, fps: cams[0].profiles[0].fps },
      { enc: 'H264', w: 640, h: 480, fps: 2 },
    );
  });

  it('Hikvision NVR DS-7732NI-I4: channel profiles without any video encoder are still cameras, sized from the source', async () => {
    dev = await startFixtureDevice('hikvision-ds-7732ni-i4');
    const cams = await getCameras(dev.services(['media']), ctx(), 'DS-7732NI-I4', { recorder: true });
    assert.deepEqual(
      cams.map((c) => [c.token, c.name, c.profiles[0].width, c.profiles[0].height]),
      [
        ['VideoSourceToken005', 'Channel 5', 1280, 720],
        ['VideoSourceToken007', 'Channel 7', 1280, 720],
      ],
    );
  });

  it('Axis SD-card camera: Media2 profile, three recordings with empty SourceId, a job recording from the profile, replay URI', async () => {
    dev = await startFixtureDevice('axis-sd-camera');
    const services = dev.services(['media2', 'recording', 'replay']);
    const clock = await probeClock(`${dev.base}/device_service`, 3000);
    assert.ok(Number.isFinite(clock.clockOffsetMs));
    const cams = await getCameras(services, ctx(), 'AXIS cam');
    assert.deepEqual(
      cams.map((c) => [c.token, c.name, c.profiles[0].token, c.profiles[0].encoding, c.profiles[0].width]),
      [['0', 'AXIS cam', 'profile_1_h264', 'H264', 2688]],
    );
    const recs = await getRecordings(services, ctx());
    assert.deepEqual(
      recs.map((r) => [r.token, r.sourceId, r.sourceName]),
      [
        ['SD_DISK_20200422_123501_A2388AB3', undefined, 'paolo'],
        ['SD_DISK_20200422_132613_45A883F5', undefined, 'paolo2'],
        ['SD_DISK_20200422_132655_67086B52', undefined, 'paolo3'],
      ],
    );
    assert.deepEqual(
      recs[0].tracks.map((t) => t.type),
      ['Video', 'Audio', 'Metadata'],
    );
    // One camera, three recordings and nothing tying them: no guess.
    const camRef = { token: '0', name: cams[0].name, profileTokens: cams[0].profiles.map((p) => p.token) };
    assert.equal(mapRecordings([camRef], recs).size, 0, 'ambiguous: the user picks the recording');
    // A recording named after the camera's source name is found by name.
    const byName = mapRecordings([{ ...camRef, name: 'paolo2' }], recs).get('0');
    assert.equal(byName?.recording.token, 'SD_DISK_20200422_132613_45A883F5');
    assert.equal(byName?.by, 'source-name');
    // The job (a later capture of the same device) records profile_1_h264: recording → profile → video source 0.
    const jobs = await getRecordingJobs(services, ctx());
    assert.deepEqual(jobs, [
      { recordingToken: 'SD_DISK_20241120_211729_9C896594', sourceToken: 'profile_1_h264', sourceType: 'http://www.onvif.org/ver10/schema/Profile' },
    ]);
    const viaJob = mapRecordings([camRef], [...recs, { token: 'SD_DISK_20241120_211729_9C896594', tracks: [] }], jobs).get('0');
    assert.equal(viaJob?.recording.token, 'SD_DISK_20241120_211729_9C896594');
    assert.equal(viaJob?.by, 'recording-job');
    assert.match(viaJob?.reason ?? '', /recording job records profile profile_1_h264/);
    // The replay URI names the camera's LAN address without a port; it is unreachable from here, so
    // the host we reached is used (the reachability probe is stubbed: no traffic leaves loopback).
    const asked: string[] = [];
    const uri = await getReplayUri(
      services,
      ctx({ reachable: async (h, p) => (asked.push(`${h}:${p}`), h === '127.0.0.1') }),
      'SD_DISK_20200422_132655_67086B52',
    );
    assert.equal(
      uri,
      'rtsp://127.0.0.1/onvif-media/record/play.amp?onvifreplayid=SD_DISK_20200422_132655_67086B52&onvifreplayext=1&streamtype=unicast&session_timeout=30',
    );
    assert.deepEqual(asked, ['192.168.1.136:554', '127.0.0.1:554']);
  });

  it('Milesight MS-C8165-PE: identity, scopes, recording search; DataFrom 1970 is unknown with a warning and never planned from', async () => {
    dev = await startFixtureDevice('milesight-ms-c8165-pe');
    const services = dev.services(['search', 'recording']);
    const info = await getDeviceInformation(`${dev.base}/device_service`, ctx());
    assert.deepEqual([info.manufacturer, info.model, info.firmware], ['Milesight Technology Co.,Ltd.', 'MS-C8165-PE', '61.8.0.3-r8']);
    const scopes = await getScopes(`${dev.base}/device_service`, ctx());
    assert.equal(scopeValue(scopes, 'name'), 'Camera');
    const found = await searchRecordings(services, ctx({ now: () => Date.parse('2025-03-16T00:00:00Z') }));
    assert.equal(found.partial, false);
    assert.equal(found.recordings.length, 1);
    const r = found.recordings[0];
    assert.deepEqual([r.token, r.sourceId, r.sourceName], ['OnvifRecordingToken_1', 'SourceId_1', 'IpCamera_1']);
    assert.equal(r.earliest, undefined, '1970 is not a recording start');
    assert.equal(r.tracks[0].dataFrom, undefined);
    assert.equal(r.tracks[0].dataTo?.toISOString(), '2025-03-15T16:28:00.000Z');
    assert.match(found.warnings.join('\n'), /DataFrom 1970-01-01T00:03:15\.000Z is implausible; treated as unknown/);
    assert.ok(dev.ops.includes('search.EndSearch'), 'the search is ended');
    // FindEvents is not recorded for this device: DataTo with the window start, gaps not visible.
    const from = new Date('2025-03-15T00:00:00Z');
    const ranges = await findRecordedRanges(services, ctx(), r, from, new Date('2025-03-16T00:00:00Z'));
    assert.deepEqual(ranges.intervals, [{ start: from, end: new Date('2025-03-15T16:28:00Z') }]);
    assert.equal(ranges.gapsVisible, false);
    // Asked from 1970 (a "whole recording" backfill): nothing is planned from an unknown start.
    const whole = await findRecordedRanges(services, ctx(), r, new Date(0), new Date('2025-03-16T00:00:00Z'));
    assert.deepEqual(whole.intervals, []);
    assert.match(whole.warnings.join('\n'), /recorded range unknown; nothing planned/);
  });

  it('Uniview recorder: GetRecordingSummary with DataFrom 1970 → from unknown; FindEvents without results → track span fallback', async () => {
    dev = await startFixtureDevice('uniview-recorder');
    const services = dev.services(['search']);
    const sum = await getRecordingSummary(services, ctx());
    assert.equal(sum.from, undefined);
    assert.equal(sum.to?.toISOString(), '2024-12-13T08:08:49.000Z');
    assert.equal(sum.count, 8);
    assert.match(sum.warnings[0], /GetRecordingSummary DataFrom 1970-01-01T00:00:00\.000Z is implausible/);
    const rec = { token: 'rec', tracks: [{ token: 'v', type: 'Video', dataFrom: new Date('2024-12-13T07:00:00Z'), dataTo: new Date('2024-12-13T08:00:00Z') }] };
    const ranges = await findRecordedRanges(services, ctx(), rec, new Date('2024-12-13T00:00:00Z'), new Date('2024-12-14T00:00:00Z'));
    assert.deepEqual(dev.ops.slice(0, 2), ['search.GetRecordingSummary', 'search.FindEvents']);
    assert.ok(dev.ops.includes('search.GetEventSearchResults'), 'the search token from FindEvents was polled');
    assert.deepEqual(ranges.intervals, [{ start: rec.tracks[0].dataFrom, end: rec.tracks[0].dataTo }]);
    assert.equal(ranges.gapsVisible, false);
  });

  it('Profile G recorder (onvif/specs#380): a start-state "no data" event is not the end of an interval', async () => {
    // FindEvents is not in the thread: that one answer is ours.
    dev = await startFixtureDevice('profileg-recorder-specs380', {
      'search.FindEvents':
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tse="http://www.onvif.org/ver10/search/wsdl"><s:Body><tse:FindEventsResponse><tse:SearchToken>e1</tse:SearchToken></tse:FindEventsResponse></s:Body></s:Envelope>',
    });
    const rec = { token: 'REC_1693875846', tracks: [{ token: 'REC_VIDEO_TRACK_1693875846', type: 'Video' }] };
    const r = await findRecordedRanges(dev.services(['search']), ctx(), rec, new Date('2023-09-05T09:00:00Z'), new Date('2023-09-05T10:00:00Z'));
    assert.equal(r.gapsVisible, true);
    assert.deepEqual(r.intervals, [], 'no data at the search start and no later change: nothing recorded');
  });
});
