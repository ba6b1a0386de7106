// Media2 service (tr2, Profile T): same profiles as Media1 in the Media2 shape, MIME encoding names.
import { SoapFault } from './soap-envelope';
import { rtspUrl, type DeviceContext, type SoapService } from './soap-context';
import { esc, invalidArg, textAt, type SoapRequest } from './soap-envelope';
import { cameraForProfile, videoSourceConfigXml } from './soap-media';
import { livePath, profileToken } from './tokens';
import type { SimCameraSpec } from './types';

/** tt:VideoEncodingMimeNames (ONVIF spells MPEG-4 Visual "MPV4-ES"). */
export function media2Encoding(c: SimCameraSpec): string {
  return c.codec === 'MPEG4' ? 'MPV4-ES' : c.codec;
}

function encoderXml(c: SimCameraSpec, i: number, tag: string): string {
  const profileAttr = c.codec === 'H264' ? ' Profile="Main"' : c.codec === 'H265' ? ' Profile="Main"' : c.codec === 'MPEG4' ? ' Profile="Simple"' : '';
  const gov = c.codec === 'JPEG' ? '' : ` GovLength="${c.fps * 2}"`;
  return (
    `<${tag} token="VEC_${i + 1}"${gov}${profileAttr}><tt:Name>${esc(c.name)} main</tt:Name><tt:UseCount>1</tt:UseCount>` +
    `<tt:Encoding>${media2Encoding(c)}</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${c.width}</tt:Width><tt:Height>${c.height}</tt:Height></tt:Resolution>` +
    `<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>${c.fps}</tt:FrameRateLimit>` +
    `<tt:BitrateLimit>${c.bitrateKbps}</tt:BitrateLimit></tt:RateControl>` +
    `<tt:Quality>5</tt:Quality></${tag}>`
  );
}

function profileXml(c: SimCameraSpec, i: number): string {
  return (
    `<tr2:Profiles token="${profileToken(i)}" fixed="true"><tr2:Name>${esc(c.name)}</tr2:Name><tr2:Configurations>` +
    videoSourceConfigXml(c, i, 'tr2:VideoSource') +
    encoderXml(c, i, 'tr2:VideoEncoder') +
    '</tr2:Configurations></tr2:Profiles>'
  );
}

function getProfiles(ctx: DeviceContext, req: SoapRequest): string {
  if (ctx.quirks?.has('bare-encoder')) throw new SoapFault('Receiver', ['ter:ActionNotSupported'], 'Media2 profiles are not available on this device');
  const token = textAt(req.body, 'Token');
  const indexes = token ? [cameraForProfile(ctx, token)] : ctx.spec.cameras.map((_, i) => i);
  const xml = indexes.map((i) => profileXml(ctx.spec.cameras[i], i)).join('');
  return `<tr2:GetProfilesResponse>${xml}</tr2:GetProfilesResponse>`;
}

function getVideoSourceConfigurations(ctx: DeviceContext): string {
  const cfgs = ctx.spec.cameras.map((c, i) => videoSourceConfigXml(c, i, 'tr2:Configurations')).join('');
  return `<tr2:GetVideoSourceConfigurationsResponse>${cfgs}</tr2:GetVideoSourceConfigurationsResponse>`;
}

function getVideoEncoderConfigurations(ctx: DeviceContext): string {
  const cfgs = ctx.spec.cameras.map((c, i) => encoderXml(c, i, 'tr2:Configurations')).join('');
  return `<tr2:GetVideoEncoderConfigurationsResponse>${cfgs}</tr2:GetVideoEncoderConfigurationsResponse>`;
}

function getStreamUri(ctx: DeviceContext, req: SoapRequest): string {
  const i = cameraForProfile(ctx, textAt(req.body, 'ProfileToken'));
  const protocol = textAt(req.body, 'Protocol') || 'RTSP';
  if (!['RTSP', 'RtspUnicast', 'RTSPUnicast'].includes(protocol)) {
    throw invalidArg(`Protocol "${protocol}" is not supported`, 'ter:InvalidStreamSetup');
  }
  return `<tr2:GetStreamUriResponse><tr2:Uri>${esc(rtspUrl(ctx, livePath(i)))}</tr2:Uri></tr2:GetStreamUriResponse>`;
}

export const media2Service: SoapService = {
  name: 'media2',
  operations: {
    GetProfiles: getProfiles,
    GetVideoSourceConfigurations: getVideoSourceConfigurations,
    GetVideoEncoderConfigurations: getVideoEncoderConfigurations,
    GetStreamUri: getStreamUri,
  },
};
