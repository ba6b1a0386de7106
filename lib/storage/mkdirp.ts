// mkdir -p without `{recursive: true}`: Node 20's recursive mkdir spins forever on some virtual
// filesystems (e.g. a path under /proc), which would hang the whole Node-RED process.
import * as fs from 'node:fs';
import * as path from 'node:path';

function missingChain(abs: string, exists: (p: string) => boolean): string[] {
  const chain: string[] = [];
  let dir = abs;
  while (!exists(dir)) {
    chain.unshift(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return chain;
}

function existsSync(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}

export function mkdirpSync(dir: string): void {
  for (const d of missingChain(path.resolve(dir), existsSync)) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
}

export async function mkdirp(dir: string): Promise<void> {
  // Existence checks are cheap and few (one per missing level), so the sync form is fine here.
  for (const d of missingChain(path.resolve(dir), existsSync)) {
    try {
      await fs.promises.mkdir(d);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
}
