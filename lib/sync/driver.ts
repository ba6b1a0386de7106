// The driver interface: what the sync engine needs from a source, whatever protocol reaches its
// recordings. Three drivers: ONVIF Profile G (SOAP search + RTSP replay, driver-onvif.ts), Hikvision
// ISAPI and Dahua HTTP API (lib/vendors). The planner, coverage, retries, retention, catalog and
// file messages stay one; `video_sources.driver` records which driver a source uses.
import type { Credentials } from '../onvif/soap';
import type { WrittenFile, ReplayProgress } from '../media/replay-types';
import type { ReplayTimeouts } from '../rtsp/replay-session';
import type { VideoCodec } from '../rtsp/sdp';
import type { TimeRange } from '../time/range';
import type { DiscoveredDevice } from '../onvif/types';

export const DRIVER_NAMES = ['onvif', 'hikvision', 'dahua'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export function isDriverName(s: string): s is DriverName {
  return (DRIVER_NAMES as readonly string[]).includes(s);
}

/** A camera's recording as the driver finds it. */
export interface DriverRecording {
  /** Stored with each file (downloaded_files.recording_token). */
  token: string;
  /** First recorded instant the device claims (an "everything" first sync starts there). */
  earliest?: Date;
}

export interface DriverDownloadOptions {
  from: Date;
  to: Date;
  /** Replay as fast as the device sends (ONVIF: Rate-Control: no). */
  fast: boolean;
  timeouts?: ReplayTimeouts;
  signal?: AbortSignal;
  finalPath(start: Date, end: Date, codec: VideoCodec): string;
  onProgress?(p: ReplayProgress): void;
}

/** One device port of a source, opened once per pass. */
export interface SourceSession {
  readonly driver: DriverName;
  /** The device's idea of UTC minus ours, ms: plans are made in device time. */
  readonly clockOffsetMs: number;
  /** The device's recording of a catalogued camera, if it has one. */
  recordingFor(camera: { videoSourceToken: string; displayName: string; recordingToken: string | null }, camerasOnPort: number): DriverRecording | undefined;
  /** Recorded intervals of that recording overlapping [from, to), sorted. */
  recordedIntervals(rec: DriverRecording, from: Date, to: Date): Promise<TimeRange[]>;
  /** [from, to) into files; rejects with ReplayToFilesError (files finished before the failure in
   * `completed`). */
  download(rec: DriverRecording, o: DriverDownloadOptions): Promise<WrittenFile[]>;
}

export interface OpenOptions {
  host: string;
  port: number;
  credentials?: Credentials;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SyncDriver {
  readonly name: DriverName;
  open(o: OpenOptions): Promise<SourceSession>;
}

/** What `describe` gives: the device with its cameras (channel names), for saving a source. */
export type DescribedDevice = DiscoveredDevice & { driver: DriverName };
