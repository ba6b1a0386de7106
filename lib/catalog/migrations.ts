// Numbered schema migrations. Index i holds the step that takes user_version i to i + 1; each
// step runs in its own transaction together with the user_version bump. Append, never edit.

export const MIGRATIONS: readonly string[] = [
  // 1: initial schema (DESIGN.md §3).
  `
  CREATE TABLE video_sources (
    id                INTEGER PRIMARY KEY,
    node_id           TEXT UNIQUE,
    name              TEXT NOT NULL UNIQUE,
    type              TEXT NOT NULL DEFAULT 'nvr' CHECK (type IN ('nvr')),
    host              TEXT NOT NULL,
    ports             TEXT NOT NULL,          -- JSON array of port numbers
    device_urn        TEXT,
    working_directory TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
  );

  CREATE TABLE camera_configurations (
    id                 INTEGER PRIMARY KEY,
    source_id          INTEGER NOT NULL REFERENCES video_sources(id) ON DELETE CASCADE,
    display_name       TEXT NOT NULL,
    device_port        INTEGER NOT NULL,
    video_source_token TEXT NOT NULL,
    profile_token      TEXT NOT NULL,
    recording_token    TEXT,
    codec              TEXT NOT NULL,
    width              INTEGER NOT NULL,
    height             INTEGER NOT NULL,
    fps                REAL NOT NULL,
    folder_path        TEXT NOT NULL,
    enabled            INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    UNIQUE (source_id, device_port, video_source_token)
  );

  -- camera_id NULL is the source-level row. UNIQUE treats NULLs as distinct, so two partial
  -- unique indexes give "one row per (source, camera)" including the NULL case.
  CREATE TABLE sync_status (
    id                   INTEGER PRIMARY KEY,
    source_id            INTEGER NOT NULL REFERENCES video_sources(id) ON DELETE CASCADE,
    camera_id            INTEGER REFERENCES camera_configurations(id) ON DELETE CASCADE,
    enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    interval_minutes     REAL NOT NULL DEFAULT 10,
    last_run_at          TEXT,
    last_success_at      TEXT,
    last_synced_until    TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    next_attempt_at      TEXT
  );
  CREATE UNIQUE INDEX sync_status_camera ON sync_status(source_id, camera_id) WHERE camera_id IS NOT NULL;
  CREATE UNIQUE INDEX sync_status_source ON sync_status(source_id) WHERE camera_id IS NULL;

  CREATE TABLE downloaded_files (
    id              INTEGER PRIMARY KEY,
    camera_id       INTEGER NOT NULL REFERENCES camera_configurations(id) ON DELETE CASCADE,
    recording_token TEXT NOT NULL,
    start_time      TEXT NOT NULL,
    end_time        TEXT NOT NULL,
    path            TEXT NOT NULL,
    bytes           INTEGER NOT NULL,
    codec           TEXT NOT NULL,
    frames          INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'done' CHECK (status IN ('done', 'deleted')),
    created_at      TEXT NOT NULL,
    UNIQUE (camera_id, start_time)
  );
  CREATE INDEX downloaded_files_end ON downloaded_files(camera_id, status, end_time);

  CREATE TABLE processing_config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL            -- JSON
  );
  INSERT INTO processing_config(key, value) VALUES ('camera_paths', '{}');
  `,
  // 2: coverage-based archive (issue F) and what the next steps need.
  // - downloaded_files.start_time is now the first frame's real time (rows of version 1 hold the
  //   planned slot start, a little after or at their first frame: still a correct lower bound).
  //   Status 'missing' = verify found the file gone or cut short; it no longer counts as held.
  //   SQLite cannot change a CHECK in place: the table is rebuilt (ids kept).
  // - absent_spans: ranges the NVR keeps ending a replay before (same point, several attempts);
  //   confirmed ones are not planned again.
  // - video_sources.driver / active, sync_status learned NVR limits.
  `
  CREATE TABLE downloaded_files_v2 (
    id              INTEGER PRIMARY KEY,
    camera_id       INTEGER NOT NULL REFERENCES camera_configurations(id) ON DELETE CASCADE,
    recording_token TEXT NOT NULL,
    start_time      TEXT NOT NULL,
    end_time        TEXT NOT NULL,
    path            TEXT NOT NULL,
    bytes           INTEGER NOT NULL,
    codec           TEXT NOT NULL,
    frames          INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'done' CHECK (status IN ('done', 'deleted', 'missing')),
    created_at      TEXT NOT NULL,
    UNIQUE (camera_id, start_time)
  );
  INSERT INTO downloaded_files_v2 SELECT * FROM downloaded_files;
  DROP TABLE downloaded_files;
  ALTER TABLE downloaded_files_v2 RENAME TO downloaded_files;
  CREATE INDEX downloaded_files_end ON downloaded_files(camera_id, status, end_time);
  CREATE INDEX downloaded_files_path ON downloaded_files(path);

  CREATE TABLE absent_spans (
    id         INTEGER PRIMARY KEY,
    camera_id  INTEGER NOT NULL REFERENCES camera_configurations(id) ON DELETE CASCADE,
    start_time TEXT NOT NULL,
    end_time   TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    confirmed  INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    reason     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (camera_id, start_time)
  );

  ALTER TABLE video_sources ADD COLUMN driver TEXT NOT NULL DEFAULT 'onvif';
  ALTER TABLE video_sources ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
  ALTER TABLE sync_status ADD COLUMN max_sessions INTEGER;
  ALTER TABLE sync_status ADD COLUMN replay_speed_x REAL;
  `,

  // 3: running byte total per camera (files on disk, status 'done'), kept by triggers: retention and
  // the size cap read a few rows instead of summing every file of a source (1 M rows: a full pass
  // over the table on every sync pass). Retention walks downloaded_files_end (camera, status,
  // end time) per camera, so no new index is needed for it.
  // NOTE for later migrations: rebuilding downloaded_files (create/copy/drop/rename) drops these
  // triggers; such a migration must create them again.
  `
  CREATE TABLE camera_bytes (
    camera_id INTEGER PRIMARY KEY REFERENCES camera_configurations(id) ON DELETE CASCADE,
    bytes     INTEGER NOT NULL DEFAULT 0,
    files     INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO camera_bytes(camera_id, bytes, files)
    SELECT camera_id, SUM(bytes), COUNT(*) FROM downloaded_files WHERE status = 'done' GROUP BY camera_id;
  CREATE TRIGGER downloaded_files_bytes_insert AFTER INSERT ON downloaded_files WHEN NEW.status = 'done' BEGIN
    INSERT INTO camera_bytes(camera_id, bytes, files) VALUES (NEW.camera_id, NEW.bytes, 1)
      ON CONFLICT(camera_id) DO UPDATE SET bytes = bytes + excluded.bytes, files = files + 1;
  END;
  CREATE TRIGGER downloaded_files_bytes_delete AFTER DELETE ON downloaded_files WHEN OLD.status = 'done' BEGIN
    UPDATE camera_bytes SET bytes = bytes - OLD.bytes, files = files - 1 WHERE camera_id = OLD.camera_id;
  END;
  CREATE TRIGGER downloaded_files_bytes_update AFTER UPDATE OF status, bytes, camera_id ON downloaded_files
    WHEN OLD.status = 'done' OR NEW.status = 'done' BEGIN
    UPDATE camera_bytes SET bytes = bytes - OLD.bytes, files = files - 1 WHERE camera_id = OLD.camera_id AND OLD.status = 'done';
    INSERT INTO camera_bytes(camera_id, bytes, files) SELECT NEW.camera_id, NEW.bytes, 1 WHERE NEW.status = 'done'
      ON CONFLICT(camera_id) DO UPDATE SET bytes = bytes + excluded.bytes, files = files + 1;
  END;
  `,

  // 4: confirmed absent spans are checked again (issue F follow-up): a transient NVR fault (a disk
  // remounted, a 4xx during a reboot) must not lose recorded data for good. recheck_at = when the
  // span may be planned again (NULL = never); rechecks = how many times it was, so the back-off
  // doubles. Spans confirmed before this migration come due a day after their confirmation.
  `
  ALTER TABLE absent_spans ADD COLUMN recheck_at TEXT;
  ALTER TABLE absent_spans ADD COLUMN rechecks INTEGER NOT NULL DEFAULT 0;
  UPDATE absent_spans SET recheck_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+1 day') WHERE confirmed = 1;
  CREATE INDEX absent_spans_recheck ON absent_spans(camera_id, confirmed, recheck_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
