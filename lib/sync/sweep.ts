// What an interrupted sync (crash, kill -9, power loss) can leave in a camera folder, put right
// before the next pass: `.part` files (never complete: removed) and finished files renamed into
// place whose catalog row was never written (complete — the rename comes after fsync — so they
// are catalogued from their name, not thrown away: the NVR may have overwritten that range since).
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog, CameraRow } from '../catalog';
import { parseSegmentName } from './naming';

export interface SweepResult {
  partsRemoved: number;
  adopted: number;
}

export async function sweepCameraFolder(catalog: Catalog, camera: CameraRow): Promise<SweepResult> {
  const result: SweepResult = { partsRemoved: 0, adopted: 0 };
  const files = await listCameraFiles(camera.folderPath);
  const known = files.length ? catalog.pathsOfCamera(camera.id) : new Set<string>();
  for (const file of files) {
    if (file.endsWith('.part')) {
      await rm(file, { force: true });
      result.partsRemoved++;
      continue;
    }
    // Another camera's row for the file (never written by us, but possible in an edited catalog) counts too.
    if (!file.endsWith('.mp4') || known.has(file) || catalog.downloadByPath(file)) continue;
    const times = parseSegmentName(file);
    if (!times) continue; // not ours: leave the user's files alone
    const same = catalog.downloadStartingAt(camera.id, times.start);
    if (same && same.status !== 'missing') continue; // already held under another name
    const bytes = (await stat(file)).size;
    const input = {
      cameraId: camera.id,
      recordingToken: camera.recordingToken ?? '',
      start: times.start,
      end: times.end,
      path: file,
      bytes,
      codec: camera.codec,
      frames: 0, // unknown without decoding; the row's range is what coverage needs
      width: camera.width,
      height: camera.height,
    };
    if (same) catalog.replaceDownload(same.id, input);
    else catalog.recordDownload(input);
    result.adopted++;
  }
  return result;
}

/** Files in the camera folder and its day folders (the layout segmentPath writes). */
export async function listCameraFiles(folder: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(folder, e.name);
    if (e.isFile()) out.push(p);
    else if (e.isDirectory()) {
      for (const f of await readdir(p, { withFileTypes: true }).catch(() => [])) if (f.isFile()) out.push(join(p, f.name));
    }
  }
  return out;
}
