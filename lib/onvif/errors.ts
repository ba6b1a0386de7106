// One error type for everything that talks to a device, with a machine-readable code, so callers
// (discovery results, node status, sync_status.last_error) can say what went wrong per device.

export type OnvifErrorCode = 'auth' | 'clock-skew' | 'unreachable' | 'timeout' | 'not-onvif' | 'protocol';

export class OnvifError extends Error {
  constructor(
    readonly code: OnvifErrorCode,
    message: string,
    readonly details?: { fault?: string; status?: number },
  ) {
    super(message);
    this.name = 'OnvifError';
  }
}

/** Classify a socket-level failure (ECONNREFUSED, EHOSTUNREACH, ...) into an OnvifError. */
export function fromSocketError(err: NodeJS.ErrnoException, where: string): OnvifError {
  switch (err.code) {
    case 'ETIMEDOUT':
      return new OnvifError('timeout', `${where}: no answer (timed out)`);
    case 'ECONNREFUSED':
      return new OnvifError('unreachable', `${where}: connection refused`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OnvifError('unreachable', `${where}: host unreachable (${err.code})`);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_VERSION':
      return new OnvifError('not-onvif', `${where}: the port answered, but not with HTTP/SOAP (${err.code}); not an ONVIF service`);
    default:
      if (err.code?.startsWith('HPE_')) {
        return new OnvifError('not-onvif', `${where}: the port answered, but not with HTTP/SOAP (${err.code}); not an ONVIF service`);
      }
      return new OnvifError('unreachable', `${where}: ${err.message}`);
  }
}

export { errorMessage } from '../errors';
