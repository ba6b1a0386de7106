// Talking to one device: the unauthenticated clock probe that tells ONVIF from anything else, and
// the authenticated enumeration of services and cameras (channels) with their profiles.
import { OnvifError } from './errors';
import { soapCall, type Credentials } from './soap';
import { all, attr, child, num, path, text, type XmlValue } from './xml';
import type { CameraInfo, DeviceServices, VideoProfile } from './types';
import { hostForUrl } from './targets';

export interface DeviceEndpoint {
  host: string;
  port: number;
  /** Device service address; default http://host:port/onvif/device_service */
  xaddr?: string;
}

export function deviceServiceUrl(e: DeviceEndpoint): string {
  return e.xaddr ?? `http://${hostForUrl(e.host)}:${e.port}/onvif/device_service`;
}

/** GetSystemDateAndTime (no auth needed): proves the port speaks ONVIF and gives the clock offset. */
export async function probeClock(url: string, timeoutMs: number, signal?: AbortSignal): Promise<{ clockOffsetMs: number }> {
  const before = Date.now();
  const body = await soapCall(url, '<tds:GetSystemDateAndTime/>', { timeoutMs, signal });
  const after = Date.now();
  const sdt = path(body, 'GetSystemDateAndTimeResponse', 'SystemDateAndTime');
  if (sdt === undefined) throw new OnvifError('not-onvif', `${url}: answered SOAP, but without SystemDateAndTime`);
  const utc = child(sdt, 'UTCDateTime');
  const d = child(utc, 'Date');
  const t = child(utc, 'Time');
  const parts = [num(child(d, 'Year')), num(child(d, 'Month')), num(child(d, 'Day')), num(child(t, 'Hour')), num(child(t, 'Minute')), num(child(t, 'Second'))];
  if (parts.some((p) => p === undefined)) return { clockOffsetMs: 0 }; // some devices send local time only; assume in sync
  const [Y, M, D, h, m, s] = parts as number[];
  const device = Date.UTC(Y, M - 1, D, h, m, s);
  // An absurd date (year 999999999) gives NaN, which would break every WS-Security timestamp.
  if (!Number.isFinite(device)) return { clockOffsetMs: 0 };
  // Whole seconds on the wire: compare with the midpoint of the round trip.
  return { clockOffsetMs: device - Math.round((before + after) / 2) };
}

export interface DeviceInfo {
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  hardware?: string;
}

