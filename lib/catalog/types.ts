// Row and input types of the catalog. Rows are plain JSON (times as ISO-8601 UTC strings, which
// sort in time order) so they can travel in Node-RED messages. No type here holds a credential:
// the database has no column for one. The file shape it records is the writer's (WrittenFile).
import type { WrittenFile } from '../media/replay-types';

/** ISO-8601 UTC timestamp as produced by `Date.prototype.toISOString()`. */
export type IsoTime = string;

/** A time given to the catalog: a Date or any string `new Date()` understands. */
export type TimeInput = Date | string;

export interface VideoSourceRow {
  id: number;
  /** Node-RED id of the nvr-source node that holds this source's credentials. */
  nodeId: string | null;
  name: string;
  type: 'nvr';
  host: string;
  /** Device service ports on `host` (a real NVR has one; the seed's simulator spans several). */
  ports: number[];
  deviceUrn: string | null;
  workingDirectory: string;
  /** How recordings are reached: 'onvif' (Profile G), or a vendor API driver. */
  driver: string;
  /** false = its node is gone or disabled: kept with its files, not synced. */
  active: boolean;
  createdAt: IsoTime;
  updatedAt: IsoTime;
}

export interface CameraRow {
  id: number;
  sourceId: number;
  displayName: string;
  /** Which of the source's ports hosts the camera. */
  devicePort: number;
  videoSourceToken: string;
  profileToken: string;
  recordingToken: string | null;
  codec: string;
  width: number;
  height: number;
  fps: number;
  /** Absolute folder that receives this camera's files. */
  folderPath: string;
  enabled: boolean;
}

export interface SyncStatusRow {
  sourceId: number;
  /** null for the source-level row. */
  cameraId: number | null;
  enabled: boolean;
  intervalMinutes: number;
  lastRunAt: IsoTime | null;
  lastSuccessAt: IsoTime | null;
  /** Everything recorded before this point has been fetched. */
  lastSyncedUntil: IsoTime | null;
  consecutiveFailures: number;
  lastError: string | null;
  nextAttemptAt: IsoTime | null;
  /** Learned: parallel replay sessions the NVR accepts (null = not learned yet). */
  maxSessions: number | null;
  /** Learned: the NVR's replay speed, media seconds per wall second (null = not measured). */
  replaySpeedX: number | null;
}

/** done: on disk and held; deleted: removed by retention (still counts as held, never fetched
 * again by a timer pass); missing: found gone or cut short (fetched again when re-fetch is on). */
export type DownloadStatus = 'done' | 'deleted' | 'missing';

/** A file as catalogued: what was recorded (DownloadInput) with its times as ISO strings. */
export interface DownloadedFileRow extends Omit<DownloadInput, 'start' | 'end'> {
  id: number;
  startTime: IsoTime;
  endTime: IsoTime;
  status: DownloadStatus;
  createdAt: IsoTime;
}

/** What a retention pass reads of a file on disk (status done). */
export interface RetentionFileRow {
  id: number;
  endTime: IsoTime;
  bytes: number;
  path: string;
}

/** A camera as a save gives it: the row without what the catalog assigns (id, source, enabled). */
export interface CameraInput extends Omit<CameraRow, 'id' | 'sourceId' | 'enabled' | 'recordingToken'> {
  /** The recording the user picked or the mapping chose (null/absent: none known). */
  recordingToken?: string | null;
}

export interface SourceInput {
  nodeId?: string | null;
  name: string;
  host: string;
  ports: number[];
  deviceUrn?: string | null;
  workingDirectory: string;
  /** How recordings are reached ('onvif', 'hikvision', 'dahua'); default 'onvif' for new rows, unchanged otherwise. */
  driver?: string;
  /** Sync interval for the source and its cameras; default 10 for new rows, unchanged otherwise. */
  intervalMinutes?: number;
  /** Source-level sync switch; default true for new rows, unchanged otherwise. */
  syncEnabled?: boolean;
  /** The selected cameras. Saved cameras missing here are disabled, never deleted. */
  cameras: CameraInput[];
}

export interface SaveOptions {
  /**
   * Let this save take over a source name currently owned by another node id (for example after
   * the owning node was deleted from the flow). Without it, that case throws SourceNameTakenError.
   */
  adoptName?: boolean;
}

export interface SavedSource extends VideoSourceRow {
  /** Every camera of the source, enabled and disabled, ordered by port then token. */
  cameras: CameraRow[];
  sync: SyncStatusRow;
  /** False when the save found everything already as given (nothing written). */
  changed: boolean;
}

export interface SyncStatusPatch {
  enabled?: boolean;
  intervalMinutes?: number;
  lastRunAt?: TimeInput | null;
  lastSuccessAt?: TimeInput | null;
  lastSyncedUntil?: TimeInput | null;
  consecutiveFailures?: number;
  lastError?: string | null;
  nextAttemptAt?: TimeInput | null;
  maxSessions?: number | null;
  replaySpeedX?: number | null;
}

/** A range the NVR would not replay: it ended replays at `start` `attempts` times. */
export interface AbsentSpanRow {
  id: number;
  cameraId: number;
  startTime: IsoTime;
  endTime: IsoTime;
  attempts: number;
  confirmed: boolean;
  reason: string;
  /** A confirmed span is planned again from this instant (null = never). */
  recheckAt: IsoTime | null;
  /** Times it was planned again after being confirmed (the back-off doubles each time). */
  rechecks: number;
}

/** A written file (lib/media WrittenFile) to catalogue for a camera and the recording it came from. */
export interface DownloadInput extends Pick<WrittenFile, 'path' | 'bytes' | 'frames' | 'width' | 'height'> {
  cameraId: number;
  recordingToken: string;
  start: TimeInput;
  end: TimeInput;
  codec: string;
}

export interface ListDownloadsOptions {
  status?: DownloadStatus;
}

/** processing_config.camera_paths: camera key → absolute folder. */
export type CameraPaths = Record<string, string>;
