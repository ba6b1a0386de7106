// The capability check behind `vtrack-onvif doctor`: per device, what it offers (search, replay,
// recording, events), which authentication worked, its clock offset, each camera with its
// recording (and why that one), the recorded range and whether gaps can be seen, and a short test
// replay with its measured speed. Everything that fails becomes a problem with what to do.
import { mapLimit } from './concurrency';
import { getCameras, getScopes, getServices, probeClock, scopeValue, deviceServiceUrl, type CallCtx } from './device';
import { OnvifError, errorMessage } from './errors';
import { findRecordedRanges, getRecordingJobs, getReplayUri, searchRecordings, type RecordingInfo, type SearchCtx } from './search';
import { jobsMayHelp, mapRecordings, sourceTokensOf } from './recording-map';
import { soapCall, type AuthMode } from './soap';
import type { Credentials } from '../credentials';
import { parseTargets } from './targets';
import { child, text } from './xml';
import { replay } from '../rtsp/replay-session';
import { RtspError } from '../rtsp/errors';

export interface DoctorOptions extends Partial<Credentials> {
  /** host:port lists, ranges, CIDR blocks (see targets.ts). */
  targets: string | string[];
  /** Per SOAP call. Default 5000. */
  timeoutMs?: number;
  /** Length of the test replay, seconds (0 = none). Default 4. */
  replaySeconds?: number;
  /** https: accept a self-signed certificate (the source's opt-in). */
  acceptSelfSigned?: boolean;
  signal?: AbortSignal;
}

export interface DoctorProblem {
  problem: string;
  /** What the user can do about it. */
  action: string;
}

export interface DoctorCamera {
  name: string;
  token: string;
  /** Recording token chosen for this camera, or null when none can be told. */
  recording: string | null;
  /** Why that recording (source token, name, recording job, order...). */
  mapping: string | null;
  from: string | null;
  to: string | null;
  /** Whether the device reports recording gaps (FindEvents); null when not checked. */
  gapsVisible: boolean | null;
}

export interface DoctorReport {
  host: string;
  port: number;
  xaddr: string;
  name: string | null;
  manufacturer: string | null;
  model: string | null;
  services: { media: boolean; media2: boolean; search: boolean; replay: boolean; recording: boolean; events: boolean; profileG: boolean };
  /** Authentication that worked for the device's operations. */
  auth: AuthMode | null;
  /** The device wanted credentials even for GetSystemDateAndTime, and this got through. */
  clockAuth: AuthMode | null;
  clockOffsetMs: number | null;
  cameras: DoctorCamera[];
  search: { partial: boolean; recordings: number; warnings: string[] } | null;
  replay: {
    ok: boolean;
    camera?: string;
    speedX?: number;
    rateControlHonoured?: boolean | null;
    frames?: number;
    withoutOnvifReplay?: boolean;
    timeSource?: string;
    error?: string;
    errorKind?: string;
  } | null;
  problems: DoctorProblem[];
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

function authProblem(e: OnvifError, creds: Credentials | undefined): DoctorProblem {
  if (e.code === 'clock-skew') return { problem: e.message, action: "set the device's clock (NTP); WS-Security logins are checked against it" };
  if (!creds) return { problem: e.message, action: 'give the user name and password of an ONVIF user of the device' };
  if (/only HTTP Basic|only RTSP Basic/.test(e.message))
    return {
      problem: e.message,
      action:
        'enable Digest authentication on the device, or turn on "allow Basic authentication" for this source (the password then crosses the network in clear text)',
    };
  if (/TLS certificate is not trusted/.test(e.message))
    return {
      problem: e.message,
      action: 'turn on "accept self-signed certificate" for this source if this is your device (or give it a certificate we can verify)',
    };
  return { problem: e.message, action: 'enable ONVIF on the device and create an ONVIF user (many NVRs keep a separate ONVIF user list); check the password' };
}

function connectProblem(e: OnvifError): DoctorProblem {
  switch (e.code) {
    case 'unreachable':
      return { problem: e.message, action: 'check the address and port, and that ONVIF is enabled on the device' };
    case 'not-onvif':
      return { problem: e.message, action: 'this port is not the ONVIF service; ONVIF is usually on port 80 (try host:80)' };
    case 'timeout':
      return { problem: e.message, action: 'the device did not answer in time: check the network, or raise --timeout' };
    default:
      return { problem: e.message, action: 'see the message; the device answered in a way we did not expect' };
  }
}

function recordedSpan(r: RecordingInfo): { from?: Date; to?: Date } {
  const video = r.tracks.find((t) => /video/i.test(t.type)) ?? r.tracks[0];
  return { from: video?.dataFrom ?? r.earliest, to: video?.dataTo ?? r.latest };
}

export async function checkDevice(host: string, port: number, o: DoctorOptions): Promise<DoctorReport> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const creds: Credentials | undefined = o.user ? { user: o.user, password: o.password ?? '', allowBasicAuth: o.allowBasicAuth === true } : undefined;
  let xaddr = deviceServiceUrl({ host, port });
  const rep: DoctorReport = {
    host,
    port,
    xaddr,
    name: null,
    manufacturer: null,
    model: null,
    services: { media: false, media2: false, search: false, replay: false, recording: false, events: false, profileG: false },
    auth: null,
    clockAuth: null,
    clockOffsetMs: null,
    cameras: [],
    search: null,
    replay: null,
    problems: [],
  };
  const problem = (p: DoctorProblem) => rep.problems.push(p);

