// Errors of the RTSP client, with a machine-readable kind so callers (sync runner, CLI) can tell
// "wrong password" from "server cannot replay" from "network trouble". Messages never hold credentials.

export type RtspErrorKind = 'auth' | 'unsupported' | 'status' | 'timeout' | 'idle' | 'aborted' | 'network' | 'protocol';

export class RtspError extends Error {
  constructor(
    readonly kind: RtspErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RtspError';
  }
}
