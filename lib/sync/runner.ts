// One sync pass over one source: for each enabled camera, what the NVR recorded minus what the
// camera holds (coverage: its files' real frame ranges, spans confirmed absent), fetched with a
// per-NVR concurrency limit and retries. A file is catalogued only after it is renamed into place;
// a replay counts as complete only when the held ranges cover the segment (frame times decide, not
// the server's word); what is missing is planned again by the next pass.
import { existsSync } from 'node:fs';
import { largestKeyframeIntervalMs } from '../media/mp4-keyframes';
import type { AbsentSpanRow, Catalog, CameraRow, VideoSourceRow } from '../catalog';
import type { Credentials } from '../credentials';
import { errorMessage, OnvifError } from '../onvif/errors';
import { ReplayToFilesError, type WrittenFile } from '../media/replay-types';
import { VendorError } from '../vendors/errors';
import { DEFAULT_COVERAGE_TOLERANCE_MS, type ReplayTimeouts } from '../rtsp/replay-session';
import { deleteFiles, freeSpace } from '../storage';
import { RtspError } from '../rtsp/errors';
import { clipRange, mergeRanges, subtractRanges, type TimeRange } from '../time/range';
import type { DriverRecording, SourceSession } from './driver';
import { driverFor } from './drivers';
import { AdaptiveLimit } from './adaptive-limit';
import { planSegments, plannedUntil, type Segment } from './planner';
import { sweepCameraFolder } from './sweep';
import { backoffMs, isRetryable, sleep } from './retry';
import type { FileEvent, RunReason, RunSummary, SyncEvent, SyncRange } from './types';

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
  /** Below this much free space (after the next segment's expected size) a pass stops: disk full. */
  minFreeBytes: number;
  /** A hole in coverage shorter than this is not missing data: a frame's duration, the slack of a
   * replay that starts at a keyframe, whole-second `clock=` ranges. */
  coverageToleranceSec: number;
  /** At most this many hours of recordings per camera per pass; the rest follows next pass. */
  maxHoursPerPass: number;
  /** A replay ending at the same point this many times marks the rest "not on the NVR". */
  confirmAbsentAfter: number;
  /** A span confirmed absent is planned again once after this many hours, doubling each time it is
   * confirmed again (a transient NVR fault must not lose data for good); 0 = never. */
  absentRecheckHours: number;
  /** Spans older than this many days (or than the NVR's oldest recording) are not checked again. */
  absentRecheckDays: number;
  /** Fetch again a file found missing from disk (when the NVR still has it). */
  refetchMissing: boolean;
  /** "Everything" on a recording whose start date cannot be right (1970) looks back this far. */
  unknownStartLookbackHours: number;
  /** Replay timeouts (idle, deadline slack...); defaults in lib/rtsp/replay-session. */
  replayTimeouts?: ReplayTimeouts;
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
  // The replay client's own "frames cover the range" test uses the same figure by default.
  coverageToleranceSec: DEFAULT_COVERAGE_TOLERANCE_MS / 1000,
  maxHoursPerPass: 24,
  confirmAbsentAfter: 3,
  absentRecheckHours: 24,
  absentRecheckDays: 30,
  refetchMissing: true,
  unknownStartLookbackHours: 24,
};

/** Recording dates outside [SANITY_FLOOR, now + 1 day] are wrong clocks or metadata, never data
 * (a Milesight NVR answers DataFrom 1970-01-01: see DESIGN.md §4, issue 8). */
export const SANITY_FLOOR = new Date('2000-01-01T00:00:00Z');
const FUTURE_SLACK_MS = 86_400_000;

export interface RunOptions {
  catalog: Catalog;
  source: VideoSourceRow;
  credentials?: Credentials;
  /** https devices: accept a self-signed certificate (the source's opt-in, handed in like the login). */
  acceptSelfSigned?: boolean;
  settings: SyncSettings;
  reason: RunReason;
  /** Backfill: fetch [from, to) regardless of the synced point (held ranges are skipped). */
  range?: SyncRange;
  /** Sweep the camera folders first (stale .part removed, unrecorded finished files adopted). */
  sweep?: boolean;
  now?: () => Date;
  signal?: AbortSignal;
  emit(e: SyncEvent): void;
  onFile(f: FileEvent): void;
}

