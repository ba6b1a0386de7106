// Recording service (trc): which recordings exist, their source camera and tracks.
import type { DeviceContext, SoapService } from './soap-context';
import { esc } from './soap-envelope';
import { recordingSourceXml } from './soap-search';
import { profileToken, recordingToken, trackToken } from './tokens';
import { cameraOfRecording, foreignSourceId, listedRecordings, recordingCount } from './recordings';

function recordingItemXml(ctx: DeviceContext, i: number): string {
  const c = ctx.spec.cameras[cameraOfRecording(ctx, i)];
  return (
    `<trc:RecordingItem><tt:RecordingToken>${recordingToken(i)}</tt:RecordingToken>` +
    `<tt:Configuration><tt:Source>${recordingSourceXml(ctx, i)}</tt:Source>` +
    `<tt:Content>${esc(`Recording of ${c.name}`)}</tt:Content><tt:MaximumRetentionTime>PT0S</tt:MaximumRetentionTime></tt:Configuration>` +
    `<tt:Tracks><tt:Track><tt:TrackToken>${trackToken(i)}</tt:TrackToken>` +
    '<tt:Configuration><tt:TrackType>Video</tt:TrackType><tt:Description>Video track</tt:Description></tt:Configuration>' +
    '</tt:Track></tt:Tracks></trc:RecordingItem>'
  );
}

function getRecordings(ctx: DeviceContext): string {
  const items = listedRecordings(ctx)
    .map((r) => recordingItemXml(ctx, r))
    .join('');
  return `<trc:GetRecordingsResponse>${items}</trc:GetRecordingsResponse>`;
}

/** What a job names as its source: the camera's main profile, or (foreign-source-id) the same foreign id as the recording. */
function jobSource(ctx: DeviceContext, r: number): string {
  return ctx.quirks?.has('foreign-source-id') ? esc(foreignSourceId(ctx, r)) : profileToken(cameraOfRecording(ctx, r));
}

/** One active job per recording, recording its camera's main profile (the shape of an Axis reply: source Type Profile). */
function getRecordingJobs(ctx: DeviceContext): string {
  const items = listedRecordings(ctx)
    .map(
      (i) =>
        `<trc:JobItem><trc:JobToken>JOB_${i + 1}</trc:JobToken><trc:JobConfiguration><tt:RecordingToken>${recordingToken(i)}</tt:RecordingToken>` +
        '<tt:Mode>Active</tt:Mode><tt:Priority>1</tt:Priority><tt:Source>' +
        `<tt:SourceToken Type="http://www.onvif.org/ver10/schema/Profile"><tt:Token>${jobSource(ctx, i)}</tt:Token></tt:SourceToken>` +
        `<tt:AutoCreateReceiver>false</tt:AutoCreateReceiver><tt:Tracks><tt:SourceTag>video</tt:SourceTag><tt:Destination>${trackToken(i)}</tt:Destination></tt:Tracks>` +
        '</tt:Source></trc:JobConfiguration></trc:JobItem>',
    )
    .join('');
  return `<trc:GetRecordingJobsResponse>${items}</trc:GetRecordingJobsResponse>`;
}

function getServiceCapabilities(ctx: DeviceContext): string {
  return (
    '<trc:GetServiceCapabilitiesResponse><trc:Capabilities DynamicRecordings="false" DynamicTracks="false" ' +
    `Encoding="H264 H265 MPV4-ES JPEG" MaxRecordings="${recordingCount(ctx)}"/></trc:GetServiceCapabilitiesResponse>`
  );
}

export const recordingService: SoapService = {
  name: 'recording',
  operations: { GetRecordings: getRecordings, GetRecordingJobs: getRecordingJobs, GetServiceCapabilities: getServiceCapabilities },
};
