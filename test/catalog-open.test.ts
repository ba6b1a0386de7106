// The catalog file: created and migrated from nothing, reopened with data intact, and refused —
// untouched — when it is newer than we know, corrupt, or not writable.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { CatalogError, SCHEMA_VERSION, openCatalog } from '../lib/catalog';
import { MIGRATIONS } from '../lib/catalog/migrations';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-catalog-'));
}

const sampleSource = (dir: string) => ({
  name: 'nvr_localhost',
  host: '127.0.0.1',
  ports: [18000],
  workingDirectory: dir,
  cameras: [
    {
      displayName: 'Front Door Camera',
      devicePort: 18000,
      videoSourceToken: 'VS1',
      profileToken: 'P1',
      codec: 'H264',
      width: 1280,
      height: 720,
      fps: 25,
      folderPath: path.join(dir, 'Front_Door_Camera'),
    },
  ],
});

describe('catalog: opening the database file', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates the parent folder and every table from an empty start, in WAL mode with foreign keys', () => {
    const file = path.join(dir, 'nested', 'deeper', 'vtrack-onvif.db');
    const catalog = openCatalog(file);
    catalog.close();
    assert.ok(fs.existsSync(file));
    const db = new Database(file, { readonly: true });
    try {
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map((t) => t.name);
      assert.deepEqual(tables, [
        'absent_spans',
        'camera_bytes',
        'camera_configurations',
        'downloaded_files',
        'processing_config',
        'sync_status',
        'video_sources',
      ]);
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  });

  it('turns foreign keys on: a camera for a missing source is rejected', () => {
    const catalog = openCatalog(path.join(dir, 'c.db'));
    try {
      assert.throws(
        () =>
          catalog.recordDownload({
            cameraId: 999,
            recordingToken: 'R',
            start: new Date(),
            end: new Date(),
            path: '/x',
            bytes: 1,
            codec: 'H264',
            frames: 1,
            width: 1,
            height: 1,
          }),
        (err: unknown) => err instanceof CatalogError && err.code === 'not-found',
      );
    } finally {
      catalog.close();
    }
  });

  it('keeps the data when reopened, and reopening does not migrate again', () => {
    const file = path.join(dir, 'c.db');
    const first = openCatalog(file);
    const saved = first.saveSource(sampleSource(dir));
    first.close();
    const second = openCatalog(file);
    try {
      const again = second.getSourceByName('nvr_localhost');
      assert.equal(again?.id, saved.id);
      assert.equal(second.listCameras(saved.id).length, 1);
      assert.deepEqual(second.getCameraPaths(), { 'Front Door Camera': path.join(dir, 'Front_Door_Camera') });
    } finally {
      second.close();
    }
  });

  it('migrates a version-1 catalog: its files still count as held, sources default to the ONVIF driver, files may be marked missing', () => {
    const file = path.join(dir, 'v1.db');
    const raw = new Database(file);
    raw.pragma('journal_mode = WAL');
    raw.exec(MIGRATIONS[0]);
    raw.pragma('user_version = 1');
    raw
      .prepare(
        `INSERT INTO video_sources(id, name, host, ports, working_directory, created_at, updated_at) VALUES (1, 'old', '127.0.0.1', '[18000]', ?, 't', 't')`,
      )
      .run(dir);
    raw
      .prepare(
        `INSERT INTO camera_configurations(id, source_id, display_name, device_port, video_source_token, profile_token, codec, width, height, fps, folder_path)
       VALUES (1, 1, 'Cam', 18000, 'VS1', 'P1', 'H264', 640, 480, 15, ?)`,
      )
      .run(path.join(dir, 'Cam'));
    raw
      .prepare(
        `INSERT INTO downloaded_files(id, camera_id, recording_token, start_time, end_time, path, bytes, codec, frames, width, height, status, created_at)
       VALUES (7, 1, 'REC', '2026-11-01T10:00:00.000Z', '2026-11-01T10:10:00.000Z', '/x.mp4', 10, 'H264', 9000, 640, 480, 'done', 't')`,
      )
      .run();
    raw.close();

    const catalog = openCatalog(file);
    try {
      assert.equal(catalog.getSource(1)?.driver, 'onvif');
      assert.equal(catalog.getSource(1)?.active, true);
      assert.deepEqual(
        catalog.heldRanges(1, '2026-11-01T10:05:00Z', '2026-11-01T10:06:00Z').map((r) => r.start.toISOString()),
        ['2026-11-01T10:00:00.000Z'],
      );
      assert.equal(catalog.markMissing([7]), 1);
      assert.equal(catalog.listDownloads(1)[0].id, 7, 'row ids survive the table rebuild');
      assert.equal(catalog.listDownloads(1)[0].status, 'missing');
    } finally {
      catalog.close();
    }
  });

  it('refuses a database written by a newer schema, with a clear message, and leaves it as it was', () => {
    const file = path.join(dir, 'newer.db');
    const raw = new Database(file);
    raw.exec('CREATE TABLE future (x)');
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    const before = fs.readFileSync(file);
    assert.throws(
      () => openCatalog(file),
      (err: unknown) =>
        err instanceof CatalogError && err.code === 'newer-version' && /written by a newer version/.test(err.message) && err.message.includes(file),
    );
    assert.deepEqual(fs.readFileSync(file), before);
    assert.ok(!fs.existsSync(`${file}-wal`), 'no WAL file was created next to the refused database');
  });

  it('refuses a file of junk bytes, naming the file, and never overwrites it', () => {
    const file = path.join(dir, 'junk.db');
    const junk = Buffer.alloc(8192);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) & 0xff;
    fs.writeFileSync(file, junk);
    assert.throws(
      () => openCatalog(file),
      (err: unknown) => err instanceof CatalogError && err.code === 'corrupt' && err.message.includes(file),
    );
    assert.deepEqual(fs.readFileSync(file), junk);
    assert.deepEqual(fs.readdirSync(dir), ['junk.db']);
  });

  it('refuses a SQLite file whose pages are damaged, leaving its bytes untouched', () => {
    const file = path.join(dir, 'damaged.db');
    const catalog = openCatalog(file);
    catalog.saveSource(sampleSource(dir));
    catalog.close();
    // Checkpointed by close(); damage page 2 onwards but keep the header intact.
    const bytes = fs.readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0xa5, pageSize, Math.min(bytes.length, pageSize * 3));
    fs.writeFileSync(file, bytes);
    assert.throws(
      () => openCatalog(file),
      (err: unknown) => err instanceof CatalogError && err.code === 'corrupt' && err.message.includes(file),
    );
    assert.deepEqual(fs.readFileSync(file), bytes);
  });

  it('runs the full integrity check only after an unclean shutdown or before a migration, not on a clean reopen', () => {
    const file = path.join(dir, 'c.db');
    const first = openCatalog(file);
    assert.equal(first.integrityChecked, false, 'a new file has nothing to check');
    first.saveSource(sampleSource(dir));
    // A crash: the database and its WAL as they are while the connection is still open.
    const crashed = path.join(dir, 'crashed.db');
    fs.copyFileSync(file, crashed);
    fs.copyFileSync(`${file}-wal`, `${crashed}-wal`);
    first.close();
    const clean = openCatalog(file);
    assert.equal(clean.integrityChecked, false, 'closed cleanly: no full check');
    clean.close();
    const afterCrash = openCatalog(crashed);
    assert.equal(afterCrash.integrityChecked, true, 'a WAL was left behind: full check');
    assert.equal(afterCrash.getSourceByName('nvr_localhost')?.host, '127.0.0.1', 'the WAL was replayed');
    afterCrash.close();
    // A database one migration behind.
    const older = path.join(dir, 'older.db');
    const old = new Database(older);
    for (const step of MIGRATIONS.slice(0, -1)) old.exec(step);
    old.pragma(`user_version = ${MIGRATIONS.length - 1}`);
    old.close();
    const migrated = openCatalog(older);
    assert.equal(migrated.integrityChecked, true, 'checked before migrating');
    migrated.close();
  });

  it('gives a clear read-only error when the location cannot be written', function () {
    let file: string;
    let restore = (): void => undefined;
    if (process.getuid?.() === 0) {
      // root ignores permission bits; sysfs refuses new entries even to root.
      file = '/sys/vtrack-onvif-test/vtrack-onvif.db';
      if (!fs.existsSync('/sys')) this.skip();
    } else {
      const locked = path.join(dir, 'locked');
      fs.mkdirSync(locked, { mode: 0o555 });
      file = path.join(locked, 'sub', 'vtrack-onvif.db');
      restore = () => fs.chmodSync(locked, 0o755);
    }
    try {
      assert.throws(
        () => openCatalog(file),
        (err: unknown) => err instanceof CatalogError && err.code === 'read-only' && /read-only/.test(err.message),
      );
    } finally {
      restore();
    }
  });
});