interface Job {
  camera: CameraRow;
  session: SourceSession;
  recording: DriverRecording;
  segment: Segment;
  /** Start of the recorded interval the segment lies in (a replay never needs to ask before it). */
  recordedFrom: Date;
}

interface CameraPlan {
  camera: CameraRow;
  jobs: Job[];
  /** Where the synced point moves when every job completes. */
  until: Date;
  error?: string;
}

/**
 * A replay asked to start inside recorded data reaches back this far (one GOP) while the camera's
 * GOP is not measured yet. ONVIF says a replay starts at the clean point at or before the asked
 * start (Streaming spec, "Synchronization points"), but servers that seek to the nearest or next
 * keyframe exist: gst-rtsp-server (the base of GStreamer's ONVIF replay server) seeks a PLAY Range
 * with KEY_UNIT and no SNAP_BEFORE unless the client sends Seek-Style, and RTSP 2.0 names that
 * style "Next" (RFC 7826 §18.47). Such a server sends nothing between the asked start and its next
 * keyframe, so asking from exactly where the held files end would lose those seconds for good.
 * 4 s: cameras ship with 1–2 s GOPs (Hikvision I-frame interval 50 at 25 fps, Milesight 16:
 * github.com/evercam/ex_nvr/issues/232), some sites run 4 s (15 fps, GOP 60); longer GOPs are
 * measured from the held files (lib/media/mp4-keyframes).
 */
export const DEFAULT_GOP_MS = 4000;
/** The lead-in never exceeds this: keyframes 10 s apart are already rare (go2rtc issue 1595). */
const MAX_LEAD_MS = 20_000;
/** Absent spans checked again per camera and pass, at most (each costs a search and a replay). */
const MAX_RECHECKS_PER_PASS = 4;
/** Waits for a free NVR session before a segment counts as failed. */
const MAX_BUSY_WAITS = 8;
/** Media seconds per wall second below which an NVR that was asked for full speed is "real time". */
const REAL_TIME_SPEED = 1.5;

const isBusy = (e: unknown) => (e instanceof ReplayToFilesError || e instanceof RtspError) && e.kind === 'busy';
const isPermanent = (e: unknown) => (e instanceof ReplayToFilesError || e instanceof RtspError) && e.kind === 'permanent';

