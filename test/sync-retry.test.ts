import { strict as assert } from 'node:assert';
import { backoffMs, isRetryable } from '../lib/sync/retry';
import { OnvifError } from '../lib/onvif/errors';
import { ReplayToFilesError } from '../lib/media/replay-types';
import { RtspError } from '../lib/rtsp/errors';

describe('sync retries (lib/sync/retry)', () => {
  it('backs off exponentially from the base, capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 1000, 10_000)),
      [1000, 2000, 4000, 8000, 10_000, 10_000],
    );
  });

  it('does not retry what a retry cannot fix: wrong credentials, no replay support, not ONVIF', () => {
    assert.equal(isRetryable(new OnvifError('auth', 'x')), false);
    assert.equal(isRetryable(new OnvifError('not-onvif', 'x')), false);
    assert.equal(isRetryable(new ReplayToFilesError('x', [], 'auth')), false);
    assert.equal(isRetryable(new ReplayToFilesError('x', [], 'unsupported')), false);
    assert.equal(isRetryable(new RtspError('unsupported', 'x')), false);
  });

  it('retries busy, slow or dropped sessions, judging by kind and not by the words of the message', () => {
    // The URL's port reads like an HTTP status: it must not decide anything.
    const busy = new ReplayToFilesError('replay of rtsp://127.0.0.1:40155/replay/REC_1 failed: PLAY 503 Service Unavailable (port 5514031)', [], 'status');
    assert.equal(isRetryable(busy), true);
    assert.equal(isRetryable(new ReplayToFilesError('x', [], 'timeout')), true);
    assert.equal(isRetryable(new ReplayToFilesError('x', [], 'network')), true);
    assert.equal(isRetryable(new OnvifError('timeout', 'x')), true);
  });
});
