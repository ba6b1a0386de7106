// Verify an archive: compare, per camera, what the catalog says, what is on disk and (when the
// NVR answers) what the NVR recorded. Finds files missing or cut short on disk, finished files
// the catalog does not list, stale `.part` files and holes in coverage. With `fix`, what is wrong
// is put right the safe way: missing files are marked so the next pass fetches them again (when
// `refetch` is on), stale `.part` files removed, orphans catalogued. It never deletes a finished
// file, and never because the NVR no longer has a range.
import { stat } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { Catalog, CameraRow, VideoSourceRow } from '../catalog';
import type { Credentials } from '../credentials';
import { errorMessage } from '../errors';
import { mergeRanges, subtractRanges, totalMs, type TimeRange } from '../time/range';
import { driverFor } from './drivers';
import type { SourceSession } from './driver';
import { listCameraFiles, sweepCameraFolder } from './sweep';
import { parseSegmentName } from './naming';

export interface VerifyOptions {
  /** Only sources whose working directory is inside this folder. */
  dir?: string;
  /** Only this source. */
  sourceId?: number;
  /** Login for a source's NVR; without one the NVR is not asked (catalog and disk only). */
  credentialsFor?(source: VideoSourceRow): Credentials | undefined;
  /** The source's connection opt-ins (https with a self-signed certificate). */
  accessFor?(source: VideoSourceRow): { acceptSelfSigned?: boolean } | undefined;
  /** Put right what can be: mark missing, remove stale .part, adopt orphans. Default false. */
  fix?: boolean;
  /** With fix: move the synced point back so the next pass fetches missing files. Default true. */
  refetch?: boolean;
  toleranceSec?: number;
  timeoutMs?: number;
  now?: Date;
}

export interface FileProblem {
  path: string;
  start: string;
  end: string;
  /** missing: not on disk; truncated: shorter than the catalog says. */
  problem: 'missing' | 'truncated';
  bytes?: number;
  expectedBytes?: number;
}

export interface CameraReport {
  source: string;
  sourceId: number;
  camera: string;
  cameraId: number;
  folder: string;
  files: number;
  heldSec: number;
  /** The window looked at: the first held file (or the NVR's first data) to now. */
  from?: string;
  to?: string;
  bad: FileProblem[];
  /** Finished files of ours on disk that the catalog does not list. */
  unrecorded: string[];
  staleParts: string[];
  /** Confirmed absent on the NVR (replays kept ending there). */
  absent: Array<{ start: string; end: string }>;
  /** What the NVR recorded in the window and what of it the camera does not hold. Absent when the
   * NVR was not asked or did not answer (see nvrError). */
  recordedSec?: number;
  holes?: Array<{ start: string; end: string; sec: number }>;
  nvrError?: string;
  /** One character per slice of the window: █ held, ░ recorded but not held, x absent on the NVR,
   * space nothing recorded (or, without the NVR, not held). */
  timeline: string;
  fixed?: { markedMissing: number; partsRemoved: number; adopted: number };
}

export interface VerifyReport {
  cameras: CameraReport[];
  /** True when nothing is wrong: no bad, unrecorded or stale file, and no hole the NVR could fill. */
  clean: boolean;
}

const TIMELINE_WIDTH = 60;

export async function verifyArchive(catalog: Catalog, o: VerifyOptions = {}): Promise<VerifyReport> {
  const now = o.now ?? new Date();
  const tolMs = (o.toleranceSec ?? 2) * 1000;
  const cameras: CameraReport[] = [];
  for (const source of catalog.listSources()) {
    if (o.sourceId !== undefined && source.id !== o.sourceId) continue;
    if (o.dir && !isInside(source.workingDirectory, o.dir)) continue;
    const creds = o.credentialsFor?.(source);
    // One session per device port: a vendor NVR then sees one login, not one per camera.
    const sessions = new Map<number, Promise<SourceSession>>();
    const sessionFor = (port: number) => {
      let p = sessions.get(port);
      if (!p) {
        p = driverFor(source.driver).open({
          host: source.host,
          port,
          credentials: creds,
          acceptSelfSigned: o.accessFor?.(source)?.acceptSelfSigned,
          timeoutMs: o.timeoutMs ?? 10_000,
        });
        sessions.set(port, p);
      }
      return p;
    };
    for (const camera of catalog.listCameras(source.id)) {
      cameras.push(await verifyCamera(catalog, source, camera, creds, o, now, tolMs, sessionFor));
    }
  }
  const clean = cameras.every((c) => c.bad.length === 0 && c.unrecorded.length === 0 && c.staleParts.length === 0 && (c.holes?.length ?? 0) === 0);
  return { cameras, clean };
}