  // 1. Clock (and whether the device is ONVIF at all).
  let clockOffsetMs: number;
  try {
    const c = await probeClock(xaddr, timeoutMs, o.signal, { credentials: creds, acceptSelfSigned: o.acceptSelfSigned });
    clockOffsetMs = c.clockOffsetMs;
    // An HTTPS-only port answers on https: every later call goes there.
    xaddr = rep.xaddr = c.url;
    rep.clockOffsetMs = c.clockOffsetMs;
    rep.clockAuth = c.clockAuth ?? null;
    if (c.clockAuth)
      problem({
        problem: `GetSystemDateAndTime demands authentication (got through with ${c.clockAuth})`,
        action: 'nothing needed; the device does not follow the ONVIF spec here, which some clients trip over',
      });
  } catch (e) {
    const err = e instanceof OnvifError ? e : new OnvifError('protocol', errorMessage(e));
    problem(err.code === 'auth' || err.code === 'clock-skew' ? authProblem(err, creds) : connectProblem(err));
    return rep;
  }
  if (Math.abs(clockOffsetMs) > 5000) {
    problem({
      problem: `the device clock is ${Math.round(clockOffsetMs / 1000)} s off ours`,
      action: 'set the device to NTP; we compensate, but recordings are stamped by its clock',
    });
  }
  const ctx: CallCtx & SearchCtx = { credentials: creds, clockOffsetMs, timeoutMs, signal: o.signal, acceptSelfSigned: o.acceptSelfSigned };

  // 2. Identity, with the auth mode that works for ordinary operations.
  try {
    const used: { mode?: AuthMode } = {};
    const info = child(await soapCall(xaddr, '<tds:GetDeviceInformation/>', { ...ctx, authUsed: used }), 'GetDeviceInformationResponse');
    rep.auth = used.mode ?? null;
    rep.manufacturer = text(child(info, 'Manufacturer')) ?? null;
    rep.model = text(child(info, 'Model')) ?? null;
  } catch (e) {
    const err = e instanceof OnvifError ? e : new OnvifError('protocol', errorMessage(e));
    problem(err.code === 'auth' || err.code === 'clock-skew' ? authProblem(err, creds) : connectProblem(err));
    return rep;
  }

