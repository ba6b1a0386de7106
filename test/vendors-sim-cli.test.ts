// `vtrack-onvif sim --preset hikvision|dahua --utc-offset …` options.
import { strict as assert } from 'node:assert';
import { optionsFromArgs } from '../lib/cli/sim';
import { parseUtcOffset } from '../lib/sim/vendor-sim';

describe('sim CLI: vendor presets', () => {
  it('takes --preset hikvision / dahua and --utc-offset', () => {
    const o = optionsFromArgs(['--preset', 'dahua', '--utc-offset', '-05:00', '--base-port', '0']);
    assert.equal(o.preset, 'dahua');
    assert.equal(o.vendor?.utcOffsetMin, -300);
    assert.equal(optionsFromArgs(['--preset', 'hikvision']).preset, 'hikvision');
    assert.throws(() => optionsFromArgs(['--preset', 'axis']), /seed, nvr, hikvision or dahua/);
  });

  it('reads UTC offsets in the usual spellings', () => {
    assert.equal(parseUtcOffset('+02:00'), 120);
    assert.equal(parseUtcOffset('-0530'), -330);
    assert.equal(parseUtcOffset('3'), 180);
    assert.throws(() => parseUtcOffset('+15:00'), /out of range/);
    assert.throws(() => parseUtcOffset('CET'), /not a UTC offset/);
  });
});