async function verifyCamera(
  catalog: Catalog,
  source: VideoSourceRow,
  camera: CameraRow,
  creds: Credentials | undefined,
  o: VerifyOptions,
  now: Date,
  tolMs: number,
  sessionFor: (port: number) => Promise<SourceSession>,
): Promise<CameraReport> {
  const rows = catalog.listDownloads(camera.id, { status: 'done' });
  const bad: FileProblem[] = [];
  for (const f of rows) {
    const size = await stat(f.path).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) bad.push({ path: f.path, start: f.startTime, end: f.endTime, problem: 'missing' });
    else if (size < f.bytes) bad.push({ path: f.path, start: f.startTime, end: f.endTime, problem: 'truncated', bytes: size, expectedBytes: f.bytes });
  }
  const onDisk = await listCameraFiles(camera.folderPath);
  const staleParts = onDisk.filter((p) => p.endsWith('.part'));
  const unrecorded = onDisk.filter((p) => p.endsWith('.mp4') && parseSegmentName(p) && !catalog.downloadByPath(p));

  const badPaths = new Set(bad.map((b) => b.path));
  const held = mergeRanges(rows.filter((f) => !badPaths.has(f.path)).map((f) => ({ start: new Date(f.startTime), end: new Date(f.endTime) })));
  const absentRows = catalog.listAbsentSpans(camera.id).filter((a) => a.confirmed);
  const absent = absentRows.map((a) => ({ start: new Date(a.startTime), end: new Date(a.endTime) }));

  const report: CameraReport = {
    source: source.name,
    sourceId: source.id,
    camera: camera.displayName,
    cameraId: camera.id,
    folder: camera.folderPath,
    files: rows.length,
    heldSec: Math.round(totalMs(held) / 1000),
    bad,
    unrecorded,
    staleParts,
    absent: absentRows.map((a) => ({ start: a.startTime, end: a.endTime })),
    timeline: '',
  };

  // The window: from the first held file to the synced point (or now); the NVR may widen its start.
  const synced = catalog.getSyncStatus(source.id, camera.id)?.lastSyncedUntil;
  let from = rows.length ? new Date(rows[0].startTime) : undefined;
  const to = synced ? new Date(synced) : now;
  let recorded: TimeRange[] | undefined;
  if (creds && camera.enabled) {
    try {
      const session = await sessionFor(camera.devicePort);
      const rec = session.recordingChoice(camera, catalog.listCameras(source.id).filter((c) => c.devicePort === camera.devicePort).length)?.recording;
      if (!rec) throw new Error(`no recording on the NVR for this camera`);
      const searchFrom = from ?? new Date(to.getTime() - 86_400_000);
      recorded = (await session.recordedRanges(rec, searchFrom, to)).intervals;
      from = searchFrom;
    } catch (e) {
      report.nvrError = errorMessage(e);
    }
  }
  if (from && from < to) {
    report.from = from.toISOString();
    report.to = to.toISOString();
    if (recorded) {
      const holes = subtractRanges(recorded, [...held, ...absent], tolMs);
      report.recordedSec = Math.round(totalMs(recorded) / 1000);
      report.holes = holes
        .map((h) => ({ start: h.start.toISOString(), end: h.end.toISOString(), sec: Math.round((h.end.getTime() - h.start.getTime()) / 1000) }))
        .sort((a, b) => b.sec - a.sec);
    }
    report.timeline = timeline({ start: from, end: to }, held, recorded, absent);
  }

  if (o.fix) {
    const missingIds = rows.filter((f) => badPaths.has(f.path)).map((f) => f.id);
    const markedMissing = missingIds.length ? catalog.markMissing(missingIds) : 0;
    const swept = await sweepCameraFolder(catalog, camera);
    if (markedMissing && o.refetch !== false) {
      // The synced point never passes a hole: bring it back to the first missing file.
      const first = bad.map((b) => b.start).sort()[0];
      if (first && (!synced || first < synced)) catalog.updateSyncStatus(source.id, camera.id, { lastSyncedUntil: first });
    }
    report.fixed = { markedMissing, partsRemoved: swept.partsRemoved, adopted: swept.adopted };
  }
  return report;
}