/** A failure that ends the whole pass for this source (the disk, the catalog). */
class PassStop extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Machine-readable kind of a failure for events ('auth', 'timeout', ...), from SOAP or replay. */
function errorCode(e: unknown): string | undefined {
  if (e instanceof OnvifError) return e.code;
  if (e instanceof VendorError) return e.kind;
  if (e instanceof ReplayToFilesError) return e.kind;
  if (e instanceof PassStop) return e.code;
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

const iso = (d: Date) => d.toISOString();

export async function runSourceOnce(o: RunOptions): Promise<RunSummary> {
  const now = (o.now ?? (() => new Date()))();
  const s = o.settings;
  const tolMs = s.coverageToleranceSec * 1000;
  const recheck = s.absentRecheckHours > 0 ? { afterMs: s.absentRecheckHours * 3_600_000, now } : undefined;
  const source = o.source;
  const summary: RunSummary = { sourceId: source.id, reason: o.reason, files: [], failed: 0, errors: [] };
  const fail = (message: string, camera?: CameraRow, code?: string) => {
    if (code === 'auth' || code === 'locked') summary.loginRefused = true;
    summary.errors.push(camera ? `${camera.displayName}: ${message}` : message);
    o.emit({ event: 'error', source: source.name, sourceId: source.id, camera: camera?.displayName, error: message, code });
  };
  const warn = (message: string, camera?: CameraRow, code?: string) =>
    o.emit({ event: 'warning', source: source.name, sourceId: source.id, camera: camera?.displayName, message, code });

  // A full disk fails every write half way; say so once, before asking the NVR for anything.
  const free = await freeSpace(source.workingDirectory);
  if (free < s.minFreeBytes) {
    fail(diskFullMessage(free, source.workingDirectory, s.minFreeBytes), undefined, 'disk-full');
    return summary;
  }

  let cameras = o.catalog.listCameras(source.id, { enabledOnly: true });
  if (o.range?.cameras?.length) {
    const wanted = new Set(o.range.cameras);
    cameras = cameras.filter((c) => wanted.has(c.displayName));
  }
  // The sweep (what an interrupted sync left in the camera folders) runs while the NVR sessions
  // open: planning needs it done, asking the NVR does not, and at a million files on disk listing
  // the folders takes seconds (deploy → first request stays well under 0.3 s).
  const swept = o.sweep ? sweepFolders(o, cameras, warn) : Promise.resolve();
  swept.catch(() => undefined); // awaited before planning; no unhandled rejection meanwhile

  const byPort = new Map<number, CameraRow[]>();
  for (const c of cameras) byPort.set(c.devicePort, [...(byPort.get(c.devicePort) ?? []), c]);

  const plans: CameraPlan[] = [];
  for (const [port, cams] of byPort) {
    let session: SourceSession;
    try {
      // One session per port and pass: with a vendor driver, one login attempt per pass.
      session = await driverFor(source.driver).open({
        host: source.host,
        port,
        credentials: o.credentials,
        acceptSelfSigned: o.acceptSelfSigned,
        sourceTokens: cams.flatMap((c) => [c.videoSourceToken, c.profileToken].filter(Boolean)),
        timeoutMs: s.timeoutMs,
        signal: o.signal,
      });
    } catch (e) {
      const code = errorCode(e);
      for (const c of cams) plans.push({ camera: c, jobs: [], until: now, error: errorMessage(e) });
      fail(errorMessage(e), undefined, code);
      continue;
    }
    await swept;
    for (const w of session.warnings) warn(w, undefined, 'device');
    if (session.searchPartial)
      warn(`the NVR's recording search on port ${port} did not complete: recordings it did not list are not synced this pass`, undefined, 'search-partial');
    for (const c of cams) {
      try {
        const p = await planCamera(o, session, c, cams, now, warn);
        if (p.error) fail(p.error, c);
        plans.push(p);
      } catch (e) {
        plans.push({ camera: c, jobs: [], until: now, error: errorMessage(e) });
        fail(errorMessage(e), c, errorCode(e));
      }
    }
  }

  await swept; // every session open failed: the sweep still counts (and its failure ends the pass)
  const jobs = plans.flatMap((p) => p.jobs).sort((a, b) => a.segment.start.getTime() - b.segment.start.getTime());
  o.emit({ event: 'planned', source: source.name, sourceId: source.id, segments: jobs.length, cameras: cameras.length });
  /** camera id → earliest instant a job left uncovered (the synced point stops there). */
  const holeAt = new Map<number, Date>();
  const noteHole = (camera: CameraRow, at: Date) => {
    const prev = holeAt.get(camera.id);
    if (!prev || at < prev) holeAt.set(camera.id, at);
  };
  let stopped: PassStop | undefined;
  let index = 0;
  // Replay sessions per NVR settle at what it accepts (429/453/503 lower the limit; it is
  // remembered in sync_status and starts the next pass); each attempt holds one session slot.
  const sourceStatus = o.catalog.getSyncStatus(source.id);
  const sessions = new AdaptiveLimit({ initial: s.concurrency, max: Math.max(1, s.concurrency), learned: sourceStatus?.maxSessions ?? undefined });
  const media = { sec: 0, wallSec: 0 };
  /** camera id → GOP measured this pass from a held file (ms). */
  const gops = new Map<number, number>();

  const runJob = async (job: Job) => {
    const myIndex = ++index;
    const { camera, segment } = job;
    const missing = () => firstHole(o.catalog, camera, segment, tolMs, !o.range);
    if (o.signal?.aborted || stopped) {
      summary.failed++;
      noteHole(camera, missing()?.start ?? segment.start);
      return;
    }
    let lastPercent = -1;
    let busyWaits = 0;
    for (let attempt = 1; ; attempt++) {
      const hole = missing();
      if (!hole) return;
      let files: WrittenFile[];
      const from = await askFrom(o.catalog, camera, hole, job.recordedFrom, gops, tolMs);
      await sessions.acquire();
      let outcome: 'ok' | 'busy' | 'failed' = 'failed';
      try {
        await ensureSpace(o, camera, hole);
        files = await job.session.download(job.recording, {
          from,
          to: segment.end,
          fast: s.fastReplay,
          timeouts: s.replayTimeouts,
          coverageToleranceMs: tolMs,
          signal: o.signal,
          naming: { kind: 'camera-folder', folder: camera.folderPath },
          onProgress: (p) => {
            const span = segment.end.getTime() - segment.start.getTime();
            const percent = Math.max(0, Math.min(100, Math.round(((p.mediaTime.getTime() - segment.start.getTime()) / span) * 100)));
            if (percent !== lastPercent) {
              lastPercent = percent;
              o.emit({ event: 'progress', source: source.name, sourceId: source.id, camera: camera.displayName, index: myIndex, total: jobs.length, percent });
            }
          },
        });
        outcome = 'ok';
      } catch (e) {
        outcome = isBusy(e) ? 'busy' : 'failed';
        sessions.release(outcome);
        // Keep what arrived: finished files of a failed attempt are valid and catalogued, so a
        // retry (now or next pass) asks only for the rest.
        if (e instanceof ReplayToFilesError && e.completed.length) {
          await keepFiles(o, job, e.completed, summary).catch((ce: unknown) => {
            stopped ??= asPassStop(ce);
          });
        }
        if (e instanceof ReplayToFilesError && e.kind === 'disk-full')
          stopped ??= new PassStop(`disk full while writing ${camera.displayName}: ${errorMessage(e)}`, 'disk-full');
        if (e instanceof PassStop) stopped ??= e;
        if (!stopped && isPermanent(e)) {
          // The NVR will answer this request the same way every time (e.g. 457, 404): recorded as
          // absent with the reason, reported once, not retried on every pass.
          const left = missing();
          const span = left && o.catalog.noteShortfall(camera.id, left.start, left.end, `the NVR refuses the replay: ${errorMessage(e)}`, tolMs, 1, recheck);
          fail(`segment ${iso(segment.start)}: ${errorMessage(e)}; the NVR refuses this range, ${askedAgain(span)} (see verify)`, camera, 'permanent');
          summary.failed++;
          return;
        }
        if (!stopped && outcome === 'busy' && busyWaits < MAX_BUSY_WAITS && !o.signal?.aborted) {
          // A refused session is not a failed segment: wait, with fewer sessions in parallel.
          busyWaits++;
          attempt--;
          await sleep(backoffMs(busyWaits, s.retryBaseMs, s.retryCapMs), o.signal);
          continue;
        }
        if (stopped || o.signal?.aborted || attempt >= s.attempts || !isRetryable(e)) {
          if (!stopped) fail(`segment ${iso(segment.start)}: ${errorMessage(e)}`, camera, errorCode(e));
          summary.failed++;
          noteHole(camera, missing()?.start ?? segment.start);
          return;
        }
        await sleep(backoffMs(attempt, s.retryBaseMs, s.retryCapMs), o.signal);
        continue;
      }
      sessions.release(outcome);
      for (const f of files) {
        media.sec += f.durationSec;
        media.wallSec += f.durationSec / Math.max(0.001, f.speedX);
      }
      try {
        await keepFiles(o, job, files, summary);
      } catch (e) {
        stopped ??= asPassStop(e);
        summary.failed++;
        noteHole(camera, missing()?.start ?? segment.start);
        return;
      }
      // The replay ended without an error. Complete only if the held ranges now cover the segment.
      const left = missing();
      if (!left) {
        o.catalog.clearShortfalls(camera.id, segment.start, segment.end);
        return;
      }
      const reason = `replay of ${iso(hole.start)}–${iso(segment.end)} ended at ${iso(left.start)}`;
      const span = o.catalog.noteShortfall(camera.id, left.start, left.end, reason, tolMs, s.confirmAbsentAfter, recheck);
      if (span.confirmed) {
        warn(
          `no recording on the NVR for ${iso(left.start)}–${iso(left.end)}: its replays ended at ${iso(left.start)} ${span.attempts} times; ${askedAgain(span)}`,
          camera,
          'absent',
        );
        continue; // the rest of the segment, past the absent span, may still be missing
      }
      summary.failed++;
      noteHole(camera, left.start);
      const missingSec = Math.round((left.end.getTime() - left.start.getTime()) / 1000);
      fail(`replay ended early at ${iso(left.start)} (${missingSec} s of the segment missing); the rest is fetched next pass`, camera, 'incomplete');
      return;
    }
  };
  let nextJob = 0;
  await Promise.all(
    Array.from({ length: Math.min(Math.max(1, s.concurrency), jobs.length) }, async () => {
      while (nextJob < jobs.length) await runJob(jobs[nextJob++]);
    }),
  );

  // What the NVR taught us this pass: the sessions it accepts, and how fast it replays.
  const speedX = media.wallSec > 0 ? media.sec / media.wallSec : undefined;
  if (speedX !== undefined && s.fastReplay && media.sec >= 30 && speedX < REAL_TIME_SPEED) {
    warn(`NVR replays in real time (${speedX.toFixed(1)}×, it ignores Rate-Control: no): downloads take as long as the video`, undefined, 'realtime');
  }
  try {
    o.catalog.updateSyncStatus(source.id, null, {
      ...(sessions.learned !== undefined ? { maxSessions: sessions.learned } : {}),
      ...(speedX !== undefined ? { replaySpeedX: Math.round(speedX * 10) / 10 } : {}),
    });
  } catch (e) {
    fail(`catalog: cannot save what was learned of the NVR: ${errorMessage(e)}`, undefined, 'catalog');
  }

  if (stopped) {
    fail(stopped.message, undefined, stopped.code);
    summary.sweepNext = true;
  }

  // Move each camera's synced point: never past a hole it left.
  if (!o.range) {
    for (const p of plans) {
      try {
        if (p.error && p.jobs.length === 0) {
          o.catalog.updateSyncStatus(source.id, p.camera.id, { lastRunAt: now, lastError: p.error });
          continue;
        }
        const hole = holeAt.get(p.camera.id);
        const until = hole && hole < p.until ? hole : p.until;
        o.catalog.updateSyncStatus(source.id, p.camera.id, {
          lastRunAt: now,
          lastSyncedUntil: until,
          lastError: hole ? `missing from ${iso(hole)}; fetched again next pass` : null,
          ...(hole ? {} : { lastSuccessAt: now }),
        });
      } catch (e) {
        fail(`catalog: cannot save the sync state: ${errorMessage(e)}`, p.camera, 'catalog');
      }
    }
  }
  return summary;
}

async function sweepFolders(o: RunOptions, cameras: readonly CameraRow[], warn: (m: string, c?: CameraRow, code?: string) => void): Promise<void> {
  for (const c of cameras) {
    const r = await sweepCameraFolder(o.catalog, c);
    if (r.partsRemoved) warn(`removed ${r.partsRemoved} unfinished .part file(s) left by an interrupted sync`, c, 'stale-part');
    if (r.adopted) warn(`catalogued ${r.adopted} finished file(s) an interrupted sync had not recorded`, c, 'adopted');
  }
}

async function planCamera(
  o: RunOptions,
  session: SourceSession,
  camera: CameraRow,
  camerasOnPort: readonly CameraRow[],
  now: Date,
  warn: (m: string, c?: CameraRow, code?: string) => void,
): Promise<CameraPlan> {
  const s = o.settings;
  // Recordings are stamped by the NVR's clock: plan in its time, so a fast or slow NVR clock
  // neither hides recent recordings nor makes us fetch a segment it is still writing.
  const deviceNow = new Date(now.getTime() + session.clockOffsetMs);
  const horizon = new Date(deviceNow.getTime() - s.safetyMarginSec * 1000);
  const choice = session.recordingChoice(camera, camerasOnPort);
  const recording = choice?.recording;
  if (choice?.ambiguous)
    warn(`recording ${choice.recording.token} chosen ${choice.reason}; it may be another camera's — check it in the nvr-source grid`, camera, 'mapping');
  if (!recording)
    return { camera, jobs: [], until: horizon, error: `no recording found on the NVR for camera "${camera.displayName}" (source ${camera.videoSourceToken})` };
  const future = new Date(deviceNow.getTime() + FUTURE_SLACK_MS);
  const lookback = (h: number) => new Date(deviceNow.getTime() - h * 3_600_000);
  const earliest = recording.earliest;
  const startUnknown = !earliest || earliest < SANITY_FLOOR || earliest > future;
  let from: Date;
  let to: Date;
  if (o.range) {
    from = o.range.from;
    to = o.range.to < horizon ? o.range.to : horizon;
  } else {
    const last = o.catalog.getSyncStatus(o.source.id, camera.id)?.lastSyncedUntil;
    if (last) from = new Date(last);
    else if (s.initialBackfillHours > 0) from = lookback(s.initialBackfillHours);
    else if (startUnknown) {
      // "Everything" needs a start; a recording dated 1970 has none worth trusting.
      from = lookback(s.unknownStartLookbackHours);
      warn(
        `the NVR reports recording ${recording.token} starting ${earliest ? iso(earliest) : 'at no date'}, which cannot be right: syncing from ${iso(from)}; use backfill for older recordings`,
        camera,
        'bad-date',
      );
    } else from = earliest;
    to = horizon;
  }
  if (from < SANITY_FLOOR) from = SANITY_FLOOR;
  if (to <= from) return { camera, jobs: [], until: from };
  const ranges = await session.recordedRanges(recording, from, to);
  if (!ranges.gapsVisible)
    warn(`the NVR gives no recording events: gaps in its recording cannot be seen, so empty spans are found by replaying them`, camera, 'gaps-invisible');
  if (ranges.partial) warn(`the NVR's event search did not complete: this pass may miss recorded spans`, camera, 'search-partial');
  const found = ranges.intervals;
  const intervals = found.flatMap((iv) => {
    const start = iv.start < SANITY_FLOOR ? SANITY_FLOOR : iv.start;
    const end = iv.end > future ? future : iv.end;
    return end > start ? [{ start, end }] : [];
  });
  if (intervals.length < found.length)
    warn(`ignored ${found.length - intervals.length} recorded interval(s) dated before 2000 or in the future`, camera, 'bad-date');

  if (o.settings.refetchMissing) checkOnDisk(o.catalog, camera, from, to);
  const held = mergeRanges([...o.catalog.heldRanges(camera.id, from, to, { includeDeleted: !o.range }), ...o.catalog.absentRanges(camera.id, from, to)]);
  const plan = planSegments(intervals, {
    segmentMinutes: s.segmentMinutes,
    horizon: to,
    held,
    toleranceMs: s.coverageToleranceSec * 1000,
    maxSegments: Math.max(1, Math.ceil((s.maxHoursPerPass * 60) / s.segmentMinutes)),
  });
  const until = plan.resumeAt ?? plannedUntil(to, s.segmentMinutes);
  const rechecks = o.range ? [] : await planRechecks(o, session, recording, camera, now, startUnknown ? undefined : earliest, to, warn);
  if (plan.segments.length === 0 && rechecks.length === 0) return { camera, jobs: [], until };
  // Intervals the search lists back to back are one recording (some NVRs list one per file).
  // Searches clip intervals to the window: one that starts at the window's start may go on before
  // it (the previous pass's data), so a replay from there may reach back a lead-in too.
  const recorded = mergeRanges(intervals, s.coverageToleranceSec * 1000).map((iv) =>
    iv.start <= from ? { start: new Date(from.getTime() - MAX_LEAD_MS), end: iv.end } : iv,
  );
  const recordedFrom = (segment: Segment) => recorded.find((iv) => iv.start <= segment.start && iv.end >= segment.start)?.start ?? segment.start;
  const jobs = plan.segments.map((segment) => ({ camera, session, recording, segment, recordedFrom: recordedFrom(segment) }));
  return { camera, jobs: [...jobs, ...rechecks.map((r) => ({ camera, session, recording, ...r }))], until };
}

/** "checked again after T" or "not asked again", for an absent span's events. */
function askedAgain(span: AbsentSpanRow | undefined): string {
  return span?.recheckAt ? `it is checked again after ${span.recheckAt}` : 'it is not asked again';
}

/**
 * Absent spans whose back-off has passed (at most MAX_RECHECKS_PER_PASS, none older than the NVR's
 * oldest recording or absentRecheckDays): the parts the NVR still lists as recorded are planned
 * again, and the spans stop counting as held (one more replay ending at the same point confirms
 * them again, with a doubled back-off). A span the NVR no longer lists waits for a longer back-off.
 */
async function planRechecks(
  o: RunOptions,
  session: SourceSession,
  recording: DriverRecording,
  camera: CameraRow,
  now: Date,
  earliest: Date | undefined,
  horizon: Date,
  warn: (m: string, c?: CameraRow, code?: string) => void,
): Promise<Array<{ segment: Segment; recordedFrom: Date }>> {
  const s = o.settings;
  if (!(s.absentRecheckHours > 0)) return [];
  const deviceNow = now.getTime() + session.clockOffsetMs;
  const notBefore = new Date(Math.max(deviceNow - s.absentRecheckDays * 86_400_000, earliest?.getTime() ?? 0, SANITY_FLOOR.getTime()));
  const due = o.catalog.absentDueForRecheck(camera.id, now, notBefore, MAX_RECHECKS_PER_PASS);
  const out: Array<{ segment: Segment; recordedFrom: Date }> = [];
  const started: number[] = [];
  for (const span of due) {
    const start = new Date(Math.max(Date.parse(span.startTime), notBefore.getTime()));
    const end = new Date(Math.min(Date.parse(span.endTime), horizon.getTime()));
    const listed = end > start ? (await session.recordedRanges(recording, start, end)).intervals.flatMap((iv) => clipRange(iv, start, end) ?? []) : [];
    const plan = planSegments(listed, {
      segmentMinutes: s.segmentMinutes,
      horizon,
      held: o.catalog.heldRanges(camera.id, start, end, { includeDeleted: true }),
      toleranceMs: s.coverageToleranceSec * 1000,
    });
    if (plan.segments.length === 0) {
      o.catalog.postponeRecheck(span.id, s.absentRecheckHours * 3_600_000, now);
      continue;
    }
    started.push(span.id);
    // The data before a span is usually held: a replay from its start may reach back a GOP.
    for (const segment of plan.segments) out.push({ segment, recordedFrom: new Date(start.getTime() - MAX_LEAD_MS) });
  }
  if (started.length) {
    o.catalog.startRecheck(started, s.confirmAbsentAfter);
    warn(`checking again ${started.length} span(s) recorded as not on the NVR (a fault on the NVR may have passed)`, camera, 'absent-recheck');
  }
  return out;
}

/**
 * Where to ask a replay of `hole` to start. Inside recorded data (a remainder after an early end,
 * a hole after held files, a segment boundary), one GOP earlier than the hole: a server that starts
 * at the next keyframe (see DEFAULT_GOP_MS) then still starts at or before the hole, and the new
 * file overlaps the held one by less than a GOP (coverage is a union: overlap costs only bytes).
 * The measure is the largest keyframe step of a held file, so a camera whose GOP varies is asked
 * by its longest one seen. At the start of a recorded interval there is nothing to reach back to.
 */
async function askFrom(catalog: Catalog, camera: CameraRow, hole: TimeRange, recordedFrom: Date, gops: Map<number, number>, tolMs: number): Promise<Date> {
  if (hole.start.getTime() <= recordedFrom.getTime()) return hole.start;
  // A file of ours held this point and is gone (found missing, or deleted and wanted again): its
  // first frame was a keyframe, so any server starts right there and it comes back under its name.
  const lost = catalog.lostFileAt(camera.id, hole.start);
  if (lost) return new Date(Math.max(recordedFrom.getTime(), Date.parse(lost.startTime)));
  let gop = gops.get(camera.id);
  if (gop === undefined) {
    // The file that ends at the hole, else the camera's latest: the same encoder settings.
    const before = catalog.doneDownloadsBetween(camera.id, new Date(hole.start.getTime() - 60_000), new Date(hole.start.getTime() + tolMs)).pop();
    const file = before ?? catalog.latestDownload(camera.id);
    const measured = file ? await largestKeyframeIntervalMs(file.path) : undefined;
    if (measured !== undefined) gops.set(camera.id, (gop = measured));
  }
  const lead = Math.min(MAX_LEAD_MS, gop ?? DEFAULT_GOP_MS);
  // On a whole second: vendor APIs take whole-second windows (a Hikvision download's frame times
  // are its window start plus PTS offsets), and asking a little earlier only adds overlap.
  const at = Math.floor((hole.start.getTime() - lead) / 1000) * 1000;
  return new Date(Math.max(recordedFrom.getTime(), at));
}

/** Files the catalog lists as done in the window but which are gone from disk: mark them missing
 * so the planner fetches them again. Bounded by the window (a pass's, or a backfill's range). */
function checkOnDisk(catalog: Catalog, camera: CameraRow, from: Date, to: Date): void {
  const gone = catalog
    .doneDownloadsBetween(camera.id, from, to)
    .filter((f) => !existsSync(f.path))
    .map((f) => f.id);
  if (gone.length) catalog.markMissing(gone);
}

/** The first part of `segment` the camera does not hold (files + confirmed absent spans). */
function firstHole(catalog: Catalog, camera: CameraRow, segment: Segment, tolMs: number, includeDeleted: boolean): TimeRange | undefined {
  const held = [
    ...catalog.heldRanges(camera.id, segment.start, segment.end, { includeDeleted }),
    ...catalog.absentRanges(camera.id, segment.start, segment.end),
  ];
  return subtractRanges([segment], held, tolMs)[0];
}

/** Catalogue finished files (and tell the flow), in order. A file whose first frame another file
 * already starts at is the longer of the two kept (the other deleted), never both rows. */
async function keepFiles(o: RunOptions, job: Job, files: readonly WrittenFile[], summary: RunSummary): Promise<void> {
  const { camera } = job;
  for (const f of files) {
    const input = {
      cameraId: camera.id,
      recordingToken: job.recording.token,
      start: f.start,
      end: f.end,
      path: f.path,
      bytes: f.bytes,
      codec: f.codec,
      frames: f.frames,
      width: f.width,
      height: f.height,
    };
    const same = o.catalog.downloadStartingAt(camera.id, f.start);
    if (same && same.path === f.path) {
      o.catalog.replaceDownload(same.id, input);
    } else if (same && same.status === 'done' && new Date(same.endTime) >= f.end) {
      await deleteFiles([f.path]); // adds nothing to what the camera holds
      continue;
    } else if (same) {
      o.catalog.replaceDownload(same.id, input);
      // Its old file goes too, whatever its status: a longer file replaces it, or it was found
      // missing (gone, or truncated: then its remains would be a file the catalog no longer lists).
      await deleteFiles([same.path]);
    } else {
      o.catalog.recordDownload(input);
    }
    const ev = toFileEvent(f, camera, o.source);
    summary.files.push(ev);
    o.onFile(ev);
  }
}

/** Free space for the next replay: its expected size (the camera's recent byte rate, or a generous
 * guess from its picture size) plus the floor. */
async function ensureSpace(o: RunOptions, camera: CameraRow, range: TimeRange): Promise<void> {
  const free = await freeSpace(camera.folderPath);
  const seconds = (range.end.getTime() - range.start.getTime()) / 1000;
  const recent = o.catalog.latestDownload(camera.id);
  const bytesPerSec = recent
    ? recent.bytes / Math.max(1, (new Date(recent.endTime).getTime() - new Date(recent.startTime).getTime()) / 1000)
    : (camera.width * camera.height * Math.max(1, camera.fps)) / 8; // ~1 bit per pixel per frame: more than any camera sends
  const expected = bytesPerSec * seconds;
  if (free - expected < o.settings.minFreeBytes) throw new PassStop(diskFullMessage(free, camera.folderPath, o.settings.minFreeBytes, expected), 'disk-full');
}

function diskFullMessage(free: number, where: string, floor: number, expected = 0): string {
  const mb = (n: number) => (n / 1e6).toFixed(0);
  return (
    `disk full: ${mb(free)} MB free for ${where}` +
    (expected ? `, the next segment needs about ${mb(expected)} MB` : '') +
    ` and at least ${mb(floor)} MB must stay free; free space or lower retention`
  );
}

function asPassStop(e: unknown): PassStop {
  if (e instanceof PassStop) return e;
  return new PassStop(`catalog: cannot record a finished file (${errorMessage(e)}); the file stays on disk and is catalogued by a later pass`, 'catalog');
}
