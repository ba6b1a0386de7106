// Replay service (trp): RTSP URIs for recorded playback (served by the simulator's RTSP server).
import { rtspUrl, type DeviceContext, type SoapService } from './soap-context';
import { SoapFault, esc, invalidArg, textAt, type SoapRequest } from './soap-envelope';
import { replayCapabilitiesXml } from './soap-device';
import { cameraForRecording } from './soap-search';
import { replayPath } from './tokens';

function getReplayUri(ctx: DeviceContext, req: SoapRequest): string {
  const i = cameraForRecording(ctx, textAt(req.body, 'RecordingToken'));
  const stream = textAt(req.body, 'StreamSetup', 'Stream') || 'RTP-Unicast';
  const protocol = textAt(req.body, 'StreamSetup', 'Transport', 'Protocol') || 'RTSP';
  if (stream !== 'RTP-Unicast') throw invalidArg(`Stream type "${stream}" is not supported for replay`, 'ter:InvalidStreamSetup');
  if (!['RTSP', 'TCP', 'UDP'].includes(protocol)) {
    throw new SoapFault('Sender', ['ter:InvalidArgVal', 'ter:InvalidStreamSetup'], `Transport protocol "${protocol}" is not supported`);
  }
  return `<trp:GetReplayUriResponse><trp:Uri>${esc(rtspUrl(ctx, replayPath(i)))}</trp:Uri></trp:GetReplayUriResponse>`;
}

function getReplayConfiguration(): string {
  return '<trp:GetReplayConfigurationResponse><trp:Configuration><tt:SessionTimeout>PT60S</tt:SessionTimeout></trp:Configuration></trp:GetReplayConfigurationResponse>';
}

export const replayService: SoapService = {
  name: 'replay',
  operations: {
    GetReplayUri: getReplayUri,
    GetServiceCapabilities: () => `<trp:GetServiceCapabilitiesResponse>${replayCapabilitiesXml()}</trp:GetServiceCapabilitiesResponse>`,
    GetReplayConfiguration: getReplayConfiguration,
  },
};