function timeline(win: TimeRange, held: readonly TimeRange[], recorded: readonly TimeRange[] | undefined, absent: readonly TimeRange[]): string {
  const span = win.end.getTime() - win.start.getTime();
  const slice = span / TIMELINE_WIDTH;
  let out = '';
  for (let i = 0; i < TIMELINE_WIDTH; i++) {
    const cell = { start: new Date(win.start.getTime() + i * slice), end: new Date(win.start.getTime() + (i + 1) * slice) };
    const part = (rs: readonly TimeRange[]) => totalMs(rs.flatMap((r) => clip(r, cell))) / slice;
    const rec = recorded ? part(recorded) : 1;
    const missing = recorded
      ? totalMs(
          subtractRanges(
            recorded.flatMap((r) => clip(r, cell)),
            [...held, ...absent],
          ),
        ) / slice
      : 0;
    if (recorded && missing > 0.01) out += '░';
    else if (part(absent) > 0.5) out += 'x';
    else if (part(held) > 0.5 || (recorded && rec > 0.01)) out += '█';
    else out += ' ';
  }
  return out;
}

function clip(r: TimeRange, w: TimeRange): TimeRange[] {
  const start = r.start > w.start ? r.start : w.start;
  const end = r.end < w.end ? r.end : w.end;
  return end > start ? [{ start, end }] : [];
}

function isInside(p: string, dir: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** A short text summary, one block per camera (the CLI's default output). */
export function formatVerifyReport(r: VerifyReport): string {
  const lines: string[] = [];
  for (const c of r.cameras) {
    const h = (sec: number) => (sec >= 3600 ? `${(sec / 3600).toFixed(1)} h` : sec >= 60 ? `${Math.round(sec / 60)} min` : `${sec} s`);
    const rec = c.recordedSec !== undefined ? ` of ${h(c.recordedSec)} recorded` : '';
    lines.push(`${c.source} / ${c.camera}: ${c.files} file(s), ${h(c.heldSec)} held${rec}`);
    if (c.from && c.to) lines.push(`  ${c.from.slice(0, 16)}Z |${c.timeline}| ${c.to.slice(0, 16)}Z`);
    for (const b of c.bad) lines.push(`  ${b.problem}: ${b.path}${b.problem === 'truncated' ? ` (${b.bytes} of ${b.expectedBytes} bytes)` : ''}`);
    for (const u of c.unrecorded) lines.push(`  not in the catalog: ${u}`);
    for (const p of c.staleParts) lines.push(`  stale .part: ${p}`);
    if (c.holes?.length) {
      const total = c.holes.reduce((n, x) => n + x.sec, 0);
      lines.push(
        `  holes: ${c.holes.length} (${h(total)}); largest: ${c.holes
          .slice(0, 3)
          .map((x) => `${x.start}–${x.end} (${h(x.sec)})`)
          .join(', ')}`,
      );
    }
    if (c.absent.length) lines.push(`  absent on the NVR: ${c.absent.length} span(s)`);
    if (c.nvrError) lines.push(`  NVR not compared: ${c.nvrError}`);
    if (c.fixed)
      lines.push(
        `  fixed: ${c.fixed.markedMissing} marked missing (fetched again next pass), ${c.fixed.partsRemoved} .part removed, ${c.fixed.adopted} catalogued`,
      );
  }
  const fixed = r.cameras.reduce((n, c) => n + (c.fixed ? c.fixed.markedMissing + c.fixed.partsRemoved + c.fixed.adopted : 0), 0);
  if (r.clean) lines.push('archive OK');
  else if (r.cameras.some((c) => c.fixed)) lines.push(`archive had problems (see above); fixed ${fixed}: the next pass fetches what is marked missing`);
  else lines.push('archive has problems (see above)');
  return lines.join('\n');
}
