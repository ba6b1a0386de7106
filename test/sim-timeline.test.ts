import { strict as assert } from 'node:assert';
import { RecordingTimeline } from '../lib/sim/timeline';

describe('simulated recording timeline', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const at = (sec: number) => new Date(t0.getTime() + sec * 1000);

  it('is one interval from start to now when recording continuously', () => {
    const tl = new RecordingTimeline({ start: t0 }, () => at(600));
    assert.deepEqual(tl.intervals(), [{ start: t0, end: at(600) }]);
    assert.equal(tl.dataTo().getTime(), at(600).getTime());
  });

  it('repeats on/off periods anchored at the start, clipped to the asked range', () => {
    const tl = new RecordingTimeline({ start: t0, gaps: { onSec: 240, offSec: 120 } }, () => at(1000));
    assert.deepEqual(
      tl.intervals(at(100), at(800)).map((i) => [i.start.getTime(), i.end.getTime()]),
      [
        [at(100).getTime(), at(240).getTime()],
        [at(360).getTime(), at(600).getTime()],
        [at(720).getTime(), at(800).getTime()],
      ],
    );
    assert.equal(tl.has(at(300)), false);
    assert.equal(tl.has(at(400)), true);
  });

  it('ends data at the last period before now, also in a gap and for a recording years old', () => {
    const inGap = new RecordingTimeline({ start: t0, gaps: { onSec: 240, offSec: 120 } }, () => at(300));
    assert.equal(inGap.dataTo().getTime(), at(240).getTime());
    const old = new RecordingTimeline({ start: t0, gaps: { onSec: 240, offSec: 120 } }, () => at(3 * 365 * 86400 + 60));
    const t = Date.now();
    assert.equal(old.dataTo().getTime(), at(3 * 365 * 86400 + 60).getTime());
    assert.ok(Date.now() - t < 50, 'constant time');
  });

  it('stops at a fixed end', () => {
    const tl = new RecordingTimeline({ start: t0, end: at(100) }, () => at(500));
    assert.equal(tl.dataTo().getTime(), at(100).getTime());
    assert.deepEqual(tl.intervals(at(50), at(400)), [{ start: at(50), end: at(100) }]);
  });
});