  // 3. Services and cameras.
  let services;
  try {
    services = await getServices(xaddr, ctx);
  } catch (e) {
    problem(connectProblem(e instanceof OnvifError ? e : new OnvifError('protocol', errorMessage(e))));
    return rep;
  }
  rep.services = {
    media: Boolean(services.media),
    media2: Boolean(services.media2),
    search: Boolean(services.search),
    replay: Boolean(services.replay),
    recording: Boolean(services.recording),
    events: Boolean(services.events),
    profileG: services.profileG,
  };
  const scopes = await getScopes(xaddr, ctx).catch(() => undefined);
  rep.name = scopeValue(scopes, 'name') ?? null;
  const recorder = Boolean(scopes?.some((x) => /type\/(Network_Video_Recorder|NVR)/i.test(x))) || /\bN?VR\b|recorder/i.test(rep.model ?? '');

  // 4. Recordings (before the cameras: their source names are the channel names).
  let recordings: RecordingInfo[] = [];
  if (!services.search) {
    problem({
      problem: 'this device offers no recording search over ONVIF (not Profile G)',
      action: "recordings cannot be synced over ONVIF; use the vendor's own API driver where there is one, or record with another NVR",
    });
  } else {
    try {
      const found = await searchRecordings(services, ctx);
      recordings = found.recordings;
      rep.search = { partial: found.partial, recordings: found.recordings.length, warnings: found.warnings };
      if (found.partial)
        problem({
          problem: 'the recording search never completed; only the recordings received so far are known',
          action: 'nothing to do here; a firmware update may fix the search',
        });
      if (found.warnings.some((w) => /implausible/.test(w))) {
        problem({
          problem: 'the device reports recording dates that cannot be right (before 2000 or in the future)',
          action: 'those dates are ignored; check the NVR clock and recording settings',
        });
      }
      if (recordings.length === 0)
        problem({
          problem: 'the device lists no recordings',
          action: 'turn recording on for the cameras on the NVR (on cameras with an SD card: create a recording/recording job)',
        });
    } catch (e) {
      problem({ problem: `recording search failed: ${errorMessage(e)}`, action: 'check that the ONVIF user may search recordings' });
    }
  }
  if (!services.replay && services.search)
    problem({ problem: 'the device has no replay service', action: 'recordings can be listed but not downloaded over ONVIF' });

  let cameras;
  try {
    const names = new Map<string, string>();
    for (const r of recordings) if (r.sourceId && r.sourceName && !names.has(r.sourceId)) names.set(r.sourceId, r.sourceName);
    cameras = await getCameras(services, ctx, rep.name ?? undefined, { recorder, recordingNames: names });
  } catch (e) {
    problem({ problem: `listing cameras failed: ${errorMessage(e)}`, action: 'check that the ONVIF user may read media profiles' });
    return rep;
  }
  const jobs = jobsMayHelp(recordings, sourceTokensOf(cameras)) ? await getRecordingJobs(services, ctx).catch(() => []) : [];
  const map = mapRecordings(
    cameras.map((c) => ({ token: c.token, name: c.name, profileTokens: c.profiles.map((p) => p.token) })),
    recordings,
    jobs,
  );
  const now = Date.now() + clockOffsetMs;
  for (const c of cameras) {
    const choice = map.get(c.token);
    const span = choice ? recordedSpan(choice.recording) : {};
    const cam: DoctorCamera = {
      name: c.name,
      token: c.token,
      recording: choice?.recording.token ?? null,
      mapping: choice?.reason ?? null,
      from: iso(span.from),
      to: iso(span.to),
      gapsVisible: null,
    };
    if (choice && services.search) {
      // Gaps are visible when FindEvents answers for the last hour of this recording.
      const to = span.to ?? new Date(now);
      const from = new Date(Math.max(to.getTime() - 3600_000, span.from?.getTime() ?? 0));
      const ranges = await findRecordedRanges(services, ctx, choice.recording, from, to).catch(() => undefined);
      cam.gapsVisible = ranges ? ranges.gapsVisible : null;
    }
    if (!choice && recordings.length) {
      problem({ problem: `camera "${c.name}": no recording can be tied to it`, action: 'pick its recording in the nvr-source editor' });
    } else if (choice?.ambiguous) {
      problem({
        problem: `camera "${c.name}": recording ${choice.recording.token} chosen by a weak rule (${choice.reason})`,
        action: 'check it, and pick the recording in the nvr-source editor if wrong',
      });
    }
    rep.cameras.push(cam);
  }
  if (rep.cameras.some((c) => c.gapsVisible === false)) {
    problem({
      problem: 'the device gives no recording events (FindEvents): gaps in motion recording cannot be seen',
      action: 'nothing needed; the whole span from DataFrom to DataTo is fetched and empty parts are skipped',
    });
  }

