// Which recording holds which camera. The spec ties a recording to its camera by Source/SourceId
// (the video source token), but real devices differ: an Axis camera with an SD card lists its
// recordings with an empty SourceId (gBillal/ex_onvif get_recordings.xml) and records from a
// media *profile* (its GetRecordingJobs source is `profile_1_h264`); a Milestone note (cited in
// issue #9) says some devices put other ids there. So: source token, then source name/address,
// then recording jobs, then track tokens, and only then the order — and every choice says why,
// for events and the editor.
import type { RecordingInfo, RecordingJob } from './search';
import type { CameraInfo, RecordingSummary } from './types';

export interface CameraRef {
  /** Video source token (the channel). */
  token: string;
  name?: string;
  /** Profiles of this video source (recording jobs may name a profile instead of the source). */
  profileTokens?: readonly string[];
  /** A recording the user (or an earlier run) chose for this camera. */
  savedRecording?: string | null;
}

export type MappingRule = 'saved' | 'source-token' | 'source-name' | 'source-address' | 'recording-job' | 'track-token' | 'order' | 'only';

export interface RecordingChoice {
  recording: RecordingInfo;
  by: MappingRule;
  /** Human-readable reason, for sync events and the editor grid. */
  reason: string;
  /** More than one recording could be this camera's, or the match is only by order: let the user confirm. */
  ambiguous: boolean;
}

const norm = (s: string | undefined) => (s ?? '').trim().toLowerCase();

function newest(rs: RecordingInfo[]): RecordingInfo {
  const end = (r: RecordingInfo) => Math.max(r.latest?.getTime() ?? 0, ...r.tracks.map((t) => t.dataTo?.getTime() ?? 0));
  return [...rs].sort((a, b) => end(b) - end(a))[0];
}

/** Choose a recording for every camera it can; cameras left out have no recording we can tell. */
export function mapRecordings(
  cameras: readonly CameraRef[],
  recordings: readonly RecordingInfo[],
  jobs: readonly RecordingJob[] = [],
): Map<string, RecordingChoice> {
  const out = new Map<string, RecordingChoice>();
  const taken = new Set<string>();
  const free = () => recordings.filter((r) => !taken.has(r.token));
  const take = (cam: CameraRef, rs: RecordingInfo[], by: MappingRule, why: string) => {
    if (rs.length === 0) return false;
    const r = rs.length === 1 ? rs[0] : newest(rs);
    const several = rs.length > 1 ? ` (newest of ${rs.length} recordings that match)` : '';
    out.set(cam.token, { recording: r, by, reason: `${why}${several}`, ambiguous: rs.length > 1 || by === 'order' });
    taken.add(r.token);
    return true;
  };
  const rules: Array<[MappingRule, (cam: CameraRef) => [RecordingInfo[], string]]> = [
    ['saved', (cam) => [free().filter((r) => cam.savedRecording && r.token === cam.savedRecording), `recording ${cam.savedRecording} chosen for this camera`]],
    [
      'source-token',
      (cam) => {
        const own = new Set([cam.token, ...(cam.profileTokens ?? [])]);
        return [free().filter((r) => r.sourceId !== undefined && own.has(r.sourceId)), `the recording's SourceId is the camera's video source ${cam.token}`];
      },
    ],
    ['source-name', (cam) => [free().filter((r) => cam.name && norm(r.sourceName) === norm(cam.name)), `the recording's source name is "${cam.name ?? ''}"`]],
    [
      'source-address',
      (cam) => {
        const own = [cam.token, ...(cam.profileTokens ?? [])].filter((t) => t.length >= 2);
        const hit = (a: string | undefined) =>
          Boolean(a) && own.some((t) => new RegExp(`(^|[^A-Za-z0-9])${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9])`).test(a as string));
        return [free().filter((r) => hit(r.sourceAddress)), `the recording's source address names ${cam.token}`];
      },
    ],
    [
      'recording-job',
      (cam) => {
        const own = new Set([cam.token, ...(cam.profileTokens ?? [])]);
        const recs = new Set(jobs.filter((j) => own.has(j.sourceToken)).map((j) => j.recordingToken));
        const job = jobs.find((j) => own.has(j.sourceToken));
        return [
          free().filter((r) => recs.has(r.token)),
          `a recording job records ${job ? `${/Profile$/i.test(job.sourceType ?? '') ? 'profile' : 'source'} ${job.sourceToken}` : ''} of this camera into it`,
        ];
      },
    ],
    [
      'track-token',
      (cam) => [
        free().filter((r) => r.tracks.some((t) => t.token === cam.token || (cam.token.length >= 3 && t.token.includes(cam.token)))),
        `a track token names the video source ${cam.token}`,
      ],
    ],
  ];
  for (const [by, rule] of rules) {
    for (const cam of cameras) {
      if (out.has(cam.token)) continue;
      const [rs, why] = rule(cam);
      take(cam, rs, by, why);
    }
  }
  const left = cameras.filter((c) => !out.has(c.token));
  const rest = free();
  if (left.length === 1 && cameras.length === 1 && rest.length === 1) {
    take(left[0], rest, 'only', 'the only camera and the only recording on this device');
  } else if (left.length > 0 && left.length === rest.length) {
    // Same count left on both sides: pair them in order, and say it is a guess.
    left.forEach((cam, i) =>
      take(
        cam,
        [rest[i]],
        'order',
        `no SourceId, name or job ties a recording to this camera: paired by order (#${i + 1}); check it and pick the recording in the editor if wrong`,
      ),
    );
  }
  return out;
}

/**
 * Whether GetRecordingJobs is worth asking: some recording names no source (Axis SD card), or names
 * one that is none of the cameras' video sources or profiles (a foreign id). Otherwise SourceIds
 * decide and the call is saved. Without the cameras' tokens only the first case can be told.
 */
export function jobsMayHelp(recordings: readonly RecordingInfo[], sourceTokens?: readonly string[]): boolean {
  if (recordings.some((r) => !r.sourceId)) return true;
  if (!sourceTokens) return false;
  const own = new Set(sourceTokens);
  return recordings.some((r) => !own.has(r.sourceId as string));
}

/** Video source and profile tokens of cameras (what a recording's SourceId or a job may name). */
export function sourceTokensOf(cameras: readonly CameraInfo[]): string[] {
  return cameras.flatMap((c) => [c.token, ...c.profiles.map((p) => p.token)]);
}

/** A recording as the editor lists it for picking. */
export function summarizeRecording(r: RecordingInfo): RecordingSummary {
  const video = r.tracks.find((t) => /video/i.test(t.type)) ?? r.tracks[0];
  const from = video?.dataFrom ?? r.earliest;
  const to = video?.dataTo ?? r.latest;
  return {
    token: r.token,
    sourceId: r.sourceId,
    sourceName: r.sourceName,
    content: r.content,
    from: from?.toISOString(),
    to: to?.toISOString(),
  };
}

/**
 * Each camera's recording as the sync would choose it automatically (the same rules, on the main
 * profile as the catalog keeps it), for the discovery answer the editor's grid shows.
 */
export function mapCameras(
  cameras: readonly CameraInfo[],
  recordings: readonly RecordingInfo[],
  jobs: readonly RecordingJob[] = [],
): Map<string, RecordingChoice> {
  const refs = cameras.map((c) => ({ token: c.token, name: c.name, profileTokens: c.profiles[0] ? [c.profiles[0].token] : [] }));
  return mapRecordings(refs, recordings, jobs);
}
