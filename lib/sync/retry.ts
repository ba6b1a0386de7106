// Capped exponential backoff, for segment retries within a run and for the next attempt after a
// failed run.
import { OnvifError } from '../onvif/errors';

export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Retrying cannot fix wrong credentials or a device that lacks the feature. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof OnvifError) return err.code !== 'auth' && err.code !== 'not-onvif';
  const msg = err instanceof Error ? err.message : String(err);
  return !/auth|401|403|551|not supported|unsupported codec/i.test(msg);
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
