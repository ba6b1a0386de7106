// The catalog: saved NVR sources, their cameras, sync progress and downloaded files, in one
// SQLite file. Every multi-row change runs in one transaction, so a failure leaves nothing
// half-saved. Credentials are never stored (there is no column for them).
import type Database from 'better-sqlite3';
import * as path from 'node:path';
import { startBackgroundCheckpoints, type BackgroundCheckpoints } from './checkpointer';
import { CatalogError, SourceNameTakenError } from './errors';
import { openDatabase } from './open';
import type { TimeRange } from '../time/range';
import type {
  AbsentSpanRow,
  CameraInput,
  CameraPaths,
  CameraRow,
  DownloadInput,
  DownloadedFileRow,
  DownloadStatus,
  IsoTime,
  RetentionFileRow,
  ListDownloadsOptions,
  SavedSource,
  SaveOptions,
  SourceInput,
  SyncStatusPatch,
  SyncStatusRow,
  TimeInput,
  VideoSourceRow,
} from './types';

const DEFAULT_INTERVAL_MINUTES = 10;

// Raw row shapes as SQLite returns them.
interface SourceRecord {
  id: number;
  node_id: string | null;
  name: string;
  type: string;
  host: string;
  ports: string;
  device_urn: string | null;
  working_directory: string;
  driver: string;
  active: number;
  created_at: string;
  updated_at: string;
}
interface CameraRecord {
  id: number;
  source_id: number;
  display_name: string;
  device_port: number;
  video_source_token: string;
  profile_token: string;
  recording_token: string | null;
  codec: string;
  width: number;
  height: number;
  fps: number;
  folder_path: string;
  enabled: number;
}
interface SyncRecord {
  source_id: number;
  camera_id: number | null;
  enabled: number;
  interval_minutes: number;
  last_run_at: string | null;
  last_success_at: string | null;
  last_synced_until: string | null;
  consecutive_failures: number;
  last_error: string | null;
  next_attempt_at: string | null;
  max_sessions: number | null;
  replay_speed_x: number | null;
}
interface AbsentRecord {
  id: number;
  camera_id: number;
  start_time: string;
  end_time: string;
  attempts: number;
  confirmed: number;
  reason: string;
  recheck_at: string | null;
  rechecks: number;
}
interface DownloadRecord {
  id: number;
  camera_id: number;
  recording_token: string;
  start_time: string;
  end_time: string;
  path: string;
  bytes: number;
  codec: string;
  frames: number;
  width: number;
  height: number;
  status: DownloadStatus;
  created_at: string;
}