  // 5. A short test replay.
  const seconds = o.replaySeconds ?? 4;
  const testCam = rep.cameras.find((c) => c.recording && c.to);
  if (seconds > 0 && services.replay && testCam?.recording && testCam.to) {
    const end = new Date(Math.min(new Date(testCam.to).getTime(), now) - 10_000);
    const start = new Date(Math.max(end.getTime() - seconds * 1000, testCam.from ? new Date(testCam.from).getTime() : 0));
    try {
      const url = await getReplayUri(services, ctx, testCam.recording);
      let frames = 0;
      const stats = await replay({
        url,
        user: creds?.user,
        password: creds?.password,
        allowBasicAuth: creds?.allowBasicAuth,
        from: start,
        to: end,
        timeouts: { connectMs: timeoutMs, responseMs: timeoutMs, idleMs: Math.max(timeoutMs, 10_000), totalMs: seconds * 1000 * 3 + 20_000 },
        signal: o.signal,
        onFrame: () => void frames++,
      });
      rep.replay = {
        ok: frames > 0,
        camera: testCam.name,
        speedX: stats.speedX,
        rateControlHonoured: stats.rateControlHonoured ?? null,
        frames,
        withoutOnvifReplay: stats.withoutOnvifReplay,
        timeSource: stats.timeSource,
      };
      if (frames === 0)
        problem({ problem: `test replay of "${testCam.name}" returned no frames`, action: 'check that the recording holds video at that time' });
      if (stats.rateControlHonoured === false) {
        problem({
          problem: `NVR replays in real time (ignores Rate-Control: no; measured ${stats.speedX}x)`,
          action: 'downloads take as long as the video; allow more parallel sessions (up to what the NVR accepts)',
        });
      }
      if (stats.withoutOnvifReplay)
        problem({ problem: 'the NVR refuses the ONVIF replay header (551); replay works without it (frame times checked)', action: 'nothing needed' });
      if (stats.timeSource && stats.timeSource !== 'onvif-extension') {
        problem({
          problem: `replay frames carry no ONVIF time stamps; times come from ${stats.timeSource}`,
          action: 'nothing needed; check the file times once against the NVR',
        });
      }
    } catch (e) {
      const kind = e instanceof RtspError ? e.kind : e instanceof OnvifError ? e.code : undefined;
      rep.replay = { ok: false, camera: testCam.name, error: errorMessage(e), errorKind: kind };
      const action =
        kind === 'busy'
          ? 'the NVR has no replay session free: lower Parallel (sessions per NVR), or stop other playback'
          : kind === 'auth'
            ? 'the ONVIF user may not replay recordings: give it playback rights'
            : kind === 'unsupported'
              ? 'this device cannot replay over ONVIF (RTSP 551/461)'
              : 'see the message';
      problem({ problem: `test replay of "${testCam.name}" failed: ${errorMessage(e)}`, action });
    }
  } else if (seconds > 0 && services.replay && rep.cameras.length && !testCam) {
    problem({ problem: 'no camera has a recording with a known range to test replay on', action: 'see the problems above' });
  }
  return rep;
}

/** Check every target (a few at a time); one report per device, in target order. */
export async function doctor(o: DoctorOptions): Promise<DoctorReport[]> {
  const targets = parseTargets(o.targets);
  if (targets.length === 0) throw new Error('doctor: give --targets (host:port list)');
  if (targets.length > 64) throw new Error(`doctor: ${targets.length} targets; check at most 64 devices at a time (use discover to find them first)`);
  return mapLimit(targets, 4, (t) => checkDevice(t.host, t.port, o));
}
