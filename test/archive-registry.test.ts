// The process-wide registry of archives: every user of one database file shares one Archive (one
// catalog, one engine), settings come from the first nvr-archive node (a second one on the file is
// warned), and the last user to leave closes it. Sources follow their claims. No network.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireArchive, openArchives, releaseArchive } from '../lib/archive/archive';
import { parseArchiveSettings } from '../lib/archive/settings';

describe('archive registry', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-archive-registry-'));
  });
  afterEach(async () => {
    for (const a of openArchives()) await a.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shares one Archive per resolved database file and closes it with its last user', async () => {
    const s = parseArchiveSettings({ dbPath: 'a.db' }, dir);
    const one = acquireArchive('n1', s, 'archive-node');
    const two = acquireArchive('n2', parseArchiveSettings({ dbPath: path.join(dir, 'a.db') }, '/elsewhere'), 'none');
    assert.equal(two.archive, one.archive, 'same file, relative or absolute: same archive');
    assert.equal(openArchives().length, 1);
    const other = acquireArchive('n3', parseArchiveSettings({ dbPath: 'b.db' }, dir), 'none');
    assert.notEqual(other.archive, one.archive);
    await releaseArchive('n1', s.dbFile);
    assert.ok(one.archive.catalog.isOpen, 'n2 still uses it');
    await releaseArchive('n2', s.dbFile);
    assert.ok(!one.archive.catalog.isOpen, 'closed with its last user');
    assert.deepEqual(openArchives(), [other.archive]);
    await releaseArchive('n3', other.archive.file);
  });

  it("applies the first archive node's settings and warns a second one that differs", async () => {
    const first = parseArchiveSettings({ dbPath: 'a.db', segmentMinutes: 2 }, dir);
    const legacy = parseArchiveSettings({ dbPath: 'a.db', segmentMinutes: 5 }, dir);
    const a = acquireArchive('legacy', legacy, 'legacy-node');
    assert.equal(a.archive.engine.settings.segmentMinutes, 5, 'a 0.1.0 nvr-sync configures an archive nobody else does');
    const b = acquireArchive('arch1', first, 'archive-node');
    assert.equal(b.warning, undefined);
    assert.equal(a.archive.engine.settings.segmentMinutes, 2, 'an nvr-archive node outranks it');
    const c = acquireArchive('arch2', parseArchiveSettings({ dbPath: 'a.db', segmentMinutes: 3, maxGB: 1 }, dir), 'archive-node');
    assert.match(c.warning ?? '', /whose settings apply \(differs in segmentMinutes, maxGB\)/);
    assert.equal(a.archive.engine.settings.segmentMinutes, 2);
    await releaseArchive('arch1', first.dbFile);
    assert.equal(a.archive.engine.settings.segmentMinutes, 3, 'the next archive node takes over');
    await releaseArchive('arch2', first.dbFile);
    await releaseArchive('legacy', first.dbFile);
  });

  it('marks sources nobody claims inactive, keeps claimed ones, and refuses to forget a claimed one', async () => {
    const s = parseArchiveSettings({ dbPath: 'a.db' }, dir);
    const { archive } = acquireArchive('arch', s, 'archive-node');
    const save = (name: string, nodeId: string) =>
      archive.catalog.saveSource({ nodeId, name, host: '127.0.0.1', ports: [1], workingDirectory: path.join(dir, name), cameras: [] });
    const kept = save('kept', 'node-kept');
    const gone = save('gone', 'node-gone');
    assert.equal(archive.claim('node-kept', { user: 'u', password: 'p' })?.id, kept.id, 'the source it saved before is resumed');
    assert.ok(archive.engine.hasSource(kept.id));
    assert.deepEqual(archive.reconcile(), [gone.id]);
    assert.equal(archive.catalog.getSource(gone.id)?.active, false);
    assert.equal(archive.catalog.getSource(kept.id)?.active, true);
    await assert.rejects(archive.forget('kept'), /still synced by a deployed nvr-source/);
    await archive.release('node-kept', true);
    assert.ok(!archive.engine.hasSource(kept.id), 'stops syncing');
    assert.equal(archive.catalog.getSource(kept.id)?.active, false, 'kept as inactive');
    const r = await archive.forget('kept');
    assert.equal(r.source, 'kept');
    assert.equal(archive.catalog.getSource(kept.id), undefined);
    await releaseArchive('arch', s.dbFile);
  });
});
