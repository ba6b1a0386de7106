// Camera folder names: safe, unique, stable — and nothing a camera name can say gets a folder
// outside the working directory.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignCameraFolders, ensureFolders, safeFolderName, StorageError } from '../lib/storage';

const HOSTILE = [
  '../../etc',
  '..',
  '.',
  '/abs/path',
  '/',
  'C:\\Windows\\System32',
  'nul\u0000byte',
  'line\nbreak\ttab',
  'x'.repeat(300),
  'é'.repeat(300),
  '🎥📷 cam 👨‍👩‍👧‍👦'.repeat(20),
  'CON',
  'con.txt',
  'LPT1',
  'Front Door',
  'front door',
  'a/b',
  'a_b',
  'a\\b',
  '',
  '   ',
  '.hidden',
  '...',
  '<>:"|?*',
  '\u202Egnp.exe',
  'Front\u200BDoor',
  '$(reboot)',
  '-rf',
];

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

describe('storage: safe folder names', () => {
  it('turns a display name into a plain folder name', () => {
    assert.equal(safeFolderName('Front Door Camera'), 'Front_Door_Camera');
    assert.equal(safeFolderName('  Cam  1 '), 'Cam_1');
    assert.equal(safeFolderName('Caméra Entrée'), 'Caméra_Entrée');
  });

  it('never yields separators, dot names, NUL or control characters, or an empty name', () => {
    for (const name of HOSTILE) {
      const safe = safeFolderName(name);
      assert.ok(safe.length > 0, JSON.stringify(name));
      assert.ok(!/[/\\\u0000-\u001f]/.test(safe), `${JSON.stringify(name)} → ${safe}`);
      assert.ok(!safe.startsWith('.'), `${JSON.stringify(name)} → ${safe}`);
      assert.equal(path.basename(safe), safe);
    }
    assert.equal(safeFolderName('../../etc'), 'etc');
    assert.equal(safeFolderName('..'), 'camera');
    assert.equal(safeFolderName(''), 'camera');
    assert.equal(safeFolderName('/abs/path'), 'abs_path');
    assert.equal(safeFolderName('nul\u0000byte'), 'nul_byte');
  });

  it('avoids Windows device names', () => {
    assert.equal(safeFolderName('CON'), 'CON_');
    assert.equal(safeFolderName('con.txt'), 'con.txt_');
    assert.equal(safeFolderName('LPT1'), 'LPT1_');
    assert.equal(safeFolderName('CONSOLE'), 'CONSOLE');
  });

  it('limits names to 100 UTF-8 bytes without cutting a character', () => {
    assert.equal(Buffer.byteLength(safeFolderName('x'.repeat(300))), 100);
    const accented = safeFolderName('é'.repeat(300));
    assert.equal(Buffer.byteLength(accented), 100);
    assert.ok(!accented.includes('\ufffd'));
    const family = '👨‍👩‍👧‍👦';
    const emoji = safeFolderName(family.repeat(20));
    assert.ok(Buffer.byteLength(emoji) <= 100);
    assert.equal(emoji, family.repeat(emoji.length / family.length), 'only whole emoji');
  });
});

describe('storage: invisible and shell-special characters in names (issue 11)', () => {
  it('drops bidi overrides, embeddings, isolates and marks, so a name cannot read differently on screen', () => {
    // U+202E shows "Cam_exe.mp4" as "Cam_4pm.exe" in a file browser.
    assert.equal(safeFolderName('Cam\u202Eexe.mp4'), 'Camexe.mp4');
    for (const c of ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C']) {
      assert.equal(safeFolderName(`Front${c}Door`), 'FrontDoor', `U+${c.codePointAt(0)?.toString(16)}`);
    }
  });

  it('drops zero-width and other invisible characters, so look-alike names share a folder name', () => {
    for (const c of ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD', '\u180E', '\u034F', '\u3164', '\u{E0041}']) {
      assert.equal(safeFolderName(`Gar${c}age`), 'Garage', `U+${c.codePointAt(0)?.toString(16)}`);
    }
    const folders = assignCameraFolders('/w', [
      { key: 'a', name: 'Garage' },
      { key: 'b', name: 'Gar\u200Bage' },
    ]);
    assert.deepEqual([...folders.values()], [path.join('/w', 'Garage'), path.join('/w', 'Garage_2')], 'the look-alike is numbered, not hidden');
  });

  it('keeps a zero-width joiner inside an emoji sequence (visible as one emoji)', () => {
    assert.equal(safeFolderName('cam 👨\u200D👩\u200D👧'), 'cam_👨\u200D👩\u200D👧');
    assert.equal(safeFolderName('a\u200D👩'), 'a👩');
  });

  it('composes accents after dropping invisible characters, so a cleaned name stays the same when cleaned again', () => {
    // Found by `npm run fuzz`: U+202E between "L" and a combining acute kept them apart.
    const once = safeFolderName('L\u202E\u0301x');
    assert.equal(once, '\u0139x');
    assert.equal(safeFolderName(once), once);
  });

  it('turns control characters and lone surrogates into "_"', () => {
    assert.equal(safeFolderName('a\u0007b\u009Bc'), 'a_b_c');
    assert.equal(safeFolderName('a\uD800b'), 'a_b');
    assert.ok(!safeFolderName('x\uDFFF').includes('\uFFFD'));
  });

  it('turns shell-special characters into "_" and drops a leading dash, so a path is safe in an exec node', () => {
    assert.equal(safeFolderName('$(reboot)'), 'reboot');
    assert.equal(safeFolderName('a & del *'), 'a_del');
    assert.equal(safeFolderName('`id`;ls|sh'), 'id_ls_sh');
    assert.equal(safeFolderName("Bob's Garage (East) #2 ~ 100%!"), 'Bob_s_Garage_East_2_100');
    assert.equal(safeFolderName('-rf'), 'rf');
    assert.equal(safeFolderName('{a,b}[c]^d'), 'a,b_c_d');
  });
});