function toSource(r: SourceRecord): VideoSourceRow {
  return {
    id: r.id,
    nodeId: r.node_id,
    name: r.name,
    type: 'nvr',
    host: r.host,
    ports: JSON.parse(r.ports) as number[],
    deviceUrn: r.device_urn,
    workingDirectory: r.working_directory,
    driver: r.driver,
    active: r.active === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
function toCamera(r: CameraRecord): CameraRow {
  return {
    id: r.id,
    sourceId: r.source_id,
    displayName: r.display_name,
    devicePort: r.device_port,
    videoSourceToken: r.video_source_token,
    profileToken: r.profile_token,
    recordingToken: r.recording_token,
    codec: r.codec,
    width: r.width,
    height: r.height,
    fps: r.fps,
    folderPath: r.folder_path,
    enabled: r.enabled === 1,
  };
}
function toSync(r: SyncRecord): SyncStatusRow {
  return {
    sourceId: r.source_id,
    cameraId: r.camera_id,
    enabled: r.enabled === 1,
    intervalMinutes: r.interval_minutes,
    lastRunAt: r.last_run_at,
    lastSuccessAt: r.last_success_at,
    lastSyncedUntil: r.last_synced_until,
    consecutiveFailures: r.consecutive_failures,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    maxSessions: r.max_sessions,
    replaySpeedX: r.replay_speed_x,
  };
}
function toAbsent(r: AbsentRecord): AbsentSpanRow {
  return {
    id: r.id,
    cameraId: r.camera_id,
    startTime: r.start_time,
    endTime: r.end_time,
    attempts: r.attempts,
    confirmed: r.confirmed === 1,
    reason: r.reason,
    recheckAt: r.recheck_at,
    rechecks: r.rechecks,
  };
}
/** A file's columns as the INSERT and UPDATE statements name them. */
function downloadColumns(row: DownloadInput) {
  return {
    camera_id: row.cameraId,
    recording_token: row.recordingToken,
    start_time: isoTime(row.start, 'start'),
    end_time: isoTime(row.end, 'end'),
    path: row.path,
    bytes: row.bytes,
    codec: row.codec,
    frames: row.frames,
    width: row.width,
    height: row.height,
  };
}
const toRange = (r: { start_time: string; end_time: string }): TimeRange => ({ start: new Date(r.start_time), end: new Date(r.end_time) });
const mapDefined = <T, U>(v: T | undefined, f: (v: T) => U): U | undefined => (v === undefined ? undefined : f(v));

function toDownload(r: DownloadRecord): DownloadedFileRow {
  return {
    id: r.id,
    cameraId: r.camera_id,
    recordingToken: r.recording_token,
    startTime: r.start_time,
    endTime: r.end_time,
    path: r.path,
    bytes: r.bytes,
    codec: r.codec,
    frames: r.frames,
    width: r.width,
    height: r.height,
    status: r.status,
    createdAt: r.created_at,
  };
}

/** Normalises a time to the one ISO form we store, so string order is time order. */
export function isoTime(t: TimeInput, what = 'time'): IsoTime {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) throw new CatalogError('invalid-input', `${what} is not a valid time: ${String(t)}`);
  return d.toISOString();
}
function isoOrNull(t: TimeInput | null | undefined, what: string): IsoTime | null {
  return t === null || t === undefined ? null : isoTime(t, what);
}

function cameraKey(port: number, token: string): string {
  return `${port}\u0000${token}`;
}

function invalid(message: string): CatalogError {
  return new CatalogError('invalid-input', message);
}

function validateSourceInput(input: SourceInput): void {
  if (typeof input.name !== 'string' || input.name.trim() === '') throw invalid('source name is empty');
  if (typeof input.host !== 'string' || input.host.trim() === '') throw invalid(`source "${input.name}": host is empty`);
  if (!Array.isArray(input.ports) || input.ports.length === 0) throw invalid(`source "${input.name}": no ports`);
  for (const p of input.ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw invalid(`source "${input.name}": port ${String(p)} is not in 1-65535`);
  }
  if (!path.isAbsolute(input.workingDirectory)) {
    throw invalid(`source "${input.name}": working directory ${input.workingDirectory} is not absolute`);
  }
  if (input.driver !== undefined && !['onvif', 'hikvision', 'dahua'].includes(input.driver)) {
    throw invalid(`source "${input.name}": unknown driver "${input.driver}" (onvif, hikvision or dahua)`);
  }
  if (input.intervalMinutes !== undefined && !(input.intervalMinutes > 0)) {
    throw invalid(`source "${input.name}": interval must be a positive number of minutes`);
  }
  const seen = new Set<string>();
  for (const c of input.cameras) {
    if (!input.ports.includes(c.devicePort)) {
      throw invalid(`camera "${c.displayName}": port ${c.devicePort} is not one of the source's ports`);
    }
    if (!c.videoSourceToken) throw invalid(`camera "${c.displayName}": video source token is empty`);
    const key = cameraKey(c.devicePort, c.videoSourceToken);
    if (seen.has(key)) throw invalid(`camera "${c.displayName}" (port ${c.devicePort}, ${c.videoSourceToken}) is listed twice`);
    seen.add(key);
    if (!path.isAbsolute(c.folderPath)) throw invalid(`camera "${c.displayName}": folder ${c.folderPath} is not absolute`);
  }
}

function sameCamera(r: CameraRecord, c: CameraInput): boolean {
  return (
    r.display_name === c.displayName &&
    r.profile_token === c.profileToken &&
    r.recording_token === (c.recordingToken ?? null) &&
    r.codec === c.codec &&
    r.width === c.width &&
    r.height === c.height &&
    r.fps === c.fps &&
    r.folder_path === c.folderPath &&
    r.enabled === 1
  );
}

/** An enabled camera as camera_paths keys it: its row's name, place and folder, and its source's name. */
type CameraPathRow = Pick<CameraRow, 'displayName' | 'devicePort' | 'videoSourceToken' | 'folderPath'> & { sourceName: string };

/**
 * processing_config.camera_paths: camera display name → folder, over the enabled cameras of all
 * sources. A name used by more than one camera is keyed "<source> / <camera>"; if that still
 * collides (same name twice in one source) " [<port>/<token>]" is appended.
 */
export function buildCameraPaths(rows: ReadonlyArray<CameraPathRow>): CameraPaths {
  const count = (keys: string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return m;
  };
  const byName = count(rows.map((r) => r.displayName));
  const firstKeys = rows.map((r) => ((byName.get(r.displayName) ?? 0) > 1 ? `${r.sourceName} / ${r.displayName}` : r.displayName));
  const byFirst = count(firstKeys);
  const out: CameraPaths = {};
  rows.forEach((r, i) => {
    const k = (byFirst.get(firstKeys[i]) ?? 0) > 1 ? `${firstKeys[i]} [${r.devicePort}/${r.videoSourceToken}]` : firstKeys[i];
    out[k] = r.folderPath;
  });
  return out;
}

export class Catalog {
  private readonly db: Database.Database;
  /** Absolute path of the database file. */
  readonly file: string;

  /** Whether opening ran the full integrity check (after an unclean shutdown or before a migration). */
  readonly integrityChecked: boolean;

  constructor(file: string) {
    const opened = openDatabase(file);
    this.db = opened.db;
    this.file = opened.file;
    this.integrityChecked = opened.integrityChecked;
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Each SQL text is compiled once per connection: sync passes run the same few queries per
   * segment and camera (heldRanges, getSyncStatus...), and better-sqlite3 statements are reusable. */
  private readonly statements = new Map<string, Database.Statement>();
  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  // ---- sources -------------------------------------------------------------------------------

  getSource(id: number): VideoSourceRow | undefined {
    const r = this.prepare('SELECT * FROM video_sources WHERE id = ?').get(id) as SourceRecord | undefined;
    return r && toSource(r);
  }

  getSourceByName(name: string): VideoSourceRow | undefined {
    const r = this.prepare('SELECT * FROM video_sources WHERE name = ?').get(name) as SourceRecord | undefined;
    return r && toSource(r);
  }

  getSourceByNodeId(nodeId: string): VideoSourceRow | undefined {
    const r = this.prepare('SELECT * FROM video_sources WHERE node_id = ?').get(nodeId) as SourceRecord | undefined;
    return r && toSource(r);
  }

  listSources(): VideoSourceRow[] {
    return (this.prepare('SELECT * FROM video_sources ORDER BY name').all() as SourceRecord[]).map(toSource);
  }

  /** A source with all its cameras and its source-level sync row (`changed` is false). */
  getSavedSource(id: number): SavedSource | undefined {
    const source = this.getSource(id);
    if (!source) return undefined;
    const sync = this.getSyncStatus(id);
    if (!sync) throw new CatalogError('not-found', `source ${id} has no sync status row`);
    return { ...source, cameras: this.listCameras(id), sync, changed: false };
  }

  /**
   * Upserts a source (found by node id, else by name) and its cameras (by port + video source
   * token); saved cameras not in `input.cameras` are disabled, their rows and files kept. Creates
   * or updates the sync_status rows and processing_config.camera_paths. One transaction.
   */
  saveSource(input: SourceInput, options: SaveOptions = {}): SavedSource {
    validateSourceInput(input);
    const run = this.db.transaction((): { id: number; changed: boolean } => {
      const now = new Date().toISOString();
      const nodeId = input.nodeId ?? null;
      let existing = nodeId ? (this.prepare('SELECT * FROM video_sources WHERE node_id = ?').get(nodeId) as SourceRecord | undefined) : undefined;
      const named = this.prepare('SELECT * FROM video_sources WHERE name = ?').get(input.name) as SourceRecord | undefined;
      if (named && existing && named.id !== existing.id) throw new SourceNameTakenError(input.name, named.node_id);
      if (named && !existing) {
        if (named.node_id && nodeId && named.node_id !== nodeId && !options.adoptName) {
          throw new SourceNameTakenError(input.name, named.node_id);
        }
        existing = named;
      }

      const fields = {
        node_id: nodeId ?? existing?.node_id ?? null,
        name: input.name,
        host: input.host,
        ports: JSON.stringify(input.ports),
        device_urn: input.deviceUrn ?? null,
        working_directory: input.workingDirectory,
        driver: input.driver ?? existing?.driver ?? 'onvif',
      };
      let changed = false;
      let sourceId: number;
      if (!existing) {
        const info = this.prepare(
          `INSERT INTO video_sources(node_id, name, type, host, ports, device_urn, working_directory, driver, created_at, updated_at)
           VALUES (@node_id, @name, 'nvr', @host, @ports, @device_urn, @working_directory, @driver, @now, @now)`,
        ).run({ ...fields, now });
        sourceId = Number(info.lastInsertRowid);
        changed = true;
      } else {
        sourceId = existing.id;
        const e = existing;
        const differs = (Object.keys(fields) as Array<keyof typeof fields>).some((k) => e[k] !== fields[k]);
        if (differs) {
          this.prepare(
            `UPDATE video_sources SET node_id = @node_id, name = @name, host = @host, ports = @ports,
             device_urn = @device_urn, working_directory = @working_directory, driver = @driver WHERE id = @id`,
          ).run({ ...fields, id: sourceId });
          changed = true;
        }
      }

      if (this.saveCameras(sourceId, input.cameras)) changed = true;
      if (this.saveSyncRows(sourceId, input)) changed = true;
      if (changed) this.prepare('UPDATE video_sources SET updated_at = ? WHERE id = ?').run(now, sourceId);
      this.refreshCameraPaths();
      return { id: sourceId, changed };
    });
    const { id, changed } = run.immediate();
    const saved = this.getSavedSource(id);
    if (!saved) throw new CatalogError('not-found', `source ${id} vanished after saving`);
    return { ...saved, changed };
  }

  private saveCameras(sourceId: number, cameras: CameraInput[]): boolean {
    const rows = this.prepare('SELECT * FROM camera_configurations WHERE source_id = ?').all(sourceId) as CameraRecord[];
    const byKey = new Map(rows.map((r) => [cameraKey(r.device_port, r.video_source_token), r]));
    const insert = this.prepare(
      `INSERT INTO camera_configurations(source_id, display_name, device_port, video_source_token, profile_token,
         recording_token, codec, width, height, fps, folder_path, enabled)
       VALUES (@source_id, @display_name, @device_port, @video_source_token, @profile_token,
         @recording_token, @codec, @width, @height, @fps, @folder_path, 1)`,
    );
    const update = this.prepare(
      `UPDATE camera_configurations SET display_name = @display_name, profile_token = @profile_token,
         recording_token = @recording_token, codec = @codec, width = @width, height = @height, fps = @fps,
         folder_path = @folder_path, enabled = 1 WHERE id = @id`,
    );
    let changed = false;
    const keep = new Set<string>();
    for (const c of cameras) {
      const key = cameraKey(c.devicePort, c.videoSourceToken);
      keep.add(key);
      const params = {
        source_id: sourceId,
        display_name: c.displayName,
        device_port: c.devicePort,
        video_source_token: c.videoSourceToken,
        profile_token: c.profileToken,
        recording_token: c.recordingToken ?? null,
        codec: c.codec,
        width: c.width,
        height: c.height,
        fps: c.fps,
        folder_path: c.folderPath,
      };
      const row = byKey.get(key);
      if (!row) {
        insert.run(params);
        changed = true;
      } else if (!sameCamera(row, c)) {
        update.run({ ...params, id: row.id });
        changed = true;
      }
    }
    const disable = this.prepare('UPDATE camera_configurations SET enabled = 0 WHERE id = ?');
    for (const r of rows) {
      if (!keep.has(cameraKey(r.device_port, r.video_source_token)) && r.enabled === 1) {
        disable.run(r.id);
        changed = true;
      }
    }
    return changed;
  }

  private saveSyncRows(sourceId: number, input: SourceInput): boolean {
    let changed = false;
    const sourceRow = this.prepare('SELECT * FROM sync_status WHERE source_id = ? AND camera_id IS NULL').get(sourceId) as SyncRecord | undefined;
    let interval: number;
    if (!sourceRow) {
      interval = input.intervalMinutes ?? DEFAULT_INTERVAL_MINUTES;
      this.prepare('INSERT INTO sync_status(source_id, camera_id, enabled, interval_minutes) VALUES (?, NULL, ?, ?)').run(
        sourceId,
        input.syncEnabled === false ? 0 : 1,
        interval,
      );
      changed = true;
    } else {
      interval = input.intervalMinutes ?? sourceRow.interval_minutes;
      const enabled = input.syncEnabled === undefined ? sourceRow.enabled : input.syncEnabled ? 1 : 0;
      if (interval !== sourceRow.interval_minutes || enabled !== sourceRow.enabled) {
        this.prepare('UPDATE sync_status SET interval_minutes = ?, enabled = ? WHERE source_id = ? AND camera_id IS NULL').run(interval, enabled, sourceId);
        changed = true;
      }
    }
    // Camera rows follow the camera's enabled flag and the source's interval.
    const cams = this.prepare(
      `SELECT c.id, c.enabled AS cam_enabled, s.enabled AS sync_enabled, s.interval_minutes
       FROM camera_configurations c LEFT JOIN sync_status s ON s.source_id = c.source_id AND s.camera_id = c.id
       WHERE c.source_id = ?`,
    ).all(sourceId) as Array<{ id: number; cam_enabled: number; sync_enabled: number | null; interval_minutes: number | null }>;
    for (const c of cams) {
      if (c.sync_enabled === null) {
        this.prepare('INSERT INTO sync_status(source_id, camera_id, enabled, interval_minutes) VALUES (?, ?, ?, ?)').run(
          sourceId,
          c.id,
          c.cam_enabled,
          interval,
        );
        changed = true;
      } else if (c.sync_enabled !== c.cam_enabled || c.interval_minutes !== interval) {
        this.prepare('UPDATE sync_status SET enabled = ?, interval_minutes = ? WHERE source_id = ? AND camera_id = ?').run(
          c.cam_enabled,
          interval,
          sourceId,
          c.id,
        );
        changed = true;
      }
    }
    return changed;
  }

  private refreshCameraPaths(): void {
    const rows = this.prepare(
      `SELECT s.name AS sourceName, c.display_name AS displayName, c.device_port AS devicePort,
              c.video_source_token AS videoSourceToken, c.folder_path AS folderPath
       FROM camera_configurations c JOIN video_sources s ON s.id = c.source_id
       WHERE c.enabled = 1 ORDER BY s.name, c.device_port, c.video_source_token`,
    ).all() as CameraPathRow[];
    this.prepare(`INSERT INTO processing_config(key, value) VALUES ('camera_paths', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(
      JSON.stringify(buildCameraPaths(rows)),
    );
  }

  // ---- cameras -------------------------------------------------------------------------------

  listCameras(sourceId: number, options: { enabledOnly?: boolean } = {}): CameraRow[] {
    const sql = `SELECT * FROM camera_configurations WHERE source_id = ? ${options.enabledOnly ? 'AND enabled = 1' : ''}
                 ORDER BY device_port, video_source_token`;
    return (this.prepare(sql).all(sourceId) as CameraRecord[]).map(toCamera);
  }

  /** processing_config.camera_paths (see buildCameraPaths for the key rule). */
  getCameraPaths(): CameraPaths {
    const r = this.prepare(`SELECT value FROM processing_config WHERE key = 'camera_paths'`).get() as { value: string } | undefined;
    return r ? (JSON.parse(r.value) as CameraPaths) : {};
  }

  // ---- sync status ---------------------------------------------------------------------------

  /** The source-level row when `cameraId` is omitted or null, else the camera's row. */
  getSyncStatus(sourceId: number, cameraId?: number | null): SyncStatusRow | undefined {
    const r = (
      cameraId === undefined || cameraId === null
        ? this.prepare('SELECT * FROM sync_status WHERE source_id = ? AND camera_id IS NULL').get(sourceId)
        : this.prepare('SELECT * FROM sync_status WHERE source_id = ? AND camera_id = ?').get(sourceId, cameraId)
    ) as SyncRecord | undefined;
    return r && toSync(r);
  }

  /** All sync rows of a source: the source-level row first, then cameras by id. */
  listSyncStatus(sourceId: number): SyncStatusRow[] {
    return (this.prepare('SELECT * FROM sync_status WHERE source_id = ? ORDER BY camera_id IS NOT NULL, camera_id').all(sourceId) as SyncRecord[]).map(toSync);
  }

  /** Applies `patch` to the row (creating it if missing) and returns the row. */
  updateSyncStatus(sourceId: number, cameraId: number | null, patch: SyncStatusPatch): SyncStatusRow {
    const columns: Record<string, string | number | null> = {};
    if (patch.enabled !== undefined) columns.enabled = patch.enabled ? 1 : 0;
    if (patch.intervalMinutes !== undefined) {
      if (!(patch.intervalMinutes > 0)) throw invalid('interval must be a positive number of minutes');
      columns.interval_minutes = patch.intervalMinutes;
    }
    if (patch.lastRunAt !== undefined) columns.last_run_at = isoOrNull(patch.lastRunAt, 'lastRunAt');
    if (patch.lastSuccessAt !== undefined) columns.last_success_at = isoOrNull(patch.lastSuccessAt, 'lastSuccessAt');
    if (patch.lastSyncedUntil !== undefined) columns.last_synced_until = isoOrNull(patch.lastSyncedUntil, 'lastSyncedUntil');
    if (patch.consecutiveFailures !== undefined) columns.consecutive_failures = patch.consecutiveFailures;
    if (patch.lastError !== undefined) columns.last_error = patch.lastError;
    if (patch.nextAttemptAt !== undefined) columns.next_attempt_at = isoOrNull(patch.nextAttemptAt, 'nextAttemptAt');
    if (patch.maxSessions !== undefined) columns.max_sessions = patch.maxSessions;
    if (patch.replaySpeedX !== undefined) columns.replay_speed_x = patch.replaySpeedX;

    const run = this.db.transaction(() => {
      if (!this.getSyncStatus(sourceId, cameraId)) {
        if (!this.getSource(sourceId)) throw new CatalogError('not-found', `no source with id ${sourceId}`);
        const interval = this.getSyncStatus(sourceId)?.intervalMinutes ?? DEFAULT_INTERVAL_MINUTES;
        this.prepare('INSERT INTO sync_status(source_id, camera_id, interval_minutes) VALUES (?, ?, ?)').run(sourceId, cameraId, interval);
      }
      const names = Object.keys(columns);
      if (names.length > 0) {
        // Column names come from the fixed list above, never from the caller.
        const set = names.map((n) => `${n} = @${n}`).join(', ');
        const where = cameraId === null ? 'camera_id IS NULL' : 'camera_id = @camera_id';
        this.prepare(`UPDATE sync_status SET ${set} WHERE source_id = @source_id AND ${where}`).run({
          ...columns,
          source_id: sourceId,
          ...(cameraId === null ? {} : { camera_id: cameraId }),
        });
      }
    });
    run.immediate();
    const row = this.getSyncStatus(sourceId, cameraId);
    if (!row) throw new CatalogError('not-found', `sync status for source ${sourceId} vanished`);
    return row;
  }

  // ---- downloads -----------------------------------------------------------------------------

  /** Records a finished file (call only once it is renamed into place). Throws on a duplicate start. */
  recordDownload(row: DownloadInput): DownloadedFileRow {
    const params = { ...downloadColumns(row), created_at: new Date().toISOString() };
    try {
      const info = this.prepare(
        `INSERT INTO downloaded_files(camera_id, recording_token, start_time, end_time, path, bytes, codec, frames, width, height, status, created_at)
         VALUES (@camera_id, @recording_token, @start_time, @end_time, @path, @bytes, @codec, @frames, @width, @height, 'done', @created_at)`,
      ).run(params);
      const r = this.prepare('SELECT * FROM downloaded_files WHERE id = ?').get(info.lastInsertRowid) as DownloadRecord;
      return toDownload(r);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new CatalogError('duplicate-download', `camera ${row.cameraId} already has a file starting at ${params.start_time}`, { cause: err });
      }
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new CatalogError('not-found', `no camera with id ${row.cameraId}`, { cause: err });
      }
      throw err;
    }
  }

  /** A camera's files ordered by start time. */
  listDownloads(cameraId: number, options: ListDownloadsOptions = {}): DownloadedFileRow[] {
    const rows = (
      options.status
        ? this.prepare('SELECT * FROM downloaded_files WHERE camera_id = ? AND status = ? ORDER BY start_time').all(cameraId, options.status)
        : this.prepare('SELECT * FROM downloaded_files WHERE camera_id = ? ORDER BY start_time').all(cameraId)
    ) as DownloadRecord[];
    return rows.map(toDownload);
  }

  /** Marks files as deleted (rows kept so the segments are not fetched again). Returns rows changed. */
  /**
   * What a camera holds in [from, to): the ranges of its files, in start order. Files removed by
   * retention count too unless `includeDeleted` is false (a timer pass must not fetch them again;
   * an explicit backfill may). O(log n + files in range) on the (camera, status, end) index.
   */
  heldRanges(cameraId: number, from: TimeInput, to: TimeInput, options: { includeDeleted?: boolean } = {}): TimeRange[] {
    const statuses = options.includeDeleted === false ? "('done')" : "('done', 'deleted')";
    return (
      this.prepare(
        `SELECT start_time, end_time FROM downloaded_files
         WHERE camera_id = ? AND status IN ${statuses} AND end_time > ? AND start_time < ? ORDER BY start_time`,
      ).all(cameraId, isoTime(from, 'from'), isoTime(to, 'to')) as { start_time: string; end_time: string }[]
    ).map(toRange);
  }

  /** Files marked done whose range meets [from, to) (to check they are still on disk). */
  doneDownloadsBetween(cameraId: number, from: TimeInput, to: TimeInput): DownloadedFileRow[] {
    return (
      this.prepare(`SELECT * FROM downloaded_files WHERE camera_id = ? AND status = 'done' AND end_time > ? AND start_time < ? ORDER BY start_time`).all(
        cameraId,
        isoTime(from, 'from'),
        isoTime(to, 'to'),
      ) as DownloadRecord[]
    ).map(toDownload);
  }

  /** The camera's most recent done file (by end time), from the (camera, status, end) index. */
  latestDownload(cameraId: number): DownloadedFileRow | undefined {
    const r = this.prepare(`SELECT * FROM downloaded_files WHERE camera_id = ? AND status = 'done' ORDER BY end_time DESC LIMIT 1`).get(cameraId) as
      DownloadRecord | undefined;
    return r && toDownload(r);
  }

  downloadStartingAt(cameraId: number, start: TimeInput): DownloadedFileRow | undefined {
    const r = this.prepare('SELECT * FROM downloaded_files WHERE camera_id = ? AND start_time = ?').get(cameraId, isoTime(start, 'start')) as
      DownloadRecord | undefined;
    return r && toDownload(r);
  }

  /** A file of ours that held `t` and is gone (found missing, or deleted): the one starting last. */
  lostFileAt(cameraId: number, t: TimeInput): DownloadedFileRow | undefined {
    const at = isoTime(t, 'time');
    const r = this.prepare(
      `SELECT * FROM downloaded_files WHERE camera_id = ? AND status IN ('missing', 'deleted') AND end_time > ? AND start_time <= ?
       ORDER BY start_time DESC LIMIT 1`,
    ).get(cameraId, at, at) as DownloadRecord | undefined;
    return r && toDownload(r);
  }

  /** Every path the catalog lists for a camera, whatever its status: the folder sweep's "already
   * catalogued?" in one query instead of one per file on disk (15 625 files per camera at 1 M rows). */
  pathsOfCamera(cameraId: number): Set<string> {
    return new Set(this.prepare('SELECT path FROM downloaded_files WHERE camera_id = ?').pluck().all(cameraId) as string[]);
  }

  downloadByPath(path: string): DownloadedFileRow | undefined {
    const r = this.prepare('SELECT * FROM downloaded_files WHERE path = ?').get(path) as DownloadRecord | undefined;
    return r && toDownload(r);
  }

  /** Replace a row's file (a longer file with the same first frame, or a re-fetch of a missing one). */
  replaceDownload(id: number, row: DownloadInput): DownloadedFileRow {
    this.prepare(
      `UPDATE downloaded_files SET recording_token = @recording_token, end_time = @end_time, path = @path, bytes = @bytes, codec = @codec,
         frames = @frames, width = @width, height = @height, status = 'done' WHERE id = @id`,
    ).run({ ...downloadColumns(row), id });
    return toDownload(this.prepare('SELECT * FROM downloaded_files WHERE id = ?').get(id) as DownloadRecord);
  }

  /** Files found gone or cut short: no longer held, so a pass may fetch them again. */
  markMissing(ids: readonly number[]): number {
    const stmt = this.prepare(`UPDATE downloaded_files SET status = 'missing' WHERE id = ? AND status = 'done'`);
    const run = this.db.transaction(() => ids.reduce((n, id) => n + stmt.run(id).changes, 0));
    return run.immediate();
  }

  /** Confirmed absent spans of a camera meeting [from, to). */
  absentRanges(cameraId: number, from: TimeInput, to: TimeInput): TimeRange[] {
    return (
      this.prepare(
        `SELECT start_time, end_time FROM absent_spans WHERE camera_id = ? AND confirmed = 1 AND end_time > ? AND start_time < ? ORDER BY start_time`,
      ).all(cameraId, isoTime(from, 'from'), isoTime(to, 'to')) as { start_time: string; end_time: string }[]
    ).map(toRange);
  }

  listAbsentSpans(cameraId: number): AbsentSpanRow[] {
    return (this.prepare('SELECT * FROM absent_spans WHERE camera_id = ? ORDER BY start_time').all(cameraId) as AbsentRecord[]).map(toAbsent);
  }

  /**
   * A replay of [at, end) ended at `at` again. Counts attempts per point (within `toleranceMs`) and
   * confirms the span once `confirmAfter` attempts agree: the NVR has nothing there, however its
   * search describes it. A span confirmed is due for a re-check `recheck.afterMs` later, doubled
   * for each re-check it already had (none without `recheck`). Returns the row as it is now.
   */
  noteShortfall(
    cameraId: number,
    at: Date,
    end: Date,
    reason: string,
    toleranceMs: number,
    confirmAfter: number,
    recheck?: { afterMs: number; now: Date },
  ): AbsentSpanRow {
    const recheckAt = (rechecks: number) =>
      recheck && recheck.afterMs > 0 ? new Date(recheck.now.getTime() + recheck.afterMs * 2 ** rechecks).toISOString() : null;
    const run = this.db.transaction((): AbsentSpanRow => {
      const lo = new Date(at.getTime() - toleranceMs).toISOString();
      const hi = new Date(at.getTime() + toleranceMs).toISOString();
      const prev = this.prepare(
        'SELECT * FROM absent_spans WHERE camera_id = ? AND start_time BETWEEN ? AND ? AND confirmed = 0 ORDER BY start_time LIMIT 1',
      ).get(cameraId, lo, hi) as AbsentRecord | undefined;
      const now = new Date().toISOString();
      if (prev) {
        const attempts = prev.attempts + 1;
        const confirmed = attempts >= confirmAfter;
        this.prepare('UPDATE absent_spans SET attempts = ?, confirmed = ?, end_time = ?, reason = ?, updated_at = ?, recheck_at = ? WHERE id = ?').run(
          attempts,
          confirmed ? 1 : 0,
          end.toISOString() > prev.end_time ? end.toISOString() : prev.end_time,
          reason,
          now,
          confirmed ? recheckAt(prev.rechecks) : null,
          prev.id,
        );
        return toAbsent(this.prepare('SELECT * FROM absent_spans WHERE id = ?').get(prev.id) as AbsentRecord);
      }
      this.prepare(
        `INSERT INTO absent_spans(camera_id, start_time, end_time, attempts, confirmed, reason, updated_at, recheck_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)
         ON CONFLICT(camera_id, start_time) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at`,
      ).run(cameraId, at.toISOString(), end.toISOString(), confirmAfter <= 1 ? 1 : 0, reason, now, confirmAfter <= 1 ? recheckAt(0) : null);
      // By its key, not lastInsertRowid: an upsert that updated a (confirmed) row inserted nothing.
      return toAbsent(this.prepare('SELECT * FROM absent_spans WHERE camera_id = ? AND start_time = ?').get(cameraId, at.toISOString()) as AbsentRecord);
    });
    return run.immediate();
  }

  /** Confirmed spans of a camera due for a re-check at `now` that end after `notBefore` (older
   * ones are gone from the NVR anyway), the longest-waiting first, at most `limit`. */
  absentDueForRecheck(cameraId: number, now: Date, notBefore: Date, limit: number): AbsentSpanRow[] {
    return (
      this.prepare(
        `SELECT * FROM absent_spans WHERE camera_id = ? AND confirmed = 1 AND recheck_at <= ? AND end_time > ? ORDER BY recheck_at, start_time LIMIT ?`,
      ).all(cameraId, now.toISOString(), notBefore.toISOString(), limit) as AbsentRecord[]
    ).map(toAbsent);
  }

  /**
   * Start re-checking confirmed spans: they are no longer held, so the runner fetches them, and one
   * more replay that ends at the same point confirms them again (attempts = confirmAfter - 1), with
   * a longer back-off. A replay that gets through clears them (clearShortfalls).
   */
  startRecheck(ids: readonly number[], confirmAfter: number): void {
    const stmt = this.prepare(`UPDATE absent_spans SET confirmed = 0, attempts = ?, rechecks = rechecks + 1, recheck_at = NULL WHERE id = ? AND confirmed = 1`);
    const run = this.db.transaction(() => ids.forEach((id) => stmt.run(Math.max(0, confirmAfter - 1), id)));
    run.immediate();
  }

  /** A due span the NVR no longer lists as recorded: nothing to replay; due again after a longer back-off. */
  postponeRecheck(id: number, afterMs: number, now: Date): void {
    const row = this.prepare('SELECT rechecks FROM absent_spans WHERE id = ?').get(id) as { rechecks: number } | undefined;
    if (!row) return;
    const rechecks = row.rechecks + 1;
    this.prepare('UPDATE absent_spans SET rechecks = ?, recheck_at = ? WHERE id = ?').run(
      rechecks,
      new Date(now.getTime() + afterMs * 2 ** rechecks).toISOString(),
      id,
    );
  }

  /** Unconfirmed shortfall counters a later replay got past: forget them. */
  clearShortfalls(cameraId: number, from: TimeInput, to: TimeInput): void {
    this.prepare('DELETE FROM absent_spans WHERE camera_id = ? AND confirmed = 0 AND start_time >= ? AND start_time < ?').run(
      cameraId,
      isoTime(from, 'from'),
      isoTime(to, 'to'),
    );
  }

  markDeleted(ids: readonly number[]): number {
    if (ids.length === 0) return 0;
    // One statement for the whole list (ids passed as one JSON array, each looked up by rowid):
    // a retention slice costs one round trip, not one per file. A single statement is atomic.
    return this.prepare(`UPDATE downloaded_files SET status = 'deleted' WHERE id IN (SELECT value FROM json_each(?)) AND status = 'done'`).run(
      JSON.stringify(ids),
    ).changes;
  }

  /**
   * WAL checkpoints on a worker thread until stop() (a retention pass over many files): the
   * connection's own checkpoints are off meanwhile, so no commit of the pass waits for one.
   */
  backgroundCheckpoints(): BackgroundCheckpoints {
    return startBackgroundCheckpoints(this.db, this.file);
  }

  /** Bytes of the source's files still on disk (status done): the running totals kept by triggers
   * (migration 2), one row per camera, whatever the number of files. */
  totalBytes(sourceId: number): number {
    const r = this.prepare(
      `SELECT COALESCE(SUM(b.bytes), 0) AS total FROM camera_bytes b
       JOIN camera_configurations c ON c.id = b.camera_id WHERE c.source_id = ?`,
    ).get(sourceId) as { total: number };
    return r.total;
  }

  /** The source's oldest files still on disk, oldest end time first. */
  oldestDownloads(sourceId: number, limit: number): DownloadedFileRow[] {
    const cursor = this.oldestDownloadsCursor(sourceId);
    const out: DownloadedFileRow[] = [];
    while (out.length < limit) {
      const f = cursor.next();
      if (!f) break;
      out.push(f);
    }
    return out;
  }

  /**
   * The source's files still on disk (status done), oldest end time first (then id), read lazily:
   * each camera is read in small pages along the (camera, status, end time) index, after the last
   * row it returned, and the cameras are merged by a heap. Nothing is loaded or sorted as a whole,
   * so the first rows of a million cost what the first rows of ten do. It may be used across awaits
   * while rows change: it only moves forward (rows added behind it are not seen), and a row changed
   * after its page was read (up to pageSize rows ahead per camera) is returned as it was.
   */
  oldestDownloadsCursor(sourceId: number, pageSize = 64): { next(): DownloadedFileRow | undefined } {
    const page = this.prepare(
      `SELECT * FROM downloaded_files WHERE camera_id = ? AND status = 'done' AND (end_time, id) > (?, ?)
       ORDER BY end_time, id LIMIT ?`,
    );
    const merged = this.mergeCameras<DownloadRecord>(
      sourceId,
      pageSize,
      (cam, end, id, n) => page.all(cam, end, id, n) as DownloadRecord[],
      (r) => r.end_time,
    );
    return { next: () => mapDefined(merged.next(), toDownload) };
  }

  /**
   * What retention reads, in the order and with the guarantees of oldestDownloadsCursor: only the
   * four columns it needs, as SQLite returns them (no per-row conversion; at 1 M rows the full rows
   * and their conversion were a fifth of a size-cap pass).
   */
  oldestFilesCursor(sourceId: number, pageSize = 64): { next(): RetentionFileRow | undefined } {
    const page = this.prepare(
      `SELECT id, end_time AS endTime, bytes, path FROM downloaded_files
       WHERE camera_id = ? AND status = 'done' AND (end_time, id) > (?, ?) ORDER BY end_time, id LIMIT ?`,
    );
    return this.mergeCameras<RetentionFileRow>(
      sourceId,
      pageSize,
      (cam, end, id, n) => page.all(cam, end, id, n) as RetentionFileRow[],
      (r) => r.endTime,
    );
  }

  /** Per-camera pages merged by a binary min-heap on (end time, id); see oldestDownloadsCursor. */
  private mergeCameras<R extends { id: number }>(
    sourceId: number,
    pageSize: number,
    page: (cameraId: number, afterEnd: string, afterId: number, limit: number) => R[],
    endOf: (r: R) => string,
  ): { next(): R | undefined } {
    const cameraIds = (this.prepare('SELECT id FROM camera_configurations WHERE source_id = ? ORDER BY id').all(sourceId) as Array<{ id: number }>).map(
      (r) => r.id,
    );
    interface Lane {
      cameraId: number;
      rows: R[];
      at: number;
      done: boolean;
      lastEnd: string;
      lastId: number;
    }
    // The first page per camera is small: opening the cursor reads one per camera at once, and
    // most passes (a few files aged out) end within it.
    const fill = (l: Lane, size = pageSize): boolean => {
      if (l.at < l.rows.length) return true;
      if (l.done) return false;
      l.rows = page(l.cameraId, l.lastEnd, l.lastId, size);
      l.at = 0;
      if (l.rows.length < size) l.done = true;
      return l.rows.length > 0;
    };
    const less = (a: Lane, b: Lane) => {
      const x = a.rows[a.at];
      const y = b.rows[b.at];
      const ex = endOf(x);
      const ey = endOf(y);
      return ex < ey || (ex === ey && x.id < y.id);
    };
    const heap: Lane[] = [];
    const up = (i: number) => {
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    };
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) return;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    };
    for (const cameraId of cameraIds) {
      const lane: Lane = { cameraId, rows: [], at: 0, done: false, lastEnd: '', lastId: 0 };
      if (fill(lane, Math.min(4, pageSize))) {
        heap.push(lane);
        up(heap.length - 1);
      }
    }
    return {
      next: () => {
        const lane = heap[0];
        if (!lane) return undefined;
        const row = lane.rows[lane.at++];
        lane.lastEnd = endOf(row);
        lane.lastId = row.id;
        if (fill(lane)) down(0);
        else {
          const last = heap.pop() as Lane;
          if (heap.length > 0) {
            heap[0] = last;
            down(0);
          }
        }
        return row;
      },
    };
  }

  // ---- source lifecycle (the archive: sources follow their nvr-source nodes) -----------------

  /** Marks a source synced (its node is deployed) or inactive (kept, rows and files, until forgotten). */
  setSourceActive(id: number, active: boolean): void {
    this.prepare('UPDATE video_sources SET active = ? WHERE id = ?').run(active ? 1 : 0, id);
  }

  /**
   * Removes a source with its cameras, sync state and file records (one transaction) and returns
   * the paths of its files still on disk, for the caller to delete or keep.
   */
  forgetSource(id: number): { paths: string[]; rows: number } {
    const run = this.db.transaction(() => {
      const paths = (
        this.prepare(
          `SELECT f.path FROM downloaded_files f JOIN camera_configurations c ON c.id = f.camera_id
           WHERE c.source_id = ? AND f.status = 'done' ORDER BY f.path`,
        ).all(id) as Array<{ path: string }>
      ).map((r) => r.path);
      const rows = this.prepare('DELETE FROM video_sources WHERE id = ?').run(id).changes;
      if (rows === 0) throw new CatalogError('not-found', `no source with id ${id}`);
      this.refreshCameraPaths();
      return { paths, rows };
    });
    return run.immediate();
  }
}

/** Opens (creating and migrating if needed) the catalog at `file`. See open.ts for refusals. */
export function openCatalog(file: string): Catalog {
  return new Catalog(file);
}
