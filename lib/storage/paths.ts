// Working directory checks and folder creation that never leaves the working directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { safeFolderName } from './names';
import { mkdirp } from './mkdirp';

export class StorageError extends Error {
  constructor(
    readonly code: 'not-absolute' | 'not-writable' | 'is-file' | 'low-space' | 'escape' | 'failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export interface ValidateOptions {
  /** Relative paths resolve against this (for the nodes: Node-RED's userDir). Without it they are refused. */
  baseDir?: string;
  /** Refuse when less than this many bytes are free. */
  minFreeBytes?: number;
}

/** Free bytes available to us on the filesystem holding `p` (or its nearest existing parent). */
export async function freeSpace(p: string): Promise<number> {
  let dir = path.resolve(p);
  for (;;) {
    try {
      const s = await fs.promises.statfs(dir);
      return s.bavail * s.bsize;
    } catch (err) {
      const parent = path.dirname(dir);
      if (errCode(err) !== 'ENOENT' || parent === dir) throw err;
      dir = parent;
    }
  }
}

/**
 * Resolves the working directory to an absolute path, creates it, proves it is writable by
 * writing and deleting a probe file, and reports the free space.
 */
export async function validateWorkingDirectory(dir: string, opts: ValidateOptions = {}): Promise<{ path: string; freeBytes: number }> {
  if (typeof dir !== 'string' || dir.trim() === '') throw new StorageError('not-absolute', 'working directory is empty');
  if (dir.includes('\0')) throw new StorageError('not-absolute', 'working directory contains a NUL character');
  if (!path.isAbsolute(dir) && !opts.baseDir) {
    throw new StorageError('not-absolute', `working directory ${dir} is not an absolute path`);
  }
  const abs = path.resolve(opts.baseDir ?? '/', dir);

  try {
    const st = await fs.promises.stat(abs);
    if (!st.isDirectory()) throw new StorageError('is-file', `working directory ${abs} is a file, not a folder`);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if (errCode(err) === 'ENOTDIR') throw new StorageError('is-file', `working directory ${abs} cannot be created: a parent is a file`, { cause: err });
    if (errCode(err) !== 'ENOENT') throw new StorageError('failed', `working directory ${abs}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await mkdirp(abs);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOTDIR' || code === 'EEXIST')
      throw new StorageError('is-file', `working directory ${abs} cannot be created: a parent is a file`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new StorageError('not-writable', `working directory ${abs} is not writable (cannot create it: ${code})`, { cause: err });
    }
    throw new StorageError('failed', `working directory ${abs} cannot be created: ${(err as Error).message}`, { cause: err });
  }
  const probe = path.join(abs, `.vtrack-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.promises.writeFile(probe, 'probe', { flag: 'wx' });
    await fs.promises.unlink(probe);
  } catch (err) {
    await fs.promises.rm(probe, { force: true }).catch(() => undefined);
    throw new StorageError('not-writable', `working directory ${abs} is not writable (${errCode(err) ?? (err as Error).message})`, { cause: err });
  }
  const freeBytes = await freeSpace(abs);
  if (opts.minFreeBytes !== undefined && freeBytes < opts.minFreeBytes) {
    throw new StorageError(
      'low-space',
      `working directory ${abs} has only ${Math.floor(freeBytes / 1e6)} MB free (need ${Math.ceil(opts.minFreeBytes / 1e6)} MB)`,
    );
  }
  return { path: abs, freeBytes };
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Creates each folder (and missing parents) under `workingDir`, refusing any path that is, or
 * passes through, a symlink or location outside the working directory — checked before
 * anything is created, so nothing is ever made outside.
 */
export async function ensureFolders(workingDir: string, folders: Iterable<string>): Promise<void> {
  const root = path.resolve(workingDir);
  const realRoot = await fs.promises.realpath(root);
  for (const folder of folders) {
    const abs = path.resolve(root, folder);
    if (!isInside(root, abs) || abs === root) {
      throw new StorageError('escape', `folder ${abs} is not inside the working directory ${root}`);
    }
    let current = root;
    for (const segment of path.relative(root, abs).split(path.sep)) {
      current = path.join(current, segment);
      let st: fs.Stats | undefined;
      try {
        st = await fs.promises.lstat(current);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
      }
      if (!st) {
        await fs.promises.mkdir(current).catch((err: unknown) => {
          if (errCode(err) !== 'EEXIST') throw err;
        });
        st = await fs.promises.lstat(current);
      }
      if (st.isSymbolicLink()) {
        const target = await fs.promises.realpath(current).catch(() => undefined);
        if (target === undefined || !isInside(realRoot, target)) {
          throw new StorageError('escape', `folder ${current} is a symlink that leads outside the working directory ${root}; refusing to use it`);
        }
        st = await fs.promises.stat(current);
      }
      if (!st.isDirectory()) throw new StorageError('is-file', `folder ${current} exists and is not a folder`);
    }
    const real = await fs.promises.realpath(abs);
    if (!isInside(realRoot, real)) {
      throw new StorageError('escape', `folder ${abs} resolves outside the working directory ${root}`);
    }
  }
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Default working directory for a source: `<userDir>/nvr_downloads/<safe source name>`. Inside
 * Home Assistant's Node-RED add-on (userDir `/config` or a SUPERVISOR_TOKEN in the environment)
 * with a writable `/media`, big media goes to `/media/vtrack/<safe source name>` instead.
 */
export function defaultWorkingDirectory(
  userDir: string,
  sourceName: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { mediaDir?: string } = {},
): string {
  const folder = safeFolderName(sourceName);
  const mediaDir = options.mediaDir ?? '/media';
  const inHomeAssistant = Boolean(env.SUPERVISOR_TOKEN) || path.resolve(userDir) === '/config';
  if (inHomeAssistant && writable(mediaDir)) return path.join(mediaDir, 'vtrack', folder);
  return path.join(path.resolve(userDir), 'nvr_downloads', folder);
}
