// Capped exponential backoff, for segment retries within a run and for the next attempt after a
// failed run.
import { OnvifError } from '../onvif/errors';
import { ReplayToFilesError } from '../media/replay-types';
import { RtspError } from '../rtsp/errors';
import { VendorError } from '../vendors/errors';

export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Retrying cannot fix wrong credentials or a device that lacks the feature. Decided by the error's
 * kind, never by its text (a message also holds URLs, whose port may read "401").
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof OnvifError) return err.code !== 'auth' && err.code !== 'not-onvif';
  // A rejected or locked vendor login is never retried: the NVR counts it toward a lockout.
  if (err instanceof VendorError) return err.kind !== 'auth' && err.kind !== 'locked' && err.kind !== 'not-vendor';
  if (err instanceof ReplayToFilesError || err instanceof RtspError) return err.kind !== 'auth' && err.kind !== 'unsupported' && err.kind !== 'permanent';
  return true;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
