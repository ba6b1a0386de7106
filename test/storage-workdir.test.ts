// Working directory: resolved, created, proven writable, free space reported; defaults under
// userDir or, in Home Assistant's add-on, under /media.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultWorkingDirectory, freeSpace, StorageError, validateWorkingDirectory } from '../lib/storage';

describe('storage: working directory', () => {
  let base: string;
  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-workdir-'));
  });
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  it('creates a missing directory, leaves no probe file and reports free space', async () => {
    const dir = path.join(base, 'a', 'b', 'c');
    const result = await validateWorkingDirectory(dir);
    assert.equal(result.path, dir);
    assert.ok(fs.statSync(dir).isDirectory());
    assert.deepEqual(fs.readdirSync(dir), []);
    assert.ok(result.freeBytes > 0);
    // Other processes write meanwhile: the two readings agree closely, not exactly.
    assert.ok(Math.abs(result.freeBytes - (await freeSpace(dir))) < 512 * 1024 * 1024);
  });

  it('resolves a relative path against the given base and refuses it without one', async () => {
    const result = await validateWorkingDirectory('downloads/../media', { baseDir: base });
    assert.equal(result.path, path.join(base, 'media'));
    await assert.rejects(validateWorkingDirectory('downloads'), (e: unknown) => e instanceof StorageError && e.code === 'not-absolute');
    await assert.rejects(validateWorkingDirectory(''), StorageError);
  });

  it('says so when the path is a file', async () => {
    const file = path.join(base, 'file');
    fs.writeFileSync(file, 'x');
    await assert.rejects(
      validateWorkingDirectory(file),
      (e: unknown) => e instanceof StorageError && e.message === `working directory ${file} is a file, not a folder`,
    );
    await assert.rejects(validateWorkingDirectory(path.join(file, 'sub')), (e: unknown) => e instanceof StorageError && e.code === 'is-file');
  });

  it('says "is not writable" when it cannot write there', async function () {
    let dir: string;
    if (process.getuid?.() === 0) {
      dir = '/sys/vtrack-onvif-test'; // root ignores mode bits; sysfs refuses even root
      if (!fs.existsSync('/sys')) this.skip();
    } else {
      dir = path.join(base, 'locked');
      fs.mkdirSync(dir, { mode: 0o555 });
    }
    try {
      await assert.rejects(
        validateWorkingDirectory(dir),
        (e: unknown) => e instanceof StorageError && e.message.startsWith(`working directory ${dir} is not writable`),
      );
    } finally {
      if (dir.startsWith(base)) fs.chmodSync(dir, 0o755);
    }
  });

  it('refuses when free space is below the minimum', async () => {
    await assert.rejects(
      validateWorkingDirectory(base, { minFreeBytes: Number.MAX_SAFE_INTEGER }),
      (e: unknown) => e instanceof StorageError && e.code === 'low-space',
    );
  });

  it('defaults to <userDir>/nvr_downloads/<safe source name>', () => {
    assert.equal(defaultWorkingDirectory('/home/u/.node-red', 'nvr localhost', {}), '/home/u/.node-red/nvr_downloads/nvr_localhost');
    assert.equal(defaultWorkingDirectory('/home/u/.node-red', '../../x', {}), '/home/u/.node-red/nvr_downloads/x');
  });

  it('uses /media/vtrack/<source> inside the Home Assistant add-on when /media is writable', () => {
    const media = path.join(base, 'media');
    fs.mkdirSync(media);
    assert.equal(defaultWorkingDirectory('/config', 'NVR', {}, { mediaDir: media }), path.join(media, 'vtrack', 'NVR'));
    assert.equal(defaultWorkingDirectory('/data/nr', 'NVR', { SUPERVISOR_TOKEN: 'x' }, { mediaDir: media }), path.join(media, 'vtrack', 'NVR'));
    assert.equal(defaultWorkingDirectory('/config', 'NVR', {}, { mediaDir: path.join(base, 'no-media') }), '/config/nvr_downloads/NVR');
  });
});
