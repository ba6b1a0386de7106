// Recording service (trc): which recordings exist, their source camera and tracks.
import type { DeviceContext, SoapService } from './soap-context';
import { esc } from './soap-envelope';
import { recordingSourceXml } from './soap-search';
import { recordingToken, trackToken } from './tokens';

function recordingItemXml(ctx: DeviceContext, i: number): string {
  const c = ctx.spec.cameras[i];
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
  const items = ctx.spec.cameras.map((_, i) => recordingItemXml(ctx, i)).join('');
  return `<trc:GetRecordingsResponse>${items}</trc:GetRecordingsResponse>`;
}

function getServiceCapabilities(ctx: DeviceContext): string {
  return (
    '<trc:GetServiceCapabilitiesResponse><trc:Capabilities DynamicRecordings="false" DynamicTracks="false" ' +
    `Encoding="H264 H265 MPV4-ES JPEG" MaxRecordings="${ctx.spec.cameras.length}"/></trc:GetServiceCapabilitiesResponse>`
  );
}

export const recordingService: SoapService = {
  name: 'recording',
  operations: { GetRecordings: getRecordings, GetServiceCapabilities: getServiceCapabilities },
};
