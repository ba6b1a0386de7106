// The driver interface: what the sync engine needs from a source, whatever protocol reaches its
// recordings. Three drivers: ONVIF Profile G (SOAP search + RTSP replay, driver-onvif.ts), Hikvision
// ISAPI and Dahua HTTP API (lib/vendors). The planner, coverage, retries, retention, catalog and
// file messages stay one; `video_sources.driver` records which driver a source uses.
import type { Credentials } from '../credentials';
import type { WrittenFile, ReplayToFilesOptions } from '../media/replay-types';
import type { TimeRange } from '../time/range';
import type { CameraRow } from '../catalog';

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

/** Which recording is a camera's, and why (ONVIF maps recordings to cameras by several rules). */
export interface DriverRecordingChoice {
  recording: DriverRecording;
  reason: string;
  /** The match may be wrong (several candidates, or by order only): the user should confirm. */
  ambiguous: boolean;
}

/** Recorded spans of a recording over a window. */
export interface DriverRanges {
  intervals: TimeRange[];
  /** false: the device cannot tell gaps (its whole span is listed as recorded). */
  gapsVisible: boolean;
  /** The search did not complete: spans may be missing this pass. */
  partial: boolean;
}

/** What a driver needs of a catalogued camera to find its recording. */
export type CameraRef = Pick<CameraRow, 'videoSourceToken' | 'displayName' | 'recordingToken'> & Partial<Pick<CameraRow, 'profileToken'>>;

/** A download as the runner asks any driver for it: replayToFiles's range, naming, bounds and
 * progress (a vendor driver ignores what its API has no use for). */
export interface DriverDownloadOptions extends Pick<
  ReplayToFilesOptions,
  'from' | 'to' | 'naming' | 'timeouts' | 'coverageToleranceMs' | 'signal' | 'onProgress'
> {
  /** Replay as fast as the device sends (ONVIF: Rate-Control: no). */
  fast: boolean;
}

/** One device port of a source, opened once per pass. */
export interface SourceSession {
  readonly driver: DriverName;
  /** The device's idea of UTC minus ours, ms: plans are made in device time. */
  readonly clockOffsetMs: number;
  /** Device answers worked around (for warning events). */
  readonly warnings: string[];
  /** The device's recording list is incomplete this pass. */
  readonly searchPartial: boolean;
  /** The device's recording of a catalogued camera (given the port's other cameras), if it has one. */
  recordingChoice(camera: CameraRef, camerasOnPort: number | readonly CameraRef[]): DriverRecordingChoice | undefined;
  /** Recorded spans of that recording overlapping [from, to), sorted. */
  recordedRanges(rec: DriverRecording, from: Date, to: Date): Promise<DriverRanges>;
  /** [from, to) into files; rejects with ReplayToFilesError (files finished before the failure in
   * `completed`). */
  download(rec: DriverRecording, o: DriverDownloadOptions): Promise<WrittenFile[]>;
}

export interface OpenOptions {
  host: string;
  port: number;
  credentials?: Credentials;
  /** https: accept the device's self-signed certificate (the source's opt-in). */
  acceptSelfSigned?: boolean;
  /** Video source and profile tokens of the catalogued cameras on this port (tells a foreign SourceId). */
  sourceTokens?: readonly string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SyncDriver {
  readonly name: DriverName;
  open(o: OpenOptions): Promise<SourceSession>;
}
