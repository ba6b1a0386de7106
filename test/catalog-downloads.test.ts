// Sync progress and the downloaded-files ledger that keeps a segment from being fetched twice.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Catalog, CatalogError, openCatalog } from '../lib/catalog';
import type { DownloadInput, SavedSource } from '../lib/catalog';

describe('catalog: sync status and downloads', () => {
  let dir: string;
  let catalog: Catalog;
  let source: SavedSource;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-catalog-'));
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
        profileToken: `${n}p`,
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

  const file = (cameraId: number, start: string, end: string, bytes = 100): DownloadInput => ({
    cameraId,
    recordingToken: 'REC',
    start,
    end,
    path: path.join(dir, `${start}.mp4`),
    bytes,
    codec: 'H264',
    frames: 50,
    width: 640,
    height: 480,
  });

  it('patches sync status rows, storing times as ISO UTC and leaving other fields alone', () => {
    const cam = source.cameras[0];
    const row = catalog.updateSyncStatus(source.id, cam.id, {
      lastRunAt: new Date('2026-11-02T12:00:00+02:00'),
      lastSyncedUntil: '2026-11-02T09:59:59Z',
      consecutiveFailures: 2,
      lastError: 'timeout',
    });
    assert.equal(row.lastRunAt, '2026-11-02T10:00:00.000Z');
    assert.equal(row.lastSyncedUntil, '2026-11-02T09:59:59.000Z');
    assert.equal(row.consecutiveFailures, 2);
    assert.equal(row.intervalMinutes, 10);
    const cleared = catalog.updateSyncStatus(source.id, cam.id, { lastError: null, consecutiveFailures: 0 });
    assert.equal(cleared.lastError, null);
    assert.equal(cleared.lastRunAt, '2026-11-02T10:00:00.000Z');
    const sourceRow = catalog.updateSyncStatus(source.id, null, { nextAttemptAt: '2026-11-02T10:10:00Z' });
    assert.equal(sourceRow.cameraId, null);
    assert.equal(catalog.getSyncStatus(source.id)?.nextAttemptAt, '2026-11-02T10:10:00.000Z');
    assert.equal(catalog.getSyncStatus(source.id, source.cameras[1].id)?.nextAttemptAt, null);
  });

  it('rejects an invalid time and an unknown source', () => {
    assert.throws(() => catalog.updateSyncStatus(source.id, null, { lastRunAt: 'yesterday-ish' }), CatalogError);
    assert.throws(
      () => catalog.updateSyncStatus(12345, null, { enabled: false }),
      (e: unknown) => e instanceof CatalogError && e.code === 'not-found',
    );
  });

  it('records a file once: (camera, start) is unique, and its range is held whatever the time zone it is asked in', () => {
    const cam = source.cameras[0].id;
    const row = catalog.recordDownload(file(cam, '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z'));
    assert.equal(row.status, 'done');
    assert.equal(row.startTime, '2026-11-01T10:00:00.000Z');
    const held = (c: number, from: string, to: string) => catalog.heldRanges(c, from, to).map((r) => [r.start.toISOString(), r.end.toISOString()]);
    assert.deepEqual(held(cam, '2026-11-01T11:00:00+01:00', '2026-11-01T11:01:00+01:00'), [['2026-11-01T10:00:00.000Z', '2026-11-01T10:05:00.000Z']]);
    assert.deepEqual(held(cam, '2026-11-01T10:05:00Z', '2026-11-01T10:10:00Z'), [], 'the end is exclusive');
    assert.deepEqual(held(source.cameras[1].id, '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z'), []);
    assert.throws(
      () => catalog.recordDownload(file(cam, '2026-11-01T10:00:00.000Z', '2026-11-01T10:06:00Z')),
      (e: unknown) => e instanceof CatalogError && e.code === 'duplicate-download',
    );
    // The same start on another camera is a different segment.
    catalog.recordDownload(file(source.cameras[1].id, '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z'));
  });

  it('marks files deleted (kept as rows, still counted as downloaded) and sums bytes on disk', () => {
    const [a, b] = source.cameras.map((c) => c.id);
    const f1 = catalog.recordDownload(file(a, '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z', 100));
    const f2 = catalog.recordDownload(file(b, '2026-11-01T09:00:00Z', '2026-11-01T09:05:00Z', 200));
    const f3 = catalog.recordDownload(file(a, '2026-11-01T11:00:00Z', '2026-11-01T11:05:00Z', 400));
    assert.equal(catalog.totalBytes(source.id), 700);
    assert.deepEqual(
      catalog.oldestDownloads(source.id, 2).map((f) => f.id),
      [f2.id, f1.id],
    );
    assert.equal(catalog.markDeleted([f2.id, f1.id, f1.id]), 2);
    assert.equal(catalog.totalBytes(source.id), 400);
    assert.deepEqual(
      catalog.oldestDownloads(source.id, 10).map((f) => f.id),
      [f3.id],
    );
    assert.deepEqual(
      catalog.listDownloads(a, { status: 'deleted' }).map((f) => f.id),
      [f1.id],
    );
    assert.deepEqual(
      catalog.listDownloads(a).map((f) => f.id),
      [f1.id, f3.id],
    );
    assert.equal(
      catalog.heldRanges(a, '2026-11-01T10:00:00Z', '2026-11-01T10:01:00Z').length,
      1,
      'a file removed by retention is not fetched again by a timer pass',
    );
    assert.equal(catalog.heldRanges(a, '2026-11-01T10:00:00Z', '2026-11-01T10:01:00Z', { includeDeleted: false }).length, 0, 'but an explicit backfill may');
  });

  it('a file found missing is no longer held, and a re-fetch with the same first frame replaces its row', () => {
    const cam = source.cameras[0].id;
    const f = catalog.recordDownload(file(cam, '2026-11-01T12:00:00Z', '2026-11-01T12:05:00Z', 100));
    assert.equal(catalog.markMissing([f.id]), 1);
    assert.deepEqual(catalog.heldRanges(cam, '2026-11-01T12:00:00Z', '2026-11-01T12:05:00Z'), []);
    const again = catalog.replaceDownload(f.id, { ...file(cam, '2026-11-01T12:00:00Z', '2026-11-01T12:05:00Z', 120), path: '/x/again.mp4' });
    assert.equal(again.status, 'done');
    assert.equal(again.bytes, 120);
    assert.equal(catalog.heldRanges(cam, '2026-11-01T12:00:00Z', '2026-11-01T12:05:00Z').length, 1);
  });

  it('confirms a span absent only after the NVR ended replays at the same point (within the tolerance) enough times', () => {
    const cam = source.cameras[0].id;
    const at = new Date('2026-11-01T13:00:30Z');
    const end = new Date('2026-11-01T13:10:00Z');
    assert.equal(catalog.noteShortfall(cam, at, end, 'ended early', 2000, 3).confirmed, false);
    assert.equal(catalog.noteShortfall(cam, new Date(at.getTime() + 1500), end, 'ended early', 2000, 3).attempts, 2, 'the same point within the tolerance');
    assert.equal(catalog.absentRanges(cam, at, end).length, 0);
    const third = catalog.noteShortfall(cam, at, end, 'ended early', 2000, 3);
    assert.equal(third.confirmed, true);
    assert.deepEqual(
      catalog.absentRanges(cam, '2026-11-01T13:00:00Z', '2026-11-01T14:00:00Z').map((r) => r.start.toISOString()),
      [at.toISOString()],
    );
    // A different point starts its own count; a later replay that gets past it clears it.
    assert.equal(catalog.noteShortfall(cam, new Date('2026-11-01T13:05:00Z'), end, 'ended early', 2000, 3).attempts, 1);
    // A confirmed point noted again (after another row was inserted) answers with that row.
    const again = catalog.noteShortfall(cam, at, end, 'ended early', 2000, 3);
    assert.deepEqual([again.startTime, again.confirmed, again.attempts], [at.toISOString(), true, 4], 'a confirmed point noted again is that row');
    catalog.clearShortfalls(cam, '2026-11-01T13:04:00Z', '2026-11-01T13:06:00Z');
    assert.equal(catalog.listAbsentSpans(cam).length, 1, 'confirmed spans stay');
  });

  it('schedules a confirmed span for a re-check, a day later and twice as long each time; only spans due, recent enough, a few at a time', () => {
    const cam = source.cameras[1].id;
    const now = new Date('2026-11-02T00:00:00Z');
    const day = 86_400_000;
    const recheck = { afterMs: day, now };
    // A permanent refusal confirms at once (confirmAfter 1) and is due a day later.
    const refused = catalog.noteShortfall(cam, new Date('2026-11-01T10:00:00Z'), new Date('2026-11-01T10:10:00Z'), '457', 0, 1, recheck);
    assert.deepEqual([refused.confirmed, refused.recheckAt], [true, '2026-11-03T00:00:00.000Z']);
    const old = catalog.noteShortfall(cam, new Date('2026-09-01T10:00:00Z'), new Date('2026-09-01T10:10:00Z'), '457', 0, 1, recheck);
    const due = (t: Date, limit = 4) => catalog.absentDueForRecheck(cam, t, new Date('2026-10-01T00:00:00Z'), limit).map((a) => a.id);
    assert.deepEqual(due(now), [], 'not before it is due');
    assert.deepEqual(due(new Date(now.getTime() + day)), [refused.id], 'due a day later; the span older than the age limit is not');
    assert.ok(old.recheckAt);
    // Re-checked: no longer held; one more short end confirms it again, due twice as long later.
    catalog.startRecheck([refused.id], 3);
    assert.equal(catalog.absentRanges(cam, '2026-11-01T10:00:00Z', '2026-11-01T10:10:00Z').length, 0);
    const later = new Date(now.getTime() + day);
    const again = catalog.noteShortfall(cam, new Date('2026-11-01T10:00:00Z'), new Date('2026-11-01T10:10:00Z'), 'ended early', 0, 3, {
      afterMs: day,
      now: later,
    });
    assert.deepEqual([again.confirmed, again.rechecks, again.recheckAt], [true, 1, '2026-11-05T00:00:00.000Z']);
    // A due span the NVR no longer lists: postponed, the back-off doubling again.
    catalog.postponeRecheck(again.id, day, later);
    assert.deepEqual(
      catalog
        .listAbsentSpans(cam)
        .filter((a) => a.id === again.id)
        .map((a) => [a.rechecks, a.recheckAt]),
      [[2, '2026-11-07T00:00:00.000Z']],
    );
    // A few at a time, the longest-waiting first.
    const more = [12, 13, 14].map((h) =>
      catalog.noteShortfall(cam, new Date(`2026-11-01T${h}:00:00Z`), new Date(`2026-11-01T${h}:10:00Z`), '457', 0, 1, recheck),
    );
    assert.deepEqual(due(new Date('2026-11-10T00:00:00Z'), 2), [more[0].id, more[1].id]);
    // Without a re-check setting a confirmed span is never due.
    const never = catalog.noteShortfall(cam, new Date('2026-11-01T11:00:00Z'), new Date('2026-11-01T11:10:00Z'), '457', 0, 1);
    assert.equal(never.recheckAt, null);
  });

  it('keeps the byte total per camera as files are added, deleted, changed or removed', () => {
    const [a, b] = source.cameras.map((c) => c.id);
    const f1 = catalog.recordDownload(file(a, '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z', 100));
    catalog.recordDownload(file(b, '2026-11-01T10:00:00Z', '2026-11-01T10:05:00Z', 200));
    const f3 = catalog.recordDownload(file(b, '2026-11-01T10:05:00Z', '2026-11-01T10:10:00Z', 300));
    assert.equal(catalog.totalBytes(source.id), 600);
    catalog.markDeleted([f3.id]);
    assert.equal(catalog.totalBytes(source.id), 300);
    catalog.markDeleted([f3.id]);
    assert.equal(catalog.totalBytes(source.id), 300, 'deleting twice counts once');
    // Direct SQL, as a later migration or a repair would do it: the triggers still hold.
    const db = (catalog as unknown as { db: import('better-sqlite3').Database }).db;
    db.prepare(`UPDATE downloaded_files SET status = 'done' WHERE id = ?`).run(f3.id);
    assert.equal(catalog.totalBytes(source.id), 600);
    db.prepare('UPDATE downloaded_files SET bytes = 150 WHERE id = ?').run(f1.id);
    assert.equal(catalog.totalBytes(source.id), 650);
    db.prepare('DELETE FROM downloaded_files WHERE id = ?').run(f3.id);
    assert.equal(catalog.totalBytes(source.id), 350);
    const sum = db.prepare(`SELECT SUM(bytes) AS s FROM downloaded_files WHERE status = 'done'`).get() as { s: number };
    assert.equal(sum.s, 350);
  });

  it('reads the oldest files across cameras in end-time order, lazily, past rows deleted meanwhile', () => {
    const ids = source.cameras.map((c) => c.id);
    const want: number[] = [];
    // Files alternating irregularly between the two cameras, many pages each.
    for (let i = 0; i < 300; i++) {
      const cam = ids[(i * 7) % 2];
      const start = new Date(Date.UTC(2026, 10, 1) + i * 60_000);
      want.push(catalog.recordDownload(file(cam, start.toISOString(), new Date(start.getTime() + 60_000).toISOString(), 10)).id);
    }
    const cursor = catalog.oldestDownloadsCursor(source.id, 16);
    const got: number[] = [];
    for (let f = cursor.next(); f; f = cursor.next()) {
      got.push(f.id);
      if (got.length === 100) catalog.markDeleted(want.slice(200, 220)); // beyond the pages already read
    }
    assert.deepEqual(got, [...want.slice(0, 200), ...want.slice(220)]);
    assert.deepEqual(
      catalog.oldestDownloads(source.id, 3).map((f) => f.id),
      want.slice(0, 3),
    );
  });
});
