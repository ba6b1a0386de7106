// The ONVIF Profile G driver: today's path (GetServices, FindRecordings, FindEvents for recorded
// intervals, GetReplayUri + RTSP replay in a worker thread) behind the driver interface.
import { findRecordedIntervals, getReplayUri, type RecordingInfo } from '../onvif/search';
import { replayToFiles } from '../media/replay-to-files';
import { openDeviceSession, recordingFor } from './device-session';
import type { DriverRecording, OpenOptions, SourceSession, SyncDriver } from './driver';

interface OnvifRecording extends DriverRecording {
  info: RecordingInfo;
}

export const onvifDriver: SyncDriver = {
  name: 'onvif',
  async open(o: OpenOptions): Promise<SourceSession> {
    const session = await openDeviceSession(o.host, o.port, o.credentials, o.timeoutMs, o.signal);
    const uris = new Map<string, Promise<string>>();
    const info = (rec: DriverRecording) => (rec as OnvifRecording).info;
    return {
      driver: 'onvif',
      clockOffsetMs: session.ctx.clockOffsetMs,
      recordingFor(camera, camerasOnPort) {
        const r = recordingFor(session, camera, camerasOnPort);
        if (!r) return undefined;
        const rec: OnvifRecording = { token: r.token, earliest: r.tracks.find((t) => /video/i.test(t.type))?.dataFrom ?? r.earliest, info: r };
        return rec;
      },
      recordedIntervals: (rec, from, to) => findRecordedIntervals(session.services, session.ctx, info(rec), from, to),
      async download(rec, d) {
        // One GetReplayUri per recording and pass, shared by its segments.
        let uri = uris.get(rec.token);
        if (!uri) {
          uri = getReplayUri(session.services, session.ctx, rec.token);
          uris.set(rec.token, uri);
          uri.catch(() => uris.delete(rec.token));
        }
        return replayToFiles({
          url: await uri,
          user: o.credentials?.user,
          password: o.credentials?.password,
          allowBasicAuth: o.credentials?.allowBasicAuth,
          from: d.from,
          to: d.to,
          rateControl: !d.fast,
          timeouts: d.timeouts,
          signal: d.signal,
          finalPath: d.finalPath,
          onProgress: d.onProgress,
        });
      },
    };
  },
};
