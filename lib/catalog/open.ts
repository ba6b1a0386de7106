// Opening the catalog file safely: refuse (with a message naming the file) anything we must not
// touch — a file that is not SQLite, a corrupt database, a schema from a newer version, a location
// we cannot write — before any write happens, then migrate.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CatalogError } from './errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { mkdirpSync } from '../storage/mkdirp';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const BUSY_TIMEOUT_MS = 5000;

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function isReadOnlyCode(code: string | undefined): boolean {
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN';
}

function prepareLocation(file: string): void {
  const dir = path.dirname(file);
  try {
    mkdirpSync(dir);
  } catch (err) {
    const code = errorCode(err);
    if (isReadOnlyCode(code)) {
      throw new CatalogError('read-only', `catalog location ${dir} is read-only: cannot create it (${code})`, { cause: err });
    }
    throw new CatalogError('open-failed', `cannot create the catalog folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  // WAL needs to create -wal/-shm files next to the database, so the folder must be writable.
  for (const target of fs.existsSync(file) ? [dir, file] : [dir]) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch (err) {
      throw new CatalogError('read-only', `catalog location ${target} is read-only (${errorCode(err)})`, { cause: err });
    }
  }
}

/** Throws unless `file` is missing, empty, or starts with the SQLite header. Reads only. */
function checkHeader(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw new CatalogError('open-failed', `cannot read the catalog ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new CatalogError('open-failed', `catalog ${file} is not a regular file`);
    if (stat.size === 0) return;
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n < head.length || !head.equals(SQLITE_HEADER)) {
      throw new CatalogError(
        'corrupt',
        `catalog ${file} is not a SQLite database or is corrupt; it was left untouched — move it away or choose another database path`,
      );
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A non-empty WAL or a rollback journal next to the database: the last writer did not close it
 * (crash, power loss, kill -9). A clean close of the last connection checkpoints and removes the WAL.
 * Another process with the database open also leaves one: then the check runs, needlessly but safely. */
function leftOverJournal(file: string): boolean {
  for (const [suffix, minSize] of [
    ['-wal', 1],
    ['-journal', 1],
  ] as const) {
    try {
      if (fs.statSync(file + suffix).size >= minSize) return true;
    } catch {
      // absent
    }
  }
  return false;
}

/** Reads the first row of every table (its root page and the schema): cheap, whatever the size. */
function probeTables(db: Database.Database): void {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>;
  for (const { name } of tables) db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}" LIMIT 1`).get();
}

function refuseNewer(version: number, file: string): void {
  if (version > SCHEMA_VERSION) {
    throw new CatalogError(
      'newer-version',
      `catalog ${file} was written by a newer version of @vtrack/node-red-onvif (schema ${version}, this version knows up to ${SCHEMA_VERSION}); upgrade the package or choose another database path`,
    );
  }
}

function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  refuseNewer(version, file);
  for (let v = version; v < SCHEMA_VERSION; v++) {
    const step = db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      // PRAGMA takes no bound parameters; v + 1 is an integer we computed.
      db.pragma(`user_version = ${v + 1}`);
    });
    step.immediate();
  }
}

/** Opens (creating if needed) and migrates the catalog database at `file`. */
export function openDatabase(fileArg: string): { db: Database.Database; file: string; integrityChecked: boolean } {
  if (typeof fileArg !== 'string' || fileArg.trim() === '') {
    throw new CatalogError('invalid-input', 'catalog path is empty');
  }
  const file = path.resolve(fileArg);
  prepareLocation(file);
  checkHeader(file);

  // Looked at before opening: SQLite replays and removes a left-over WAL when the file is opened.
  const uncleanShutdown = leftOverJournal(file);
  let integrityChecked = false;
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    const code = errorCode(err);
    if (isReadOnlyCode(code)) throw new CatalogError('read-only', `catalog ${file} cannot be opened for writing (${code})`, { cause: err });
    throw new CatalogError('open-failed', `cannot open the catalog ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Read-only checks first: a newer or damaged database must not be modified, not even by the
    // journal-mode switch below.
    const version = db.pragma('user_version', { simple: true }) as number;
    refuseNewer(version, file);
    if (version > 0) {
      // The full check reads every page (0.6 s at 1 M files, on every open): only when it can find
      // something — after an unclean shutdown (a WAL or rollback journal was left behind) or before
      // a migration rewrites the schema. Otherwise each table's root page is read, which still
      // refuses a file damaged anywhere the schema or the first rows live.
      if (uncleanShutdown || version < SCHEMA_VERSION) {
        integrityChecked = true;
        const check = db.pragma('quick_check', { simple: true }) as string;
        if (check !== 'ok') throw new CatalogError('corrupt', `catalog ${file} is corrupt (${check}); it was left untouched`);
      } else {
        probeTables(db);
      }
    }
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    // WAL + NORMAL: commits append to the WAL without an fsync each (the WAL is synced at checkpoints).
    // Never corrupts; a power cut may lose the last commits, i.e. re-download a file or re-delete one.
    // FULL fsynced on every commit: 10-25 ms of main-thread block per retention slice or recorded file.
    db.pragma('synchronous = NORMAL');
    migrate(db, file);
    return { db, file, integrityChecked };
  } catch (err) {
    db.close();
    if (err instanceof CatalogError) throw err;
    const code = errorCode(err);
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new CatalogError('corrupt', `catalog ${file} is not a SQLite database or is corrupt; it was left untouched`, { cause: err });
    }
    if (isReadOnlyCode(code)) throw new CatalogError('read-only', `catalog ${file} is read-only (${code})`, { cause: err });
    throw new CatalogError('open-failed', `cannot open the catalog ${file}: ${(err as Error).message}`, { cause: err });
  }
}
