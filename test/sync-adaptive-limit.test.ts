// Replay sessions per NVR that settle at what the NVR accepts (429/453/503 → 'busy').
import { strict as assert } from 'node:assert';
import { AdaptiveLimit } from '../lib/sync/adaptive-limit';

/** A fake NVR that accepts `accepts` concurrent sessions and refuses more (busy). */
function nvr(accepts: number) {
  let open = 0;
  let peak = 0;
  const session = async (): Promise<void> => {
    if (open >= accepts) throw new Error('busy');
    open++;
    peak = Math.max(peak, open);
    await new Promise<void>((r) => setImmediate(r));
    open--;
  };
  return { session, peak: () => peak };
}

describe('sync: adaptive replay concurrency per NVR', () => {
  it('a one-stream NVR: the limit drops to 1 on the first refusal, is remembered, and later jobs are not refused', async () => {
    const dev = nvr(1);
    const lim = new AdaptiveLimit({ initial: 3, max: 3 });
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => lim.run(dev.session, () => 'busy')));
    const refused = results.filter((r) => r.status === 'rejected').length;
    assert.equal(lim.limit, 1);
    assert.equal(lim.learned, 1);
    assert.ok(refused <= 2, `only the sessions started before the first refusal are refused (${refused})`);
    // Next pass starts from what was learned: nothing refused.
    const next = new AdaptiveLimit({ initial: 3, max: 3, learned: lim.learned });
    const again = await Promise.allSettled(Array.from({ length: 8 }, () => next.run(dev.session, () => 'busy')));
    assert.equal(again.filter((r) => r.status === 'rejected').length, 0);
    assert.equal(dev.peak(), 1);
  });

  it('raises after a run of successes, never above the ceiling learned nor the setting', () => {
    const lim = new AdaptiveLimit({ initial: 1, max: 3, raiseAfter: 2 });
    for (let i = 0; i < 10; i++) {
      void lim.acquire();
      lim.release('ok');
    }
    assert.equal(lim.limit, 3, 'up to the setting');
    void lim.acquire();
    void lim.acquire();
    void lim.acquire();
    lim.release('busy'); // refused while two others ran: the NVR takes 2
    assert.equal(lim.limit, 2);
    assert.equal(lim.learned, 2);
    lim.release('ok');
    lim.release('ok');
    for (let i = 0; i < 10; i++) {
      void lim.acquire();
      lim.release('ok');
    }
    assert.equal(lim.limit, 2, 'not above the ceiling learned');
  });

  it('other failures neither lower nor raise the limit', () => {
    const lim = new AdaptiveLimit({ initial: 2, max: 4, raiseAfter: 1 });
    void lim.acquire();
    lim.release('failed');
    assert.equal(lim.limit, 2);
    assert.equal(lim.learned, undefined);
  });
});
