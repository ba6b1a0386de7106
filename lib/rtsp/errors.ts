// Errors of the RTSP client, with a machine-readable kind so callers (sync runner, CLI) can tell
// "wrong password" from "server cannot replay" from "network trouble". Messages never hold credentials.

// 'busy': the server has no session free now (429, 453 Not Enough Bandwidth, 503; one-stream NVRs,
// DESIGN.md §4) — retry later with fewer parallel sessions. 'permanent': any other 4xx (e.g. 457 Invalid Range, 404, 400) —
// the same request will fail again; record it, do not retry it on every pass.
export type RtspErrorKind = 'auth' | 'unsupported' | 'status' | 'timeout' | 'idle' | 'aborted' | 'network' | 'protocol' | 'busy' | 'permanent';

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
