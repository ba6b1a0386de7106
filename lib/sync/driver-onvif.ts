// The ONVIF Profile G driver: today's path (GetServices, FindRecordings mapped to cameras,
// FindEvents for recorded ranges, GetReplayUri + RTSP replay in a worker thread) behind the driver
// interface, unchanged.
import { findRecordedRanges, getReplayUri, type RecordingInfo } from '../onvif/search';
import { replayToFiles } from '../media/replay-to-files';
import { openDeviceSession, recordingChoice } from './device-session';
import type { DriverRecording, OpenOptions, SourceSession, SyncDriver } from './driver';

interface OnvifRecording extends DriverRecording {
  info: RecordingInfo;
}

export const onvifDriver: SyncDriver = {
  name: 'onvif',
  async open(o: OpenOptions): Promise<SourceSession> {
    const session = await openDeviceSession(o.host, o.port, o.credentials, o.timeoutMs, o.signal, {
      acceptSelfSigned: o.acceptSelfSigned,
      sourceTokens: o.sourceTokens,
    });
    const uris = new Map<string, Promise<string>>();
    const info = (rec: DriverRecording) => (rec as OnvifRecording).info;
    return {
      driver: 'onvif',
      clockOffsetMs: session.ctx.clockOffsetMs,
      warnings: session.warnings,
      searchPartial: session.searchPartial,
      recordingChoice(camera, camerasOnPort) {
        const c = recordingChoice(session, camera, camerasOnPort);
        if (!c) return undefined;
        const r = c.recording;
        const rec: OnvifRecording = { token: r.token, earliest: r.tracks.find((t) => /video/i.test(t.type))?.dataFrom ?? r.earliest, info: r };
        return { recording: rec, reason: c.reason, ambiguous: c.ambiguous };
      },
      recordedRanges: (rec, from, to) => findRecordedRanges(session.services, session.ctx, info(rec), from, to),
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
          coverageToleranceMs: d.coverageToleranceMs,
          signal: d.signal,
          naming: d.naming,
          onProgress: d.onProgress,
        });
      },
    };
  },
};
