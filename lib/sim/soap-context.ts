// What every SOAP service of one simulated device can see: its spec, addresses, clock, recording
// timelines and open searches. Each service module exports a SoapService built on this.
import type { SimDeviceSpec } from './types';
import type { RecordingTimeline } from './timeline';
import type { SoapRequest } from './soap-envelope';
import type { SearchStore } from './soap-search-sessions';
import type { QuirkName } from './quirks';

export type ServiceName = 'device' | 'media' | 'media2' | 'search' | 'recording' | 'replay';

export interface ServiceInfo {
  name: ServiceName;
  path: string;
  namespace: string;
  version: { major: number; minor: number };
}

export const SERVICES: readonly ServiceInfo[] = [
  { name: 'device', path: '/onvif/device_service', namespace: 'http://www.onvif.org/ver10/device/wsdl', version: { major: 2, minor: 60 } },
  { name: 'media', path: '/onvif/media_service', namespace: 'http://www.onvif.org/ver10/media/wsdl', version: { major: 2, minor: 60 } },
  { name: 'media2', path: '/onvif/media2_service', namespace: 'http://www.onvif.org/ver20/media/wsdl', version: { major: 2, minor: 60 } },
  { name: 'search', path: '/onvif/search_service', namespace: 'http://www.onvif.org/ver10/search/wsdl', version: { major: 2, minor: 42 } },
  { name: 'recording', path: '/onvif/recording_service', namespace: 'http://www.onvif.org/ver10/recording/wsdl', version: { major: 2, minor: 42 } },
  { name: 'replay', path: '/onvif/replay_service', namespace: 'http://www.onvif.org/ver10/replay/wsdl', version: { major: 2, minor: 42 } },
];

export interface DeviceContext {
  spec: SimDeviceSpec;
  /** Host name or address put into XAddrs and stream URIs. */
  host: string;
  port: number;
  /** Port the RTSP server listens on (placed into GetStreamUri / GetReplayUri answers). */
  rtspPort: number;
  /** Device clock: the real clock plus the configured offset. */
  now(): Date;
  /** One timeline per camera, same order as spec.cameras. */
  timelines: RecordingTimeline[];
  searches: SearchStore;
  /** Real-device behaviours switched on (lib/sim/quirks.ts). */
  quirks?: ReadonlySet<QuirkName>;
  /** The SOAP services are served over TLS (an HTTPS-only device): XAddrs say https. */
  https?: boolean;
}

export function serviceUrl(ctx: DeviceContext, name: ServiceName): string {
  const info = SERVICES.find((s) => s.name === name);
  return `${ctx.https ? 'https' : 'http'}://${urlHost(ctx.host)}:${ctx.port}${info ? info.path : ''}`;
}

export function rtspUrl(ctx: DeviceContext, path: string): string {
  return `rtsp://${urlHost(ctx.host)}:${ctx.rtspPort}${path}`;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** An operation returns the inner XML of the Body (the ...Response element), or throws SoapFault. */
export type SoapOperation = (ctx: DeviceContext, req: SoapRequest) => string;

export interface SoapService {
  name: ServiceName;
  operations: Record<string, SoapOperation>;
}
