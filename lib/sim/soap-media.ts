// Media service (trt, Media1 / Profile S): one profile per camera, its video source and live URI.
import { rtspUrl, type DeviceContext, type SoapService } from './soap-context';
import { esc, invalidArg, textAt, type SoapRequest } from './soap-envelope';
import { cameraIndexOf, livePath, profileToken, videoSourceToken } from './tokens';
import type { SimCameraSpec } from './types';

/** Media1 encoding names; H265 is not in the Media1 enum but devices that have it report "H265". */
export function media1Encoding(c: SimCameraSpec): string {
  return c.codec;
}

/** Camera index for a profile token, or a NoProfile fault. */
export function cameraForProfile(ctx: DeviceContext, token: string): number {
  const i = cameraIndexOf(token);
  if (i < 0 || i >= ctx.spec.cameras.length || profileToken(i) !== token) {
    throw invalidArg(`No profile with token "${token}"`, 'ter:NoProfile');
  }
  return i;
}

export function videoSourceConfigXml(c: SimCameraSpec, i: number, tag: string): string {
  return (
    `<${tag} token="VSC_${i + 1}"><tt:Name>${esc(c.name)}</tt:Name><tt:UseCount>1</tt:UseCount>` +
    `<tt:SourceToken>${videoSourceToken(i)}</tt:SourceToken>` +
    `<tt:Bounds x="0" y="0" width="${c.width}" height="${c.height}"/></${tag}>`
  );
}

function codecParamsXml(c: SimCameraSpec): string {
  const gov = c.fps * 2;
  if (c.codec === 'H264') return `<tt:H264><tt:GovLength>${gov}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>`;
  if (c.codec === 'MPEG4') return `<tt:MPEG4><tt:GovLength>${gov}</tt:GovLength><tt:Mpeg4Profile>SP</tt:Mpeg4Profile></tt:MPEG4>`;
  return '';
}

function videoEncoderConfigXml(c: SimCameraSpec, i: number, tag = 'tt:VideoEncoderConfiguration', bare = false): string {
  // Quirk bare-encoder: only Name and UseCount, like a 12-channel Dahua-firmware NVR (hammeraj/onvif PR #69).
  if (bare) return `<${tag} token="VEC_${i + 1}"><tt:Name>${esc(c.name)} main</tt:Name><tt:UseCount>1</tt:UseCount></${tag}>`;
  return (
    `<${tag} token="VEC_${i + 1}"><tt:Name>${esc(c.name)} main</tt:Name><tt:UseCount>1</tt:UseCount>` +
    `<tt:Encoding>${media1Encoding(c)}</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${c.width}</tt:Width><tt:Height>${c.height}</tt:Height></tt:Resolution>` +
    '<tt:Quality>5</tt:Quality>' +
    `<tt:RateControl><tt:FrameRateLimit>${c.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>` +
    `<tt:BitrateLimit>${c.bitrateKbps}</tt:BitrateLimit></tt:RateControl>` +
    codecParamsXml(c) +
    '<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>' +
    '<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>' +
    `<tt:SessionTimeout>PT60S</tt:SessionTimeout></${tag}>`
  );
}

function profileXml(c: SimCameraSpec, i: number, tag: string, bare = false): string {
  return (
    `<${tag} token="${profileToken(i)}" fixed="true"><tt:Name>${esc(c.name)}</tt:Name>` +
    videoSourceConfigXml(c, i, 'tt:VideoSourceConfiguration') +
    videoEncoderConfigXml(c, i, 'tt:VideoEncoderConfiguration', bare) +
    `</${tag}>`
  );
}

function getProfiles(ctx: DeviceContext): string {
  const bare = ctx.quirks?.has('bare-encoder') === true;
  const profiles = ctx.spec.cameras.map((c, i) => profileXml(c, i, 'trt:Profiles', bare)).join('');
  return `<trt:GetProfilesResponse>${profiles}</trt:GetProfilesResponse>`;
}

function getProfile(ctx: DeviceContext, req: SoapRequest): string {
  const i = cameraForProfile(ctx, textAt(req.body, 'ProfileToken'));
  return `<trt:GetProfileResponse>${profileXml(ctx.spec.cameras[i], i, 'trt:Profile')}</trt:GetProfileResponse>`;
}

function getVideoSources(ctx: DeviceContext): string {
  const sources = ctx.spec.cameras
    .map(
      (c, i) =>
        `<trt:VideoSources token="${videoSourceToken(i)}"><tt:Framerate>${c.fps}</tt:Framerate>` +
        `<tt:Resolution><tt:Width>${c.width}</tt:Width><tt:Height>${c.height}</tt:Height></tt:Resolution></trt:VideoSources>`,
    )
    .join('');
  return `<trt:GetVideoSourcesResponse>${sources}</trt:GetVideoSourcesResponse>`;
}

function getVideoSourceConfigurations(ctx: DeviceContext): string {
  const cfgs = ctx.spec.cameras.map((c, i) => videoSourceConfigXml(c, i, 'trt:Configurations')).join('');
  return `<trt:GetVideoSourceConfigurationsResponse>${cfgs}</trt:GetVideoSourceConfigurationsResponse>`;
}

function getStreamUri(ctx: DeviceContext, req: SoapRequest): string {
  const i = cameraForProfile(ctx, textAt(req.body, 'ProfileToken'));
  const stream = textAt(req.body, 'StreamSetup', 'Stream') || 'RTP-Unicast';
  if (stream !== 'RTP-Unicast') throw invalidArg(`Stream type "${stream}" is not supported`, 'ter:InvalidStreamSetup');
  return (
    `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${esc(rtspUrl(ctx, livePath(i)))}</tt:Uri>` +
    '<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>' +
    '<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>'
  );
}

export const mediaService: SoapService = {
  name: 'media',
  operations: {
    GetProfiles: getProfiles,
    GetProfile: getProfile,
    GetVideoSources: getVideoSources,
    GetVideoSourceConfigurations: getVideoSourceConfigurations,
    GetVideoEncoderConfigurations: (ctx) =>
      `<trt:GetVideoEncoderConfigurationsResponse>${ctx.spec.cameras.map((c, i) => videoEncoderConfigXml(c, i, 'trt:Configurations')).join('')}</trt:GetVideoEncoderConfigurationsResponse>`,
    GetStreamUri: getStreamUri,
  },
};
