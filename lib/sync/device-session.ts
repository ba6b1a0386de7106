// Per device port of a source: clock offset, service addresses and recordings, looked up once per
// run. A camera is matched to its recording by the recording's Source (the video source token),
// then by name, then — for a one-camera device — the only recording.
import { probeClock, getServices, deviceServiceUrl } from '../onvif/device';
import { findRecordings, type RecordingInfo, type SearchCtx } from '../onvif/search';
import type { Credentials } from '../onvif/soap';
import type { DeviceServices } from '../onvif/types';

export interface DeviceSession {
  port: number;
  services: DeviceServices;
  ctx: SearchCtx;
  recordings: RecordingInfo[];
}

export async function openDeviceSession(host: string, port: number, credentials: Credentials | undefined, timeoutMs: number, signal?: AbortSignal): Promise<DeviceSession> {
  const url = deviceServiceUrl({ host, port });
  const { clockOffsetMs } = await probeClock(url, timeoutMs, signal);
  const ctx: SearchCtx = { credentials, clockOffsetMs, timeoutMs, signal };
  const services = await getServices(url, ctx);
  const recordings = await findRecordings(services, ctx);
  return { port, services, ctx, recordings };
}

export function recordingFor(
  s: DeviceSession,
  camera: { videoSourceToken: string; displayName: string; recordingToken: string | null },
  camerasOnPort: number,
): RecordingInfo | undefined {
  return (
    (camera.recordingToken ? s.recordings.find((r) => r.token === camera.recordingToken) : undefined) ??
    s.recordings.find((r) => r.sourceId === camera.videoSourceToken) ??
    s.recordings.find((r) => r.sourceName === camera.displayName) ??
    (camerasOnPort === 1 && s.recordings.length === 1 ? s.recordings[0] : undefined)
  );
}
