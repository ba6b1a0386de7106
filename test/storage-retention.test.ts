// Retention picks the oldest files first and deleting tolerates files already gone.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyRetentionRules, deleteFiles } from '../lib/storage';
import { openCatalog, type Catalog, type SavedSource } from '../lib/catalog';

const now = new Date('2026-11-10T00:00:00Z');
const day = 86_400_000;

describe('storage: retention', () => {
  it('deletes files and reports already-missing ones without failing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-retention-'));
    try {
      const a = path.join(dir, 'a.mp4');
      fs.writeFileSync(a, 'x');
      const gone = path.join(dir, 'gone.mp4');
      const result = await deleteFiles([a, gone, dir]);
      assert.deepEqual(result.deleted, [a]);
      assert.deepEqual(result.missing, [gone]);
      assert.equal(result.failed.length, 1, 'a folder is not a file');
      assert.ok(!fs.existsSync(a));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a retention pass over the catalog', () => {
    let dir: string;
    let catalog: Catalog;
    let source: SavedSource;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-retention-'));
      catalog = openCatalog(path.join(dir, 'c.db'));
      source = catalog.saveSource({
        name: 'nvr',
        host: '127.0.0.1',
        ports: [80],
        workingDirectory: dir,
        cameras: ['A', 'B'].map((n) => ({
          displayName: n,
          devicePort: 80,
          videoSourceToken: n,
          profileToken: n,
          codec: 'H264',
          width: 640,
          height: 480,
          fps: 10,
          folderPath: path.join(dir, n),
        })),
      });
    });
    afterEach(() => {
      catalog.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    /** n files alternating between the two cameras, one a minute ending `ageDays` ago and later. */
    const add = (n: number, bytes: number, onDisk = true) => {
      const out: Array<{ id: number; path: string }> = [];
      for (let i = 0; i < n; i++) {
        const start = new Date(now.getTime() - 10 * day + i * 60_000);
        const p = path.join(dir, `f${i}.mp4`);
        if (onDisk) fs.writeFileSync(p, 'x');
        const row = catalog.recordDownload({
          cameraId: source.cameras[i % 2].id,
          recordingToken: 'R',
          start,
          end: new Date(start.getTime() + 60_000),
          path: p,
          bytes,
          codec: 'H264',
          frames: 1,
          width: 640,
          height: 480,
        });
        out.push({ id: row.id, path: p });
      }
      return out;
    };

    it('age rule: deletes exactly the files that ended before the cutoff, oldest first, across cameras', async () => {
      const files = add(20, 10);
      // Files end at now - 10 days + (i + 1) min: a cutoff at 10 days - 5.5 min keeps i >= 5.
      const r = await applyRetentionRules(catalog, source.id, { maxAgeDays: (10 * day - 5.5 * 60_000) / day, now });
      assert.equal(r.deleted, 5);
      assert.equal(r.bytes, 50);
      assert.deepEqual(
        files.map((f) => fs.existsSync(f.path)),
        files.map((_, i) => i >= 5),
      );
      assert.equal(catalog.totalBytes(source.id), 150);
    });

    it('size rule: uses the running total and stops as soon as the rest fits; an undeletable file stays and a newer one goes', async () => {
      const files = add(10, 100);
      fs.rmSync(files[1].path);
      fs.mkdirSync(files[1].path); // a folder: unlink fails
      const r = await applyRetentionRules(catalog, source.id, { maxBytes: 750, now });
      assert.equal(r.failed.length, 1);
      assert.equal(r.failed[0].path, files[1].path);
      assert.equal(r.deleted, 3, 'files 0, 2, 3: file 1 could not be deleted, so one more went');
      assert.equal(catalog.totalBytes(source.id), 700);
      assert.deepEqual(
        files.map((f) => catalog.listDownloads(source.cameras[files.indexOf(f) % 2].id).find((d) => d.id === f.id)?.status),
        ['deleted', 'done', 'deleted', 'deleted', 'done', 'done', 'done', 'done', 'done', 'done'],
      );
    });

    it('combines both rules (whichever goes further) and keeps everything with no rule', async () => {
      const files = add(10, 100);
      // Files end at now - 10 days + (i + 1) min: this cutoff alone takes files 0-2.
      const maxAgeDays = (10 * day - 3.5 * 60_000) / day;
      const gone = () => files.filter((f) => !fs.existsSync(f.path)).length;
      assert.equal((await applyRetentionRules(catalog, source.id, { now })).deleted, 0, 'no rule: nothing');
      assert.equal((await applyRetentionRules(catalog, source.id, { maxAgeDays, maxBytes: 800, now })).deleted, 3, 'the age rule alone frees enough');
      assert.equal((await applyRetentionRules(catalog, source.id, { maxAgeDays, maxBytes: 500, now })).deleted, 2, 'the size rule goes further');
      assert.equal(gone(), 5);
      assert.deepEqual(
        files.map((f) => fs.existsSync(f.path)),
        files.map((_, i) => i >= 5),
        'oldest first',
      );
      assert.equal(catalog.totalBytes(source.id), 500);
    });

    it('with many unlinks at once, takes exactly the oldest deletable files: a row is deleted only if its file is gone, a failure only makes a newer file go', async () => {
      const files = add(600, 10);
      // Folders in place of some files (unlink fails), spread over many batches of unlinks.
      const undeletable = new Set(files.map((_, i) => i).filter((i) => i % 97 === 5));
      for (const i of undeletable) {
        fs.rmSync(files[i].path);
        fs.mkdirSync(files[i].path);
      }
      const r = await applyRetentionRules(catalog, source.id, { maxBytes: 200 * 10, now });
      // Oldest first (file i ends before file i + 1): the first 400 that can be deleted go.
      const expectGone = files
        .map((_, i) => i)
        .filter((i) => !undeletable.has(i))
        .slice(0, 400);
      const lastGone = expectGone[expectGone.length - 1];
      assert.equal(r.deleted, 400);
      assert.equal(r.bytes, 4000);
      assert.deepEqual(
        r.failed.map((f) => f.path),
        [...undeletable].filter((i) => i < lastGone).map((i) => files[i].path),
        'each older undeletable file reported once',
      );
      const status = new Map(source.cameras.flatMap((c) => catalog.listDownloads(c.id)).map((d) => [d.id, d.status]));
      files.forEach((f, i) => {
        const gone = expectGone.includes(i);
        assert.equal(fs.existsSync(f.path), !gone, `file ${i} on disk`);
        assert.equal(status.get(f.id), gone ? 'deleted' : 'done', `row ${i}`);
      });
      assert.equal(catalog.totalBytes(source.id), 2000, 'the running total matches the rows left');
    });

    it('works in slices: the event loop gets turns during a pass over thousands of files', async () => {
      add(3000, 1, false);
      let turns = 0;
      const tick = setInterval(() => turns++, 0);
      try {
        const r = await applyRetentionRules(catalog, source.id, { maxBytes: 0, now });
        assert.equal(r.deleted, 3000);
      } finally {
        clearInterval(tick);
      }
      assert.equal(catalog.totalBytes(source.id), 0);
      assert.ok(turns >= 5, `the timer ran ${turns} times during the pass`);
    });

    it('a long pass checkpoints the WAL on a worker thread, then hands checkpoints back to the connection and closes cleanly', async () => {
      add(3000, 1, false);
      const db = (catalog as unknown as { db: import('better-sqlite3').Database }).db;
      const started = catalog.backgroundCheckpoints.bind(catalog);
      let workers = 0;
      let duringPass: unknown;
      catalog.backgroundCheckpoints = () => {
        workers++;
        const bc = started();
        duringPass = db.pragma('wal_autocheckpoint', { simple: true });
        return bc;
      };
      const r = await applyRetentionRules(catalog, source.id, { maxBytes: 0, now });
      assert.equal(r.deleted, 3000);
      assert.equal(workers, 1, 'one worker for the pass');
      assert.equal(duringPass, 0, "the connection's own checkpoints are off during the pass");
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'and back on after it');
      assert.equal(catalog.totalBytes(source.id), 0);
      catalog.close();
      catalog = openCatalog(path.join(dir, 'c.db'));
      assert.equal(catalog.integrityChecked, false, 'closed cleanly: no WAL left behind, no full check on the next open');
      assert.equal(catalog.listDownloads(source.cameras[0].id, { status: 'deleted' }).length, 1500);
    });

    it('a short pass starts no worker', async () => {
      add(100, 1, false);
      let workers = 0;
      const started = catalog.backgroundCheckpoints.bind(catalog);
      catalog.backgroundCheckpoints = () => {
        workers++;
        return started();
      };
      assert.equal((await applyRetentionRules(catalog, source.id, { maxBytes: 0, now })).deleted, 100);
      assert.equal(workers, 0);
    });
  });
});
