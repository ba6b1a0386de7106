// One sync pass over one source: find what each enabled camera recorded since its last synced
// point, plan the missing segments, fetch them with a per-NVR concurrency limit and retries, and
// catalogue each file only after it is renamed into place.
import type { Catalog, CameraRow, VideoSourceRow } from '../catalog';
import { findRecordedIntervals, getReplayUri, type RecordingInfo } from '../onvif/search';
import type { Credentials } from '../onvif/soap';
import { errorMessage, OnvifError } from '../onvif/errors';
import { replayToFiles, ReplayToFilesError, type WrittenFile } from '../media/replay-to-files';
import { deleteFiles, freeSpace } from '../storage';
import { mapLimit } from '../onvif/concurrency';
import { openDeviceSession, recordingFor, type DeviceSession } from './device-session';
import { planSegments, plannedUntil, type Segment } from './planner';
import { segmentPath } from './naming';
import { backoffMs, isRetryable, sleep } from './retry';
import type { FileEvent, RunReason, RunSummary, SyncEvent } from './types';

export interface SyncSettings {
  /** Segment length, minutes (default 10). */
  segmentMinutes: number;
  /** Parallel replay sessions per NVR (default 2: NVRs allow few). */
  concurrency: number;
  /** First sync of a camera looks back this far (hours); 0 = the whole recording. */
  initialBackfillHours: number;
  /** Do not fetch the last seconds before now: the NVR may not have written them yet. */
  safetyMarginSec: number;
  /** Attempts per segment within one run. */
  attempts: number;
  retryBaseMs: number;
  retryCapMs: number;
  /** SOAP timeout. */
  timeoutMs: number;
  /** Replay: Rate-Control: no (as fast as the NVR sends). */
  fastReplay: boolean;
  /** A pass does not start when the working directory's disk has less free space than this. */
  minFreeBytes: number;
}

export const DEFAULT_SETTINGS: SyncSettings = {
  segmentMinutes: 10,
  concurrency: 2,
  initialBackfillHours: 24,
  safetyMarginSec: 15,
  attempts: 3,
  retryBaseMs: 1000,
  retryCapMs: 30_000,
  timeoutMs: 10_000,
  fastReplay: true,
  minFreeBytes: 512 * 1024 * 1024,
};

export interface RunOptions {
  catalog: Catalog;
  source: VideoSourceRow;
  credentials?: Credentials;
  settings: SyncSettings;
  reason: RunReason;
  /** Backfill: fetch [from, to) regardless of the last synced point (already-held segments skipped). */
  range?: { from: Date; to: Date; cameras?: string[] };
  now?: () => Date;
  signal?: AbortSignal;
  emit(e: SyncEvent): void;
  onFile(f: FileEvent): void;
}

interface Job {
  camera: CameraRow;
  recording: RecordingInfo;
  url: string;
  segment: Segment;
}

interface CameraPlan {
  camera: CameraRow;
  jobs: Job[];
  /** Where lastSyncedUntil moves when every job succeeds. */
  until: Date;
  error?: string;
}

/** Machine-readable kind of a failure for events ('auth', 'timeout', ...), from SOAP or replay. */
function errorCode(e: unknown): string | undefined {
  if (e instanceof OnvifError) return e.code;
  if (e instanceof ReplayToFilesError) return e.kind;
  return undefined;
}

function toFileEvent(f: WrittenFile, camera: CameraRow, source: VideoSourceRow): FileEvent {
  return {
    path: f.path,
    camera: camera.displayName,
    cameraId: camera.id,
    source: source.name,
    sourceId: source.id,
    start: f.start.toISOString(),
    end: f.end.toISOString(),
    durationSec: Math.round(f.durationSec * 1000) / 1000,
    bytes: f.bytes,
    codec: f.codec,
    width: f.width,
    height: f.height,
    frames: f.frames,
    speedX: Math.round(f.speedX * 10) / 10,
  };
}