describe('storage: assigning and creating camera folders', () => {
  let work: string;
  let outside: string;
  beforeEach(() => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-storage-'));
    work = path.join(base, 'work');
    outside = path.join(base, 'outside');
    fs.mkdirSync(work);
    fs.mkdirSync(outside);
  });
  afterEach(() => fs.rmSync(path.dirname(work), { recursive: true, force: true }));

  it('gives hostile names unique folders that all stay inside the working directory', async () => {
    const cams = HOSTILE.map((name, i) => ({ key: `k${i}`, name }));
    const folders = assignCameraFolders(work, cams);
    assert.equal(folders.size, HOSTILE.length);
    const lower = new Set([...folders.values()].map((f) => f.toLowerCase()));
    assert.equal(lower.size, HOSTILE.length, 'unique even ignoring case');
    for (const f of folders.values()) {
      assert.ok(inside(work, f), f);
      assert.equal(path.dirname(f), work, 'one level below the working directory');
      assert.ok(Buffer.byteLength(path.basename(f)) <= 100);
    }
    await ensureFolders(work, folders.values());
    const realWork = fs.realpathSync(work);
    for (const f of folders.values()) {
      assert.ok(fs.statSync(f).isDirectory());
      assert.ok(inside(realWork, fs.realpathSync(f)), f);
    }
    assert.deepEqual(fs.readdirSync(outside), []);
    assert.equal(fs.readdirSync(work).length, HOSTILE.length);
  });

  it('numbers duplicates: the second "Front Door Camera" gets Front_Door_Camera_2', () => {
    const folders = assignCameraFolders(work, [
      { key: 'a', name: 'Front Door Camera' },
      { key: 'b', name: 'Front Door Camera' },
      { key: 'c', name: 'front door camera' },
      { key: 'd', name: 'Front/Door/Camera' },
    ]);
    assert.deepEqual(
      [...folders.values()].map((f) => path.basename(f)),
      ['Front_Door_Camera', 'Front_Door_Camera_2', 'front_door_camera_3', 'Front_Door_Camera_4'],
    );
  });

  it('keeps the folder of a key already assigned, even if the name changed or a new camera wants it', () => {
    const existing = new Map([
      ['a', path.join(work, 'Front_Door_Camera')],
      ['gone', path.join(work, 'Garage')],
    ]);
    const folders = assignCameraFolders(
      work,
      [
        { key: 'new', name: 'Front Door Camera' },
        { key: 'a', name: 'Renamed Camera' },
        { key: 'g2', name: 'Garage' },
      ],
      existing,
    );
    assert.equal(folders.get('a'), path.join(work, 'Front_Door_Camera'));
    assert.equal(folders.get('new'), path.join(work, 'Front_Door_Camera_2'));
    assert.equal(folders.get('g2'), path.join(work, 'Garage_2'), "a disabled camera's folder stays reserved");
    assert.ok(!folders.has('gone'));
  });

  it('moves kept folder names under a new working directory', () => {
    const moved = assignCameraFolders(path.join(work, 'new'), [{ key: 'a', name: 'x' }], new Map([['a', '/old/place/Front_Door_Camera']]));
    assert.equal(moved.get('a'), path.join(work, 'new', 'Front_Door_Camera'));
  });

  it('keeps numbered names within the byte limit', () => {
    const long = 'x'.repeat(300);
    const folders = assignCameraFolders(work, [
      { key: 'a', name: long },
      { key: 'b', name: long },
    ]);
    const second = path.basename(folders.get('b') ?? '');
    assert.ok(second.endsWith('_2'));
    assert.equal(Buffer.byteLength(second), 100);
  });

  it('refuses a pre-existing symlink inside the working directory that points outside', async () => {
    fs.symlinkSync(outside, path.join(work, 'Front_Door_Camera'));
    const folders = assignCameraFolders(work, [{ key: 'a', name: 'Front Door Camera' }]);
    await assert.rejects(ensureFolders(work, folders.values()), (err: unknown) => err instanceof StorageError && err.code === 'escape');
    await assert.rejects(ensureFolders(work, [path.join(work, 'Front_Door_Camera', 'deeper')]), StorageError);
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing was created outside');
  });

  it('accepts a symlink that stays inside the working directory', async () => {
    fs.mkdirSync(path.join(work, 'real'));
    fs.symlinkSync(path.join(work, 'real'), path.join(work, 'alias'));
    await ensureFolders(work, [path.join(work, 'alias')]);
  });

  it('refuses paths outside the working directory and a file in the way', async () => {
    await assert.rejects(ensureFolders(work, [path.join(work, '..', 'outside', 'x')]), (e: unknown) => e instanceof StorageError && e.code === 'escape');
    await assert.rejects(ensureFolders(work, [work]), StorageError);
    fs.writeFileSync(path.join(work, 'file'), 'x');
    await assert.rejects(ensureFolders(work, [path.join(work, 'file')]), (e: unknown) => e instanceof StorageError && e.code === 'is-file');
    assert.deepEqual(fs.readdirSync(outside), []);
  });
});
