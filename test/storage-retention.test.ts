// Retention picks the oldest files first and deleting tolerates files already gone.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deleteFiles, pickForRetention } from '../lib/storage';

const now = new Date('2026-11-10T00:00:00Z');
const day = 86_400_000;
const files = [
  { id: 3, endTime: new Date(now.getTime() - 1 * day), bytes: 300 },
  { id: 1, endTime: new Date(now.getTime() - 10 * day), bytes: 100 },
  { id: 2, endTime: new Date(now.getTime() - 5 * day), bytes: 200 },
];

describe('storage: retention', () => {
  it('picks files older than maxAgeDays, oldest first', () => {
    assert.deepEqual(pickForRetention(files, { maxAgeDays: 3, now }), [1, 2]);
    assert.deepEqual(pickForRetention(files, { maxAgeDays: 30, now }), []);
  });

  it('picks oldest files until the rest fits in maxBytes', () => {
    assert.deepEqual(pickForRetention(files, { maxBytes: 500, now }), [1]);
    assert.deepEqual(pickForRetention(files, { maxBytes: 450, now }), [1, 2]);
    assert.deepEqual(pickForRetention(files, { maxBytes: 600, now }), []);
    assert.deepEqual(pickForRetention(files, { maxBytes: 0, now }), [1, 2, 3]);
  });

  it('combines both rules and keeps everything with no rule', () => {
    assert.deepEqual(pickForRetention(files, { maxAgeDays: 7, maxBytes: 550, now }), [1], 'age rule alone frees enough');
    assert.deepEqual(pickForRetention(files, { maxAgeDays: 7, maxBytes: 450, now }), [1, 2], 'size rule goes further');
    assert.deepEqual(pickForRetention(files, { maxAgeDays: 2, maxBytes: 10_000, now }), [1, 2], 'age rule goes further');
    assert.deepEqual(pickForRetention(files, { now }), []);
  });

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
});
