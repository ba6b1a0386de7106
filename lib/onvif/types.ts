// The device/camera model that discovery produces and nvr-source / sync consume. Plain JSON:
// it travels in Node-RED messages and the admin route's reply, so it never holds credentials.

export interface VideoProfile {
  token: string;
  name: string;
  /** "H264" | "H265" | "MPEG4" | "JPEG" | other encodings as the device names them. */
  encoding: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps?: number;
}

export interface CameraInfo {
  /** Display name (video source / channel name). */
  name: string;
  /** Video source token: the stable channel id on an NVR. */
  token: string;
  profiles: VideoProfile[];
  /** Discovery with a recording search: this camera's recording and why (lib/onvif/recording-map). */
  recording?: CameraRecording;
}

/** Which recording a camera was mapped to, by which rule, and whether the user should confirm it. */
export interface CameraRecording {
  token: string;
  /** source-token, source-name, source-address, recording-job, track-token, order, only (or saved). */
  by: string;
  reason: string;
  /** Mapped only by order, or several recordings matched: the editor offers a choice. */
  ambiguous: boolean;
}

/** A recording the device lists, as the editor shows it for picking. */
export interface RecordingSummary {
  token: string;
  sourceId?: string;
  sourceName?: string;
  content?: string;
  /** ISO times of the video track's data (or the recording's), when the device says. */
  from?: string;
  to?: string;
}

export interface DeviceServices {
  device: string;
  media?: string;
  media2?: string;
  search?: string;
  recording?: string;
  replay?: string;
  events?: string;
  /** Profile G: search + replay services present. */
  profileG: boolean;
}

export interface DiscoveredDevice {
  /** Endpoint reference (`urn:uuid:...`) when known (WS-Discovery or GetDeviceInformation-less fallback). */
  urn?: string;
  host: string;
  port: number;
  /** Device service address. */
  xaddr: string;
  /** How it was found. */
  via: 'ws-discovery' | 'probe';
  /** Whether it answered like an ONVIF device (false: something else listens on that port). */
  onvif: boolean;
  name?: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  hardware?: string;
  scopes?: string[];
  /** Device clock minus ours, in milliseconds (from GetSystemDateAndTime). */
  clockOffsetMs?: number;
  services?: DeviceServices;
  cameras: CameraInfo[];
  /** The recordings the device lists (with a recording search), for picking one per camera. */
  recordings?: RecordingSummary[];
  /** Per-device problem (auth failed, clock skew, unreachable, not ONVIF ...). */
  error?: string;
  /** Not ONVIF, but this vendor's own HTTP API answers on the port (asked without a login): sync
   * it with that driver. */
  vendorApi?: 'hikvision' | 'dahua';
  /** Machine-readable kind of `error`. */
  errorCode?: 'auth' | 'clock-skew' | 'unreachable' | 'timeout' | 'not-onvif' | 'protocol';
}
