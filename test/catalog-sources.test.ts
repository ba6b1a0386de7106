// Saving NVR sources: one transaction for source + cameras + sync rows + camera paths,
// idempotent, disabling (never deleting) cameras that leave the selection.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Catalog, CatalogError, SourceNameTakenError, buildCameraPaths, openCatalog } from '../lib/catalog';
import type { CameraInput, SourceInput } from '../lib/catalog';

function camera(dir: string, name: string, port: number, token: string, extra: Partial<CameraInput> = {}): CameraInput {
  return {
    displayName: name,
    devicePort: port,
    videoSourceToken: token,
    profileToken: `${token}_main`,
    recordingToken: `REC_${token}`,
    codec: 'H264',
    width: 1920,
    height: 1080,
    fps: 25,
    folderPath: path.join(dir, name.replace(/ /g, '_')),
    ...extra,
  };
}

function seedSource(dir: string, over: Partial<SourceInput> = {}): SourceInput {
  return {
    nodeId: 'node-1',
    name: 'nvr_localhost',
    host: '127.0.0.1',
    ports: [1000, 1001, 1002],
    deviceUrn: 'urn:uuid:1',
    workingDirectory: dir,
    cameras: [camera(dir, 'Front Door Camera', 1000, 'VS1'), camera(dir, 'Back Yard', 1001, 'VS1'), camera(dir, 'Garage', 1002, 'VS1')],
    ...over,
  };
}