async function planCamera(o: RunOptions, session: DeviceSession, camera: CameraRow, camerasOnPort: number, now: Date): Promise<CameraPlan> {
  const s = o.settings;
  // Recordings are stamped by the NVR's clock: plan in its time, so a fast or slow NVR clock
  // neither hides recent recordings nor makes us fetch a segment it is still writing.
  const deviceNow = new Date(now.getTime() + session.ctx.clockOffsetMs);
  const horizon = new Date(deviceNow.getTime() - s.safetyMarginSec * 1000);
  const recording = recordingFor(session, camera, camerasOnPort);
  if (!recording) return { camera, jobs: [], until: horizon, error: `no recording found on the NVR for camera "${camera.displayName}" (source ${camera.videoSourceToken})` };
  let from: Date;
  let to: Date;
  if (o.range) {
    from = o.range.from;
    to = o.range.to < horizon ? o.range.to : horizon;
  } else {
    const st = o.catalog.getSyncStatus(o.source.id, camera.id);
    const last = st?.lastSyncedUntil ? new Date(st.lastSyncedUntil) : undefined;
    from = last ?? (s.initialBackfillHours > 0 ? new Date(deviceNow.getTime() - s.initialBackfillHours * 3_600_000) : new Date(0));
    to = horizon;
  }
  if (to <= from) return { camera, jobs: [], until: from };
  const intervals = await findRecordedIntervals(session.services, session.ctx, recording, from, to);
  const segments = planSegments(intervals, {
    segmentMinutes: s.segmentMinutes,
    horizon: to,
    isDownloaded: (start) => o.catalog.isDownloaded(camera.id, start),
  });
  const until = plannedUntil(to, s.segmentMinutes);
  if (segments.length === 0) return { camera, jobs: [], until };
  const url = await getReplayUri(session.services, session.ctx, recording.token);
  return { camera, jobs: segments.map((segment) => ({ camera, recording, url, segment })), until };
}

