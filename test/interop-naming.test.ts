// Camera names are the NVR's channel names (firmware defaults removed), and recordings are tied to
// cameras by the strongest rule that applies, with the reason.
import { strict as assert } from 'node:assert';
import { cameraName, channelNumber, meaningfulName } from '../lib/onvif/device';
import { mapRecordings } from '../lib/onvif/recording-map';
import type { RecordingInfo } from '../lib/onvif/search';

describe('interop: channel names', () => {
  it('firmware defaults of Dahua, Hikvision, Axis and Milesight are not names', () => {
    for (const n of [
      'VideoSourceConfig_Channel1',
      'MediaProfile_Channel1_MainStream',
      'ProfileName005',
      'VideoSourceConfigurationName005',
      'mainStream',
      'VideoSourceConfig',
      'user0',
      'profile_1 h264',
      'Profile_1',
      'IpCamera_1',
      'Camera 01',
    ]) {
      assert.equal(meaningfulName(n), undefined, n);
    }
  });

  it('what the user typed is kept, without generic suffixes', () => {
    assert.equal(meaningfulName('Front Door_Main'), 'Front Door');
    assert.equal(meaningfulName('Lobby MainStream'), 'Lobby');
    assert.equal(meaningfulName('Channel 1 Front Door'), 'Channel 1 Front Door');
    assert.equal(meaningfulName('Loading Dock Camera'), 'Loading Dock Camera');
  });

  it('priority: recording source name, then video source configuration, then profile; the channel number last', () => {
    const rec = new Map([['vs1', 'Parking North']]);
    assert.equal(cameraName('vs1', 0, ['Gate'], ['Gate_Main'], false, { recordingNames: rec }), 'Parking North');
    assert.equal(cameraName('vs1', 0, ['VideoSourceConfig_Channel1'], ['Gate_Main'], false), 'Gate');
    assert.equal(cameraName('vs9', 8, ['VideoSourceConfig_Channel9'], ['MediaProfile_Channel9_MainStream'], false), 'Channel 9');
    assert.equal(channelNumber(['xyz'], 3), 4, 'position when no name has a number');
  });

  it("a one-channel NVR's camera is named after its channel; a camera's after the device", () => {
    assert.equal(cameraName('vs1', 0, ['VideoSourceConfig_Channel1'], [], true, { deviceName: 'NVR-1', recorder: true }), 'Channel 1');
    assert.equal(cameraName('vs1', 0, ['VideoSourceConfig'], [], true, { deviceName: 'Garden cam' }), 'Garden cam');
    assert.equal(cameraName('vs1', 0, ['Back Yard'], [], true, { deviceName: 'NVR-1', recorder: true }), 'Back Yard');
  });
});

describe('interop: recording ↔ camera mapping', () => {
  const rec = (token: string, o: Partial<RecordingInfo> = {}): RecordingInfo => ({ token, tracks: [], ...o });

  it('source token first; several recordings of one camera → the newest, flagged ambiguous', () => {
    const m = mapRecordings(
      [{ token: 'vs1' }, { token: 'vs2' }],
      [
        rec('old', { sourceId: 'vs1', latest: new Date('2026-01-01T00:00:00Z') }),
        rec('new', { sourceId: 'vs1', latest: new Date('2026-02-01T00:00:00Z') }),
        rec('r2', { sourceId: 'vs2' }),
      ],
    );
    assert.equal(m.get('vs1')?.recording.token, 'new');
    assert.equal(m.get('vs1')?.ambiguous, true);
    assert.match(m.get('vs1')?.reason ?? '', /newest of 2 recordings/);
    assert.equal(m.get('vs2')?.by, 'source-token');
    assert.equal(m.get('vs2')?.ambiguous, false);
  });

  it('a saved choice wins over the SourceId', () => {
    const m = mapRecordings([{ token: 'vs1', savedRecording: 'b' }], [rec('a', { sourceId: 'vs1' }), rec('b')]);
    assert.equal(m.get('vs1')?.recording.token, 'b');
    assert.equal(m.get('vs1')?.by, 'saved');
  });

  it('a foreign SourceId: source name, then address, then track token', () => {
    const m = mapRecordings(
      [
        { token: 'vs1', name: 'Gate' },
        { token: 'vs2', name: 'Yard' },
        { token: 'VideoSource_3', name: 'Shed' },
      ],
      [
        rec('a', { sourceId: 'x1', sourceName: 'gate ' }),
        rec('b', { sourceId: 'x2', sourceAddress: 'rtsp://10.0.0.2/media?source=vs2' }),
        rec('c', { tracks: [{ token: 'VideoSource_3_video', type: 'Video' }] }),
      ],
    );
    assert.deepEqual(
      [...m.entries()].map(([k, v]) => [k, v.recording.token, v.by]),
      [
        ['vs1', 'a', 'source-name'],
        ['vs2', 'b', 'source-address'],
        ['VideoSource_3', 'c', 'track-token'],
      ],
    );
  });

  it('nothing ties them: paired by order only when the counts match, and flagged; otherwise left to the user', () => {
    const two = mapRecordings([{ token: 'a' }, { token: 'b' }], [rec('r1'), rec('r2')]);
    assert.deepEqual(
      [...two.values()].map((c) => [c.recording.token, c.by, c.ambiguous]),
      [
        ['r1', 'order', true],
        ['r2', 'order', true],
      ],
    );
    assert.equal(mapRecordings([{ token: 'a' }, { token: 'b' }], [rec('r1'), rec('r2'), rec('r3')]).size, 0);
  });
});
