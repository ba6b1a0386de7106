// `vtrack-onvif sim --quality low`: every preset camera serves the 360p ~256 kbit/s H.264 clip (for
// many-channel scale runs); without it the presets are unchanged.
import { strict as assert } from 'node:assert';
import { optionsFromArgs } from '../lib/cli/sim';
import { resolveDevices } from '../lib/sim';
import { loadClip } from '../lib/sim/clips';

describe('simulator low-bitrate mode', () => {
  it('--preset nvr --channels 64 --quality low: 64 channels, each 640x360 H.264 from the low clip', () => {
    const o = optionsFromArgs(['--preset', 'nvr', '--channels', '64', '--quality', 'low', '--history-min', '60']);
    assert.equal(o.quality, 'low');
    const cams = resolveDevices(o)[0].cameras;
    assert.equal(cams.length, 64);
    for (const c of cams) assert.deepEqual([c.codec, c.width, c.height, c.clip], ['H264', 640, 360, 'low-360p-h264']);
    assert.equal(new Set(cams.map((c) => c.name)).size, 64, 'channel names stay distinct');
  });

  it('the low clip is 360p H.264 at about 256 kbit/s, keyframe every second', () => {
    const clip = loadClip('low-360p-h264');
    assert.deepEqual([clip.codec, clip.width, clip.height, clip.frames.length], ['H264', 640, 360, 150]);
    const kbit = (clip.frames.reduce((n, f) => n + f.data.length, 0) * 8) / 10 / 1000;
    assert.ok(kbit > 200 && kbit < 320, `${kbit.toFixed(0)} kbit/s`);
    assert.deepEqual(
      clip.frames.map((f, i) => (f.keyframe ? i : -1)).filter((i) => i >= 0),
      [0, 15, 30, 45, 60, 75, 90, 105, 120, 135],
    );
  });

  it('the default stays as it was; an unknown quality is refused', () => {
    const cams = resolveDevices(optionsFromArgs(['--preset', 'nvr'])).flatMap((d) => d.cameras);
    assert.deepEqual(
      cams.map((c) => c.codec),
      ['H264', 'H265', 'MPEG4', 'JPEG'],
    );
    assert.equal(cams[0].width, 1920);
    assert.throws(() => optionsFromArgs(['--quality', 'ultra']), /--quality must be default or low/);
  });
});