function count(file: string, table: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('catalog: saving sources', () => {
  let dir: string;
  let file: string;
  let catalog: Catalog;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-catalog-'));
    file = path.join(dir, 'vtrack-onvif.db');
    catalog = openCatalog(file);
  });
  afterEach(() => {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saves source, cameras, sync rows and camera paths, and returns them with ids', () => {
    const saved = catalog.saveSource(seedSource(dir, { intervalMinutes: 5 }));
    assert.equal(saved.changed, true);
    assert.equal(saved.name, 'nvr_localhost');
    assert.equal(saved.nodeId, 'node-1');
    assert.deepEqual(saved.ports, [1000, 1001, 1002]);
    assert.equal(saved.type, 'nvr');
    assert.deepEqual(
      saved.cameras.map((c) => [c.displayName, c.devicePort, c.enabled]),
      [
        ['Front Door Camera', 1000, true],
        ['Back Yard', 1001, true],
        ['Garage', 1002, true],
      ],
    );
    assert.ok(saved.cameras.every((c) => Number.isInteger(c.id) && c.sourceId === saved.id));
    assert.equal(saved.sync.intervalMinutes, 5);
    assert.equal(saved.sync.cameraId, null);
    const rows = catalog.listSyncStatus(saved.id);
    assert.equal(rows.length, 4, 'one source row and one per camera');
    assert.ok(rows.slice(1).every((r) => r.intervalMinutes === 5 && r.enabled));
    assert.deepEqual(catalog.getCameraPaths(), {
      'Front Door Camera': path.join(dir, 'Front_Door_Camera'),
      'Back Yard': path.join(dir, 'Back_Yard'),
      Garage: path.join(dir, 'Garage'),
    });
    assert.equal(count(file, 'video_sources'), 1);
    assert.equal(count(file, 'camera_configurations'), 3);
    assert.equal(count(file, 'sync_status'), 4);
    assert.deepEqual(catalog.getSourceByNodeId('node-1')?.id, saved.id);
    assert.deepEqual(catalog.getSource(saved.id)?.name, 'nvr_localhost');
    assert.equal(catalog.listSources().length, 1);
  });

  it('defaults the interval to 10 minutes', () => {
    assert.equal(catalog.saveSource(seedSource(dir)).sync.intervalMinutes, 10);
  });

  it('is idempotent: saving the same settings again changes nothing, not even updated_at', async () => {
    const first = catalog.saveSource(seedSource(dir));
    await new Promise((r) => setTimeout(r, 5));
    const second = catalog.saveSource(seedSource(dir));
    assert.equal(second.changed, false);
    assert.equal(second.updatedAt, first.updatedAt);
    assert.deepEqual(second.cameras, first.cameras);
    assert.equal(count(file, 'camera_configurations'), 3);
    assert.equal(count(file, 'sync_status'), 4);
  });

  it('bumps updated_at and reports changed when a camera setting changes', async () => {
    const first = catalog.saveSource(seedSource(dir));
    await new Promise((r) => setTimeout(r, 5));
    const input = seedSource(dir);
    input.cameras[0] = { ...input.cameras[0], codec: 'H265' };
    const second = catalog.saveSource(input);
    assert.equal(second.changed, true);
    assert.ok(second.updatedAt > first.updatedAt);
    assert.equal(second.cameras[0].id, first.cameras[0].id, 'same camera row, updated in place');
    assert.equal(second.cameras[0].codec, 'H265');
  });

  it('disables a camera removed from the selection and keeps its row, sync row and downloads', () => {
    const first = catalog.saveSource(seedSource(dir));
    const garage = first.cameras.find((c) => c.displayName === 'Garage');
    assert.ok(garage);
    catalog.recordDownload({
      cameraId: garage.id,
      recordingToken: 'REC_VS1',
      start: '2026-11-01T10:00:00Z',
      end: '2026-11-01T10:05:00Z',
      path: path.join(garage.folderPath, 'a.mp4'),
      bytes: 1000,
      codec: 'H264',
      frames: 125,
      width: 1920,
      height: 1080,
    });
    const input = seedSource(dir);
    input.cameras = input.cameras.filter((c) => c.displayName !== 'Garage');
    const second = catalog.saveSource(input);
    assert.equal(second.changed, true);
    const after = second.cameras.find((c) => c.id === garage.id);
    assert.equal(after?.enabled, false);
    assert.equal(catalog.listCameras(first.id, { enabledOnly: true }).length, 2);
    assert.equal(catalog.listCameras(first.id).length, 3);
    assert.equal(catalog.getSyncStatus(first.id, garage.id)?.enabled, false);
    assert.equal(catalog.listDownloads(garage.id).length, 1);
    assert.ok(!('Garage' in catalog.getCameraPaths()), 'a disabled camera leaves camera_paths');
    // Selecting it again re-enables the same row.
    const third = catalog.saveSource(seedSource(dir));
    assert.equal(third.cameras.find((c) => c.id === garage.id)?.enabled, true);
    assert.equal(catalog.getSyncStatus(first.id, garage.id)?.enabled, true);
  });

  it('finds the source by node id when it is renamed, and by name when saved without a node id', () => {
    const first = catalog.saveSource(seedSource(dir));
    const renamed = catalog.saveSource(seedSource(dir, { name: 'renamed' }));
    assert.equal(renamed.id, first.id);
    assert.equal(catalog.getSourceByName('nvr_localhost'), undefined);
    const byName = catalog.saveSource(seedSource(dir, { name: 'renamed', nodeId: null }));
    assert.equal(byName.id, first.id);
    assert.equal(byName.nodeId, 'node-1', 'a save without node id keeps the owner');
  });

  it('refuses a name owned by another node, unless told to adopt it', () => {
    catalog.saveSource(seedSource(dir));
    assert.throws(
      () => catalog.saveSource(seedSource(dir, { nodeId: 'node-2' })),
      (err: unknown) => err instanceof SourceNameTakenError && err.ownerNodeId === 'node-1' && /already exists/.test(err.message),
    );
    const adopted = catalog.saveSource(seedSource(dir, { nodeId: 'node-2' }), { adoptName: true });
    assert.equal(adopted.nodeId, 'node-2');
    assert.equal(catalog.listSources().length, 1);
  });

  it('refuses renaming a source onto another source name', () => {
    catalog.saveSource(seedSource(dir));
    catalog.saveSource(seedSource(dir, { nodeId: 'node-2', name: 'other' }));
    assert.throws(() => catalog.saveSource(seedSource(dir, { nodeId: 'node-2', name: 'nvr_localhost' })), SourceNameTakenError);
  });

  it('rejects invalid input before writing anything', () => {
    const cases: Array<Partial<SourceInput>> = [
      { name: ' ' },
      { host: '' },
      { ports: [] },
      { ports: [70000] },
      { workingDirectory: 'relative/dir' },
      { intervalMinutes: 0 },
      { cameras: [camera(dir, 'A', 9999, 'VS1')] },
      { cameras: [camera(dir, 'A', 1000, 'VS1'), camera(dir, 'B', 1000, 'VS1')] },
    ];
    for (const c of cases) {
      assert.throws(
        () => catalog.saveSource(seedSource(dir, c)),
        (err: unknown) => err instanceof CatalogError && err.code === 'invalid-input',
      );
    }
    assert.equal(count(file, 'video_sources'), 0);
  });

  it('rolls back everything when an insert fails midway', () => {
    const first = catalog.saveSource(seedSource(dir));
    // Make the third camera insert fail inside the transaction (after source update and the
    // first cameras were written) with a trigger — a stand-in for a disk or constraint error.
    const raw = new Database(file);
    raw.exec(`CREATE TRIGGER fail_on_boom BEFORE INSERT ON camera_configurations
              WHEN NEW.display_name = 'Boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`);
    raw.close();
    const input = seedSource(dir, { host: '127.0.0.2' });
    input.cameras = [camera(dir, 'New One', 1000, 'VS9'), ...input.cameras.slice(1), camera(dir, 'Boom', 1002, 'VS7')];
    assert.throws(() => catalog.saveSource(input), /boom/);
    const after = catalog.getSavedSource(first.id);
    assert.ok(after);
    assert.equal(after.host, '127.0.0.1');
    assert.equal(after.updatedAt, first.updatedAt);
    assert.deepEqual(after.cameras, first.cameras, 'no camera added and none disabled');
    assert.equal(catalog.listSyncStatus(first.id).length, 4);
    assert.deepEqual(Object.keys(catalog.getCameraPaths()).sort(), ['Back Yard', 'Front Door Camera', 'Garage']);
  });

  it('keys camera_paths by "<source> / <camera>" when two sources share a camera name', () => {
    const other = path.join(dir, 'other');
    catalog.saveSource(seedSource(dir));
    catalog.saveSource({
      nodeId: 'node-2',
      name: 'second nvr',
      host: '127.0.0.1',
      ports: [2000],
      workingDirectory: other,
      cameras: [camera(other, 'Garage', 2000, 'VS1')],
    });
    assert.deepEqual(catalog.getCameraPaths(), {
      'Back Yard': path.join(dir, 'Back_Yard'),
      'Front Door Camera': path.join(dir, 'Front_Door_Camera'),
      'nvr_localhost / Garage': path.join(dir, 'Garage'),
      'second nvr / Garage': path.join(other, 'Garage'),
    });
  });

  it('camera_paths stays a unique map when one source has the same name twice', () => {
    const paths = buildCameraPaths([
      { sourceName: 's', displayName: 'Cam', devicePort: 80, videoSourceToken: 'A', folderPath: '/w/Cam' },
      { sourceName: 's', displayName: 'Cam', devicePort: 80, videoSourceToken: 'B', folderPath: '/w/Cam_2' },
    ]);
    assert.deepEqual(paths, { 's / Cam [80/A]': '/w/Cam', 's / Cam [80/B]': '/w/Cam_2' });
  });

  it('has no column that could hold a credential', () => {
    const db = new Database(file, { readonly: true });
    try {
      const cols = (
        db.prepare(`SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'`).all() as Array<{ c: string }>
      ).map((r) => r.c);
      assert.ok(cols.length > 30);
      assert.ok(!cols.some((c) => /pass|secret|cred|user/i.test(c)), cols.join(','));
    } finally {
      db.close();
    }
  });
});
