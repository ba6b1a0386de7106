// Settings and credentials of the nvr-source node (shared by its runtime and tests).
import type { Node, NodeDef } from 'node-red';
import type { UserPassword } from '../../lib/credentials';
import type { CameraRecording } from '../../lib/onvif/types';

/** A camera ticked in the editor's grid (display fields let the grid redraw without discovery). */
export interface ChosenCamera {
  port: number;
  token: string;
  name: string;
  codec?: string;
  width?: number;
  height?: number;
  fps?: number;
  /** The recording the user picked for this camera (where the automatic mapping was a guess); absent: automatic. */
  recording?: string;
  /** Display only (the grid redraws without discovery): the automatic mapping and the device's recordings. */
  mapped?: CameraRecording;
  candidates?: Array<{ token: string; label: string }>;
}

export type NvrSourceCredentials = UserPassword;

export type NvrSourceNode = Node<NvrSourceCredentials>;

export interface NvrSourceDef extends NodeDef {
  host: string;
  /** "80", "18000-18002", "8000,8001". */
  ports: string;
  selection: 'all' | 'chosen';
  cameras: ChosenCamera[];
  /** Empty: <userDir>/nvr_downloads/<source name> (or /media/vtrack/<source name> in Home Assistant). */
  workdir: string;
  interval: number | string;
  /** The nvr-archive config node's id; empty: the default archive (see dbPath). */
  archive?: string;
  /**
   * Only read without an archive (flows saved by 0.1.0): the database of the implicit default
   * archive. Empty: <userDir>/vtrack-onvif.db; relative paths are against the user directory.
   */
  dbPath?: string;
  /** Discovery timeout, ms. */
  timeout?: number | string;
  /** How recordings are reached: auto (ONVIF with Profile G, else Hikvision ISAPI, else Dahua),
   * onvif, hikvision or dahua. Absent (nodes saved before this setting): onvif. */
  driver?: 'auto' | 'onvif' | 'hikvision' | 'dahua';
  /** https devices: accept a self-signed certificate (off by default: it cannot prove the device is the NVR). */
  acceptSelfSigned?: boolean;
  /** Answer a device that offers only HTTP/RTSP Basic authentication (off by default: the password crosses the network in clear text). */
  allowBasicAuth?: boolean;
}
