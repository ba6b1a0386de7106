// Shared shapes of the simulator: what a simulated device and its cameras are. The SOAP services
// (lib/sim/soap-*), the WS-Discovery responder and the RTSP server all read these.

export type SimCodec = 'H264' | 'H265' | 'MPEG4' | 'JPEG';

/** When a camera records: from `start` on, growing with the clock; optionally motion-style gaps. */
export interface TimelineSpec {
  /** First instant with data. */
  start: Date;
  /** Last instant with data; absent = still recording (data up to "now"). */
  end?: Date;
  /** Motion-style recording: `onSec` of data, then `offSec` without, repeating from `start`. */
  gaps?: { onSec: number; offSec: number };
}

export interface SimCameraSpec {
  /** Display name, e.g. "Front Door Camera". */
  name: string;
  codec: SimCodec;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  /** Clip id under assets/clips (without extension) or an absolute path to an elementary stream. */
  clip: string;
  recording: TimelineSpec;
}

export interface SimDeviceSpec {
  /** Friendly name (ONVIF scope onvif://www.onvif.org/name/...). */
  name: string;
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  hardware: string;
  location: string;
  /** Stable endpoint reference, `urn:uuid:...`. */
  urn: string;
  /** HTTP (SOAP) port; 0 = any free port. */
  port: number;
  /** RTSP port; 0 = any free port. */
  rtspPort: number;
  cameras: SimCameraSpec[];
}

export interface SimAuth {
  user: string;
  password: string;
}