export async function runSourceOnce(o: RunOptions): Promise<RunSummary> {
  const now = (o.now ?? (() => new Date()))();
  const s = o.settings;
  const source = o.source;
  const summary: RunSummary = { sourceId: source.id, reason: o.reason, files: [], failed: 0, errors: [] };
  const fail = (message: string, camera?: CameraRow, code?: string) => {
    summary.errors.push(camera ? `${camera.displayName}: ${message}` : message);
    o.emit({ event: 'error', source: source.name, sourceId: source.id, camera: camera?.displayName, error: message, code });
  };

  // A full disk fails every write half way; say so once, before asking the NVR for anything.
  const free = await freeSpace(source.workingDirectory);
  if (free < s.minFreeBytes) {
    fail(`disk nearly full: ${(free / 1e6).toFixed(0)} MB free for ${source.workingDirectory} (needs at least ${(s.minFreeBytes / 1e6).toFixed(0)} MB); free space or lower retention`, undefined, 'disk-full');
    return summary;
  }

  let cameras = o.catalog.listCameras(source.id, { enabledOnly: true });
  if (o.range?.cameras?.length) {
    const wanted = new Set(o.range.cameras);
    cameras = cameras.filter((c) => wanted.has(c.displayName));
  }
  const byPort = new Map<number, CameraRow[]>();
  for (const c of cameras) byPort.set(c.devicePort, [...(byPort.get(c.devicePort) ?? []), c]);

  const plans: CameraPlan[] = [];
  for (const [port, cams] of byPort) {
    let session: DeviceSession;
    try {
      session = await openDeviceSession(source.host, port, o.credentials, s.timeoutMs, o.signal);
    } catch (e) {
      const code = errorCode(e);
      for (const c of cams) plans.push({ camera: c, jobs: [], until: now, error: errorMessage(e) });
      fail(errorMessage(e), undefined, code);
      continue;
    }
    for (const c of cams) {
      try {
        const p = await planCamera(o, session, c, cams.length, now);
        if (p.error) fail(p.error, c);
        plans.push(p);
      } catch (e) {
        plans.push({ camera: c, jobs: [], until: now, error: errorMessage(e) });
        fail(errorMessage(e), c, errorCode(e));
      }
    }
  }

  const jobs = plans.flatMap((p) => p.jobs).sort((a, b) => a.segment.start.getTime() - b.segment.start.getTime());
  o.emit({ event: 'planned', source: source.name, sourceId: source.id, segments: jobs.length, cameras: cameras.length });
  const failedStart = new Map<number, Date>(); // camera id → earliest failed segment start
  let index = 0;

  await mapLimit(jobs, Math.max(1, s.concurrency), async (job) => {
    const myIndex = ++index;
    const { camera, segment } = job;
    if (o.signal?.aborted) {
      noteFailure(job);
      return;
    }
    let lastPercent = -1;
    for (let attempt = 1; attempt <= s.attempts; attempt++) {
      try {
        let segmentKeyUsed = false;
        const files = await replayToFiles({
          url: job.url,
          user: o.credentials?.user,
          password: o.credentials?.password,
          from: segment.start,
          to: segment.end,
          rateControl: !s.fastReplay,
          signal: o.signal,
          finalPath: (start, end, codec) => segmentPath(camera.folderPath, start, end, codec),
          onProgress: (p) => {
            const span = segment.end.getTime() - segment.start.getTime();
            const percent = Math.max(0, Math.min(100, Math.round(((p.mediaTime.getTime() - segment.start.getTime()) / span) * 100)));
            if (percent !== lastPercent) {
              lastPercent = percent;
              o.emit({ event: 'progress', source: source.name, sourceId: source.id, camera: camera.displayName, index: myIndex, total: jobs.length, percent });
            }
          },
        });
        for (const f of files) {
          // The segment's first file is keyed by the planned start, so the planner finds it again
          // even when the NVR began the file at a keyframe a little earlier.
          const key = segmentKeyUsed ? f.start : segment.start;
          segmentKeyUsed = true;
          o.catalog.recordDownload({
            cameraId: camera.id,
            recordingToken: job.recording.token,
            start: key,
            end: f.end,
            path: f.path,
            bytes: f.bytes,
            codec: f.codec,
            frames: f.frames,
            width: f.width,
            height: f.height,
          });
          const ev = toFileEvent(f, camera, source);
          summary.files.push(ev);
          o.onFile(ev);
        }
        // No files at all (e.g. the NVR pruned the range meanwhile) is not an error: nothing to keep.
        return;
      } catch (e) {
        // Files the failed attempt had finished are not catalogued: the segment is fetched again
        // whole, so drop them rather than leave uncatalogued duplicates behind.
        if (e instanceof ReplayToFilesError && e.completed.length) await deleteFiles(e.completed.map((f) => f.path));
        if (o.signal?.aborted || attempt === s.attempts || !isRetryable(e)) {
          fail(`segment ${segment.start.toISOString()}: ${errorMessage(e)}`, camera, errorCode(e));
          noteFailure(job);
          return;
        }
        await sleep(backoffMs(attempt, s.retryBaseMs, s.retryCapMs), o.signal);
      }
    }
  });

  function noteFailure(job: Job) {
    summary.failed++;
    const prev = failedStart.get(job.camera.id);
    if (!prev || job.segment.start < prev) failedStart.set(job.camera.id, job.segment.start);
  }

  // Move each camera's synced point: up to its horizon, or to its first failed segment.
  if (!o.range) {
    for (const p of plans) {
      if (p.error && p.jobs.length === 0) {
        o.catalog.updateSyncStatus(source.id, p.camera.id, { lastRunAt: now, lastError: p.error });
        continue;
      }
      const failedAt = failedStart.get(p.camera.id);
      const until = failedAt && failedAt < p.until ? failedAt : p.until;
      const prev = o.catalog.getSyncStatus(source.id, p.camera.id)?.lastSyncedUntil;
      const patch = { lastRunAt: now, lastError: failedAt ? 'some segments failed; they are retried next run' : null } as const;
      if (!prev || new Date(prev) < until) o.catalog.updateSyncStatus(source.id, p.camera.id, { ...patch, lastSyncedUntil: until, ...(failedAt ? {} : { lastSuccessAt: now }) });
      else o.catalog.updateSyncStatus(source.id, p.camera.id, patch);
    }
  }
  return summary;
}
