// Per device port of a source: clock offset, service addresses and recordings, looked up once per
// run. A camera is matched to its recording by lib/onvif/recording-map (source token, source
// name/address, recording jobs, track tokens, order); the choice carries its reason.
import { probeClock, getServices, deviceServiceUrl } from '../onvif/device';
import { getRecordingJobs, searchRecordings, type RecordingInfo, type RecordingJob, type SearchCtx } from '../onvif/search';
import { jobsMayHelp, mapRecordings, type RecordingChoice } from '../onvif/recording-map';
import type { Credentials } from '../credentials';
import type { DeviceServices } from '../onvif/types';
import type { CameraRef } from './driver';

export interface DeviceSession {
  port: number;
  services: DeviceServices;
  ctx: SearchCtx;
  recordings: RecordingInfo[];
  /** The recording search did not complete (device stuck in Searching / paging forever): recordings may be missing. */
  searchPartial: boolean;
  /** Device answers we worked around (implausible dates, cut-short search...). */
  warnings: string[];
  /** Recording jobs, fetched only when some recording has no SourceId. */
  jobs: RecordingJob[];
}

export async function openDeviceSession(
  host: string,
  port: number,
  credentials: Credentials | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  opts: { acceptSelfSigned?: boolean; sourceTokens?: readonly string[] } = {},
): Promise<DeviceSession> {
  // probeClock answers with the address that worked (https when the port speaks TLS).
  const { clockOffsetMs, url } = await probeClock(deviceServiceUrl({ host, port }), timeoutMs, signal, {
    credentials,
    acceptSelfSigned: opts.acceptSelfSigned,
  });
  const ctx: SearchCtx = { credentials, clockOffsetMs, timeoutMs, signal, acceptSelfSigned: opts.acceptSelfSigned };
  const services = await getServices(url, ctx);
  const found = await searchRecordings(services, ctx);
  // Recordings without a SourceId (Axis SD card), or with one that names none of our cameras, are
  // tied to cameras through their jobs.
  const jobs = jobsMayHelp(found.recordings, opts.sourceTokens) ? await getRecordingJobs(services, ctx).catch(() => []) : [];
  return { port, services, ctx, recordings: found.recordings, searchPartial: found.partial, warnings: found.warnings, jobs };
}

/** The recording for one camera and why it was chosen (undefined: none can be told). */
export function recordingChoice(s: DeviceSession, camera: CameraRef, camerasOnPort: number | readonly CameraRef[]): RecordingChoice | undefined {
  const others: readonly CameraRef[] = typeof camerasOnPort === 'number' ? [camera] : camerasOnPort;
  const refs = others.map((c) => ({
    token: c.videoSourceToken,
    name: c.displayName,
    profileTokens: c.profileToken ? [c.profileToken] : [],
    savedRecording: c.recordingToken,
  }));
  if (!refs.some((r) => r.token === camera.videoSourceToken))
    refs.unshift({
      token: camera.videoSourceToken,
      name: camera.displayName,
      profileTokens: camera.profileToken ? [camera.profileToken] : [],
      savedRecording: camera.recordingToken,
    });
  // With only a count of cameras, order/only cannot be judged: those rules need the full list.
  const choice = mapRecordings(refs, s.recordings, s.jobs).get(camera.videoSourceToken);
  if ((choice?.by === 'order' || choice?.by === 'only') && typeof camerasOnPort === 'number' && camerasOnPort !== 1) return undefined;
  return choice;
}
