// Device management service (tds): clock, identity, scopes and where the other services live.
import { SERVICES, serviceUrl, type DeviceContext, type SoapService } from './soap-context';
import { esc, textAt, type SoapRequest } from './soap-envelope';
import type { SimDeviceSpec } from './types';

/** ONVIF scopes of a device; also announced by WS-Discovery. */
export function deviceScopes(spec: SimDeviceSpec): string[] {
  const isNvr = spec.cameras.length > 1 || /nvr/i.test(spec.model);
  return [
    'onvif://www.onvif.org/type/video_encoder',
    ...(isNvr ? ['onvif://www.onvif.org/type/Network_Video_Recorder'] : []),
    `onvif://www.onvif.org/name/${encodeURIComponent(spec.name)}`,
    `onvif://www.onvif.org/hardware/${encodeURIComponent(spec.hardware)}`,
    `onvif://www.onvif.org/location/${encodeURIComponent(spec.location)}`,
    'onvif://www.onvif.org/Profile/Streaming',
    'onvif://www.onvif.org/Profile/G',
  ];
}

function dateTimeXml(d: Date): string {
  return (
    `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute>` +
    `<tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
    `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month>` +
    `<tt:Day>${d.getUTCDate()}</tt:Day></tt:Date>`
  );
}

function getSystemDateAndTime(ctx: DeviceContext): string {
  const now = ctx.now();
  return (
    '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
    '<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
    '<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>' +
    `<tt:UTCDateTime>${dateTimeXml(now)}</tt:UTCDateTime>` +
    `<tt:LocalDateTime>${dateTimeXml(now)}</tt:LocalDateTime>` +
    '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>'
  );
}

function getDeviceInformation(ctx: DeviceContext): string {
  const s = ctx.spec;
  return (
    '<tds:GetDeviceInformationResponse>' +
    `<tds:Manufacturer>${esc(s.manufacturer)}</tds:Manufacturer><tds:Model>${esc(s.model)}</tds:Model>` +
    `<tds:FirmwareVersion>${esc(s.firmware)}</tds:FirmwareVersion><tds:SerialNumber>${esc(s.serial)}</tds:SerialNumber>` +
    `<tds:HardwareId>${esc(s.hardware)}</tds:HardwareId>` +
    '</tds:GetDeviceInformationResponse>'
  );
}

function getScopes(ctx: DeviceContext): string {
  const items = deviceScopes(ctx.spec)
    .map((scope) => {
      // Name and location are configurable on real devices; the rest is fixed by the firmware.
      const def = /\/(name|location)\//.test(scope) ? 'Configurable' : 'Fixed';
      return `<tds:Scopes><tt:ScopeDef>${def}</tt:ScopeDef><tt:ScopeItem>${esc(scope)}</tt:ScopeItem></tds:Scopes>`;
    })
    .join('');
  return `<tds:GetScopesResponse>${items}</tds:GetScopesResponse>`;
}

function getCapabilities(ctx: DeviceContext, req: SoapRequest): string {
  const category = textAt(req.body, 'Category') || 'All';
  const want = (c: string): boolean => category === 'All' || category === c;
  let xml = '<tds:GetCapabilitiesResponse><tds:Capabilities>';
  if (want('Device')) {
    xml +=
      `<tt:Device><tt:XAddr>${serviceUrl(ctx, 'device')}</tt:XAddr>` +
      '<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>' +
      '<tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>' +
      '<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>' +
      '<tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>' +
      '<tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>' +
      '<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System>' +
      '<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2><tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>' +
      '<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token>' +
      '<tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken>' +
      '</tt:Security></tt:Device>';
  }
  if (want('Media')) {
    xml +=
      `<tt:Media><tt:XAddr>${serviceUrl(ctx, 'media')}</tt:XAddr><tt:StreamingCapabilities>` +
      '<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>' +
      '</tt:StreamingCapabilities></tt:Media>';
  }
  if (category === 'All') {
    xml +=
      '<tt:Extension>' +
      `<tt:Recording><tt:XAddr>${serviceUrl(ctx, 'recording')}</tt:XAddr><tt:ReceiverSource>false</tt:ReceiverSource>` +
      '<tt:MediaProfileSource>true</tt:MediaProfileSource><tt:DynamicRecordings>false</tt:DynamicRecordings>' +
      '<tt:DynamicTracks>false</tt:DynamicTracks><tt:MaxStringLength>64</tt:MaxStringLength></tt:Recording>' +
      `<tt:Search><tt:XAddr>${serviceUrl(ctx, 'search')}</tt:XAddr><tt:MetadataSearch>false</tt:MetadataSearch></tt:Search>` +
      `<tt:Replay><tt:XAddr>${serviceUrl(ctx, 'replay')}</tt:XAddr></tt:Replay>` +
      '</tt:Extension>';
  }
  return xml + '</tds:Capabilities></tds:GetCapabilitiesResponse>';
}

/** Per-service capabilities, as GetServices with IncludeCapability=true returns them. */
export function serviceCapabilitiesXml(ctx: DeviceContext, name: string): string {
  switch (name) {
    case 'device':
      return (
        '<tds:Capabilities><tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false"/>' +
        '<tds:Security UsernameToken="true" HttpDigest="true"/>' +
        '<tds:System DiscoveryResolve="false" DiscoveryBye="true" RemoteDiscovery="false" SystemBackup="false" SystemLogging="false" FirmwareUpgrade="false"/>' +
        '</tds:Capabilities>'
      );
    case 'media':
      return (
        '<trt:Capabilities SnapshotUri="false" Rotation="false"><trt:ProfileCapabilities MaximumNumberOfProfiles="' +
        ctx.spec.cameras.length +
        '"/><trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true"/></trt:Capabilities>'
      );
    case 'media2':
      return (
        '<tr2:Capabilities SnapshotUri="false" Rotation="false"><tr2:ProfileCapabilities MaximumNumberOfProfiles="' +
        ctx.spec.cameras.length +
        '"/><tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="false" RTP_RTSP_TCP="true"/></tr2:Capabilities>'
      );
    case 'search':
      return '<tse:Capabilities MetadataSearch="false" GeneralStartEvents="false"/>';
    case 'recording':
      return (
        '<trc:Capabilities DynamicRecordings="false" DynamicTracks="false" Encoding="H264 H265 MP4V-ES JPEG" MaxRecordings="' + ctx.spec.cameras.length + '"/>'
      );
    case 'replay':
      return replayCapabilitiesXml();
    default:
      return '';
  }
}

export function replayCapabilitiesXml(): string {
  return '<trp:Capabilities ReversePlayback="false" SessionTimeoutRange="10 600" RTP_RTSP_TCP="true"/>';
}

function getServices(ctx: DeviceContext, req: SoapRequest): string {
  const includeCaps = textAt(req.body, 'IncludeCapability').toLowerCase() === 'true';
  const items = SERVICES.map((s) => {
    const caps = includeCaps ? `<tds:Capabilities>${serviceCapabilitiesXml(ctx, s.name)}</tds:Capabilities>` : '';
    return (
      `<tds:Service><tds:Namespace>${s.namespace}</tds:Namespace><tds:XAddr>${serviceUrl(ctx, s.name)}</tds:XAddr>` +
      `${caps}<tds:Version><tt:Major>${s.version.major}</tt:Major><tt:Minor>${s.version.minor}</tt:Minor></tds:Version></tds:Service>`
    );
  }).join('');
  return `<tds:GetServicesResponse>${items}</tds:GetServicesResponse>`;
}

function getServiceCapabilities(ctx: DeviceContext): string {
  return `<tds:GetServiceCapabilitiesResponse>${serviceCapabilitiesXml(ctx, 'device')}</tds:GetServiceCapabilitiesResponse>`;
}

export const deviceService: SoapService = {
  name: 'device',
  operations: {
    GetSystemDateAndTime: getSystemDateAndTime,
    GetDeviceInformation: getDeviceInformation,
    GetScopes: getScopes,
    GetCapabilities: getCapabilities,
    GetServices: getServices,
    GetServiceCapabilities: getServiceCapabilities,
  },
};
