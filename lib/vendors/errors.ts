// Errors of the vendor drivers (Hikvision ISAPI, Dahua HTTP API), with a machine-readable kind so
// the sync runner can tell "wrong password" (never retried: both vendors lock the account) from
// network trouble (retried). Messages never hold credentials.

export type VendorErrorKind =
  /** Wrong user or password: not retried (the NVR locks the account after a few failures). */
  | 'auth'
  /** The NVR says the account (or our address) is locked; `unlockAt` when it says until when. */
  | 'locked'
  | 'timeout'
  | 'unreachable'
  /** The answer is not what the API promises (bad XML, missing fields, too large). */
  | 'protocol'
  /** The device answered with an HTTP error status we do not handle. */
  | 'status'
  /** The device refuses for now: all its download/playback sessions are taken (HTTP 503 or 429, or
   * Hikvision's ResponseStatus statusCode 2 "Device Busy"). Retried with fewer sessions. */
  | 'busy'
  /** The device does not speak this API (404 on its paths). */
  | 'not-vendor'
  | 'aborted';

export const WRONG_PASSWORD = 'wrong password — the NVR locks the account after a few failures';

export class VendorError extends Error {
  constructor(
    readonly kind: VendorErrorKind,
    message: string,
    readonly details: { status?: number; unlockAt?: Date; unlockInSec?: number } = {},
  ) {
    super(message);
    this.name = 'VendorError';
  }
}