interface CallCtx {
  credentials?: Credentials;
  clockOffsetMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

const call = (url: string, body: string, c: CallCtx) =>
  soapCall(url, body, { credentials: c.credentials, clockOffsetMs: c.clockOffsetMs, timeoutMs: c.timeoutMs, signal: c.signal });

export async function getDeviceInformation(url: string, c: CallCtx): Promise<DeviceInfo> {
  const r = child(await call(url, '<tds:GetDeviceInformation/>', c), 'GetDeviceInformationResponse');
  return {
    manufacturer: text(child(r, 'Manufacturer')),
    model: text(child(r, 'Model')),
    firmware: text(child(r, 'FirmwareVersion')),
    serial: text(child(r, 'SerialNumber')),
    hardware: text(child(r, 'HardwareId')),
  };
}

const NS_SERVICE: Record<string, keyof Omit<DeviceServices, 'profileG' | 'device'>> = {
  'http://www.onvif.org/ver10/media/wsdl': 'media',
  'http://www.onvif.org/ver20/media/wsdl': 'media2',
  'http://www.onvif.org/ver10/search/wsdl': 'search',
  'http://www.onvif.org/ver10/recording/wsdl': 'recording',
  'http://www.onvif.org/ver10/replay/wsdl': 'replay',
};

/**
 * Service addresses. Devices behind NAT/Docker often advertise an address we cannot reach, so the
 * host:port we reached the device on replaces theirs (the path is kept).
 */
export async function getServices(url: string, c: CallCtx): Promise<DeviceServices> {
  const services: DeviceServices = { device: url, profileG: false };
  const rebase = (xaddr: string) => {
    try {
      const u = new URL(xaddr);
      const base = new URL(url);
      u.host = base.host;
      u.protocol = base.protocol;
      return u.toString();
    } catch {
      return xaddr;
    }
  };
  try {
    const r = child(await call(url, '<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>', c), 'GetServicesResponse');
    for (const s of all(r, 'Service')) {
      const key = NS_SERVICE[text(child(s, 'Namespace')) ?? ''];
      const xaddr = text(child(s, 'XAddr'));
      if (key && xaddr) services[key] = rebase(xaddr);
    }
  } catch (e) {
    if (e instanceof OnvifError && e.code !== 'protocol') throw e;
    // Older devices lack GetServices: GetCapabilities has the same addresses.
    const caps = path(await call(url, '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>', c), 'GetCapabilitiesResponse', 'Capabilities');
    const media = text(path(caps, 'Media', 'XAddr'));
    if (media) services.media = rebase(media);
    const ext = child(caps, 'Extension');
    for (const [k, key] of [['Search', 'search'], ['Recording', 'recording'], ['Replay', 'replay']] as const) {
      const x = text(path(ext, k, 'XAddr'));
      if (x) services[key] = rebase(x);
    }
  }
  services.profileG = Boolean(services.search && services.replay);
  return services;
}

export async function getScopes(url: string, c: CallCtx): Promise<string[]> {
  const r = child(await call(url, '<tds:GetScopes/>', c), 'GetScopesResponse');
  return all(r, 'Scopes')
    .map((s) => text(child(s, 'ScopeItem')))
    .filter((s): s is string => Boolean(s));
}

export function scopeValue(scopes: readonly string[] | undefined, kind: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const hit = scopes?.find((s) => s.startsWith(prefix));
  if (!hit) return undefined;
  try {
    return decodeURIComponent(hit.slice(prefix.length)).trim() || undefined;
  } catch {
    return hit.slice(prefix.length);
  }
}

interface RawProfile {
  profile: VideoProfile;
  sourceToken: string;
  sourceName?: string;
}

function profileFrom(p: XmlValue, media2: boolean): RawProfile | undefined {
  const cfg = media2 ? child(p, 'Configurations') : p;
  const vsc = child(cfg, media2 ? 'VideoSource' : 'VideoSourceConfiguration');
  const vec = child(cfg, media2 ? 'VideoEncoder' : 'VideoEncoderConfiguration');
  const sourceToken = text(child(vsc, 'SourceToken'));
  if (!sourceToken || vec === undefined) return undefined; // audio-only or metadata profile
  const res = child(vec, 'Resolution');
  const rc = child(vec, 'RateControl');
  const rawEnc = (text(child(vec, 'Encoding')) ?? '').toUpperCase();
  const encoding = rawEnc === 'MP4V-ES' || rawEnc === 'MPV4-ES' ? 'MPEG4' : rawEnc === 'JPEG' || rawEnc === 'MJPEG' ? 'JPEG' : rawEnc;
  return {
    profile: {
      token: attr(p, 'token') ?? '',
      name: text(child(p, 'Name')) ?? '',
      encoding,
      width: num(child(res, 'Width')) ?? 0,
      height: num(child(res, 'Height')) ?? 0,
      fps: num(child(rc, 'FrameRateLimit')) ?? 0,
      bitrateKbps: num(child(rc, 'BitrateLimit')),
    },
    sourceToken,
    sourceName: text(child(vsc, 'Name')),
  };
}

/**
 * Cameras (video sources / NVR channels) with their profiles. Media2 first (it names H.265
 * properly), Media1 as the fallback.
 */
export async function getCameras(services: DeviceServices, c: CallCtx, deviceName?: string): Promise<CameraInfo[]> {
  let raw: RawProfile[] = [];
  let lastError: unknown;
  if (services.media2) {
    try {
      const r = child(await call(services.media2, '<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>', c), 'GetProfilesResponse');
      raw = all(r, 'Profiles').map((p) => profileFrom(p, true)).filter((p): p is RawProfile => p !== undefined);
    } catch (e) {
      if (e instanceof OnvifError && (e.code === 'auth' || e.code === 'clock-skew' || e.code === 'timeout')) throw e;
      lastError = e;
    }
  }
  if (raw.length === 0 && services.media) {
    const r = child(await call(services.media, '<trt:GetProfiles/>', c), 'GetProfilesResponse');
    raw = all(r, 'Profiles').map((p) => profileFrom(p, false)).filter((p): p is RawProfile => p !== undefined);
  } else if (raw.length === 0 && lastError) {
    throw lastError;
  }
  const bySource = new Map<string, { names: string[]; profiles: VideoProfile[] }>();
  for (const r of raw) {
    const entry = bySource.get(r.sourceToken) ?? { names: [], profiles: [] };
    if (r.sourceName) entry.names.push(r.sourceName);
    entry.profiles.push(r.profile);
    bySource.set(r.sourceToken, entry);
  }
  const single = bySource.size === 1;
  return [...bySource.entries()].map(([token, e]) => ({
    // A one-camera device is named after the device; an NVR's channels after their source names.
    name: (single && deviceName) || e.names.find((n) => n && n !== token) || `${deviceName ?? 'Camera'} ${token}`,
    token,
    profiles: e.profiles,
  }));
}

export type { CallCtx };
