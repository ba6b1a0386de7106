// Talking to one device: the unauthenticated clock probe that tells ONVIF from anything else, and
// the authenticated enumeration of services and cameras (channels) with their profiles.
import { OnvifError } from './errors';
import { soapCall, type AuthMode } from './soap';
import type { Credentials } from '../credentials';
import { all, attr, child, num, path, text, type XmlNode, type XmlValue } from './xml';
import type { CameraInfo, DeviceServices, VideoProfile } from './types';
import { hostForUrl } from './targets';

export interface DeviceEndpoint {
  host: string;
  port: number;
  /** Device service address; default http://host:port/onvif/device_service */
  xaddr?: string;
}

export function deviceServiceUrl(e: DeviceEndpoint): string {
  // Port 443 is HTTPS-only devices' ONVIF port; everything else is plain HTTP unless an https XAddr was given.
  return e.xaddr ?? `${e.port === 443 ? 'https' : 'http'}://${hostForUrl(e.host)}:${e.port}/onvif/device_service`;
}

export interface ClockProbe {
  clockOffsetMs: number;
  /** The device service address that answered: https when a plain-HTTP port turned out to speak TLS. */
  url: string;
  /** The device wanted credentials even for its clock (and how they got through). */
  clockAuth?: AuthMode;
}

export interface ProbeOptions {
  credentials?: Credentials;
  acceptSelfSigned?: boolean;
}

/**
 * GetSystemDateAndTime: proves the port speaks ONVIF and gives the clock offset. The spec says it
 * needs no auth, but several vendors' devices demand it (401, sometimes with an HTML body: reported
 * in issue #9 and DESIGN.md §4; no public capture of it in test/fixtures/devices yet): with
 * credentials we then retry with HTTP Digest alone, then WS-Security stamped with our own clock
 * (offset 0 — we cannot know theirs yet).
 */
export async function probeClock(url: string, timeoutMs: number, signal?: AbortSignal, p: ProbeOptions = {}): Promise<ClockProbe> {
  try {
    return await probeClockAt(url, timeoutMs, signal, p);
  } catch (e) {
    const tls = httpsTwin(url, e);
    if (!tls) throw e;
    try {
      return await probeClockAt(tls, timeoutMs, signal, p);
    } catch (e2) {
      // The port does speak TLS: its answer (a refused certificate, a login) is the one to show.
      // Anything else means it was not HTTPS either: the first error stands.
      if (e2 instanceof OnvifError && e2.code !== 'not-onvif' && e2.code !== 'unreachable') throw e2;
      throw e;
    }
  }
}

/**
 * An HTTPS-only device on a port other than 443 drops a plain HTTP request (Node, most embedded
 * servers: the connection is reset) or answers it with an HTML 400 (nginx: "The plain HTTP request
 * was sent to HTTPS port"). Then the same address with https is worth one more try.
 */
function httpsTwin(url: string, e: unknown): string | undefined {
  if (!url.startsWith('http:') || !(e instanceof OnvifError)) return undefined;
  const dropped = e.code === 'not-onvif' && /ECONNRESET|EPIPE|HPE_|HTTP 400/.test(e.message);
  return dropped ? 'https:' + url.slice('http:'.length) : undefined;
}

async function probeClockAt(url: string, timeoutMs: number, signal: AbortSignal | undefined, p: ProbeOptions): Promise<ClockProbe> {
  const op = '<tds:GetSystemDateAndTime/>';
  let before = Date.now();
  let body: XmlNode;
  let clockAuth: AuthMode | undefined;
  try {
    body = await soapCall(url, op, { timeoutMs, signal, acceptSelfSigned: p.acceptSelfSigned });
  } catch (e) {
    if (!(e instanceof OnvifError) || (e.code !== 'auth' && e.code !== 'clock-skew') || !p.credentials) throw e;
    const used: { mode?: AuthMode } = {};
    before = Date.now();
    try {
      body = await soapCall(url, op, {
        timeoutMs,
        signal,
        credentials: p.credentials,
        wsSecurity: false,
        authUsed: used,
        acceptSelfSigned: p.acceptSelfSigned,
      });
    } catch (e2) {
      if (!(e2 instanceof OnvifError) || e2.code === 'unreachable' || e2.code === 'timeout') throw e2;
      before = Date.now();
      body = await soapCall(url, op, { timeoutMs, signal, credentials: p.credentials, clockOffsetMs: 0, authUsed: used, acceptSelfSigned: p.acceptSelfSigned });
    }
    clockAuth = used.mode;
  }
  const after = Date.now();
  const sdt = path(body, 'GetSystemDateAndTimeResponse', 'SystemDateAndTime');
  if (sdt === undefined) throw new OnvifError('not-onvif', `${url}: answered SOAP, but without SystemDateAndTime`);
  const utc = child(sdt, 'UTCDateTime');
  const d = child(utc, 'Date');
  const t = child(utc, 'Time');
  const parts = [num(child(d, 'Year')), num(child(d, 'Month')), num(child(d, 'Day')), num(child(t, 'Hour')), num(child(t, 'Minute')), num(child(t, 'Second'))];
  if (parts.some((x) => x === undefined)) return { clockOffsetMs: 0, clockAuth, url }; // some devices send local time only; assume in sync
  const [Y, M, D, h, m, s] = parts as number[];
  const device = Date.UTC(Y, M - 1, D, h, m, s);
  // An absurd date (year 999999999) gives NaN, which would break every WS-Security timestamp.
  if (!Number.isFinite(device)) return { clockOffsetMs: 0, clockAuth, url };
  // Whole seconds on the wire: compare with the midpoint of the round trip.
  return { clockOffsetMs: device - Math.round((before + after) / 2), clockAuth, url };
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
  /** https devices with a self-signed certificate (per-source opt-in). */
  acceptSelfSigned?: boolean;
}

const call = (url: string, body: string, c: CallCtx) =>
  soapCall(url, body, {
    credentials: c.credentials,
    clockOffsetMs: c.clockOffsetMs,
    timeoutMs: c.timeoutMs,
    signal: c.signal,
    acceptSelfSigned: c.acceptSelfSigned,
  });

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
  'http://www.onvif.org/ver10/events/wsdl': 'events',
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
    const caps = path(
      await call(url, '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>', c),
      'GetCapabilitiesResponse',
      'Capabilities',
    );
    const media = text(path(caps, 'Media', 'XAddr'));
    if (media) services.media = rebase(media);
    const ext = child(caps, 'Extension');
    const ev = text(path(caps, 'Events', 'XAddr'));
    if (ev) services.events = rebase(ev);
    for (const [k, key] of [
      ['Search', 'search'],
      ['Recording', 'recording'],
      ['Replay', 'replay'],
    ] as const) {
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
  /** Media1 video encoder configuration token, to complete the profile from GetVideoEncoderConfigurations. */
  encoderToken?: string;
  /** Video source configuration Bounds: the resolution when the encoder says nothing. */
  bounds?: { width: number; height: number };
}

function normEncoding(raw: string | undefined): string {
  const e = (raw ?? '').toUpperCase();
  return e === 'MP4V-ES' || e === 'MPV4-ES' ? 'MPEG4' : e === 'JPEG' || e === 'MJPEG' ? 'JPEG' : e;
}

function encoderFields(vec: XmlValue): Pick<VideoProfile, 'encoding' | 'width' | 'height' | 'fps' | 'bitrateKbps'> {
  const res = child(vec, 'Resolution');
  const rc = child(vec, 'RateControl');
  return {
    encoding: normEncoding(text(child(vec, 'Encoding'))),
    width: num(child(res, 'Width')) ?? 0,
    height: num(child(res, 'Height')) ?? 0,
    fps: num(child(rc, 'FrameRateLimit')) ?? 0,
    bitrateKbps: num(child(rc, 'BitrateLimit')),
  };
}

function profileFrom(p: XmlValue, media2: boolean): RawProfile | undefined {
  const cfg = media2 ? child(p, 'Configurations') : p;
  const vsc = child(cfg, media2 ? 'VideoSource' : 'VideoSourceConfiguration');
  const vec = child(cfg, media2 ? 'VideoEncoder' : 'VideoEncoderConfiguration');
  const sourceToken = text(child(vsc, 'SourceToken'));
  // Audio-only or metadata profile. A video source without an encoder configuration is still a
  // camera: Hikvision NVR DS-7732NI-I4 lists its channels that way (agsh/onvif#369).
  if (!sourceToken) return undefined;
  const b = child(vsc, 'Bounds');
  const bw = Number(attr(b, 'width'));
  const bh = Number(attr(b, 'height'));
  return {
    profile: { token: attr(p, 'token') ?? '', name: text(child(p, 'Name')) ?? '', ...encoderFields(vec) },
    sourceToken,
    sourceName: text(child(vsc, 'Name')),
    encoderToken: attr(vec, 'token'),
    bounds: bw > 0 && bh > 0 ? { width: bw, height: bh } : undefined,
  };
}

const incomplete = (p: VideoProfile) => !p.encoding || !p.width || !p.height;

/**
 * Fill profiles whose encoder configuration lacks Encoding/Resolution — a 12-channel Dahua-firmware
 * NVR sends only Name and UseCount (hammeraj/onvif PR #69 fixture) — from Media1
 * GetVideoEncoderConfigurations, then Media2 GetProfiles, then the video source Bounds. Each
 * step is optional: a device without it (ActionNotSupported) just leaves the next one to try.
 */
async function completeProfiles(raw: RawProfile[], services: DeviceServices, c: CallCtx, usedMedia2: boolean): Promise<void> {
  const rethrow = (e: unknown) => {
    if (e instanceof OnvifError && (e.code === 'auth' || e.code === 'clock-skew' || e.code === 'timeout')) throw e;
  };
  if (raw.some((r) => incomplete(r.profile)) && services.media && !usedMedia2) {
    try {
      const r = child(await call(services.media, '<trt:GetVideoEncoderConfigurations/>', c), 'GetVideoEncoderConfigurationsResponse');
      const byToken = new Map(all(r, 'Configurations').map((v) => [attr(v, 'token') ?? '', encoderFields(v)]));
      for (const x of raw) {
        const f = x.encoderToken !== undefined ? byToken.get(x.encoderToken) : undefined;
        if (f && incomplete(x.profile)) merge(x.profile, f);
      }
    } catch (e) {
      rethrow(e);
    }
  }
  if (raw.some((r) => incomplete(r.profile)) && services.media2 && !usedMedia2) {
    try {
      const r = child(await call(services.media2, '<tr2:GetProfiles><tr2:Type>VideoEncoder</tr2:Type></tr2:GetProfiles>', c), 'GetProfilesResponse');
      const byToken = new Map(all(r, 'Profiles').map((p) => [attr(p, 'token') ?? '', encoderFields(child(child(p, 'Configurations'), 'VideoEncoder'))]));
      for (const x of raw) {
        const f = byToken.get(x.profile.token);
        if (f && incomplete(x.profile)) merge(x.profile, f);
      }
    } catch (e) {
      rethrow(e);
    }
  }
  for (const x of raw) {
    if ((!x.profile.width || !x.profile.height) && x.bounds) {
      x.profile.width = x.bounds.width;
      x.profile.height = x.bounds.height;
    }
  }
}

function merge(p: VideoProfile, f: ReturnType<typeof encoderFields>): void {
  if (!p.encoding) p.encoding = f.encoding;
  if (!p.width || !p.height) {
    p.width = f.width;
    p.height = f.height;
  }
  if (!p.fps) p.fps = f.fps;
  p.bitrateKbps ??= f.bitrateKbps;
}

// Names firmware generates, not the user: "VideoSourceConfig_Channel1", "MediaProfile_Channel1_MainStream"
// (Dahua), "ProfileName005"/"VideoSourceConfigurationName005" (Hikvision NVR), "mainStream",
// "VideoSourceConfig" (Hikvision IPC), "user0"/"profile_1 h264" (Axis), "Profile_1".
const GENERIC_WORDS =
  /\b(?:video\s*source\s*config(?:uration)?(?:\s*name)?|video\s*source|media\s*profile|profile\s*name|profile|main\s*stream|sub\s*stream|third\s*stream|stream|main|sub|minor|major|user|token|config(?:uration)?|default|vsc|vec|ip\s*camera|h\.?\s*26[45]|mjpe?g|jpeg|mpeg4)\b/gi;
const CHANNEL_WORDS = /\b(?:channel|chan|ch|camera|cam|video|source|input)\b/gi;

/** The user's part of a name (generic firmware words removed), or undefined when nothing is left. */
export function meaningfulName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const spaced = name
    .replace(/[_]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Za-z])(\d)/g, '$1 $2')
    .trim();
  const rest = spaced
    .replace(GENERIC_WORDS, ' ')
    .replace(CHANNEL_WORDS, ' ')
    .replace(/[\d\s\-_.:#]+/g, ' ')
    .trim();
  if (!/\p{L}/u.test(rest)) return undefined;
  // Keep what the user typed, only without generic suffixes/prefixes ("Front Door_Main" → "Front Door").
  const cleaned = name
    .replace(/[\s_-]*(?:main\s*stream|sub\s*stream\d*|main|sub|profile[\s_]*\d+|video\s*source\s*config(?:uration)?)$/i, '')
    .replace(/^(?:video\s*source\s*config(?:uration)?|media\s*profile|profile[\s_]*\d+)[\s_-]*/i, '')
    .trim();
  return cleaned || name.trim();
}

/** "Channel N" from a generic name ("VideoSourceConfig_Channel3" → 3) or the position. */
export function channelNumber(names: readonly (string | undefined)[], index: number): number {
  for (const n of names) {
    const m = /(?:channel|chan|ch)[\s_]*0*(\d+)/i.exec(n ?? '') ?? /0*(\d+)\D*$/.exec(n ?? '');
    if (m && Number(m[1]) > 0) return Number(m[1]);
  }
  return index + 1;
}

export interface NamingHints {
  /** Friendly device name (scope name), used for a one-camera device whose names are all generic. */
  deviceName?: string;
  /** The device is a recorder (NVR): even a single channel is named after the channel. */
  recorder?: boolean;
  /** Recording source names (RecordingSourceInformation Name) by video source token. */
  recordingNames?: ReadonlyMap<string, string>;
}

/**
 * Camera display name = the NVR's channel name, as the user typed it on the NVR: the recording's
 * source Name, else the video source configuration name, else a profile name — each only when it
 * is not a firmware default — and "Channel N" as the last resort.
 */
export function cameraName(
  token: string,
  index: number,
  vscNames: readonly string[],
  profileNames: readonly string[],
  single: boolean,
  h: NamingHints = {},
): string {
  const candidates = [h.recordingNames?.get(token), ...vscNames, ...profileNames].filter((n): n is string => Boolean(n) && n !== token);
  for (const n of candidates) {
    const m = meaningfulName(n);
    if (m) return m;
  }
  if (single && !h.recorder && h.deviceName) return h.deviceName;
  return `Channel ${channelNumber([...vscNames, ...profileNames, token], index)}`;
}

/**
 * Cameras (video sources / NVR channels) with their profiles. Media2 first (it names H.265
 * properly), Media1 as the fallback.
 */
export async function getCameras(
  services: DeviceServices,
  c: CallCtx,
  deviceName?: string,
  hints: Omit<NamingHints, 'deviceName'> = {},
): Promise<CameraInfo[]> {
  let raw: RawProfile[] = [];
  let lastError: unknown;
  let usedMedia2 = false;
  if (services.media2) {
    try {
      const r = child(await call(services.media2, '<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>', c), 'GetProfilesResponse');
      raw = all(r, 'Profiles')
        .map((p) => profileFrom(p, true))
        .filter((p): p is RawProfile => p !== undefined);
      usedMedia2 = raw.length > 0;
    } catch (e) {
      if (e instanceof OnvifError && (e.code === 'auth' || e.code === 'clock-skew' || e.code === 'timeout')) throw e;
      lastError = e;
    }
  }
  if (raw.length === 0 && services.media) {
    const r = child(await call(services.media, '<trt:GetProfiles/>', c), 'GetProfilesResponse');
    raw = all(r, 'Profiles')
      .map((p) => profileFrom(p, false))
      .filter((p): p is RawProfile => p !== undefined);
  } else if (raw.length === 0 && lastError) {
    throw lastError;
  }
  await completeProfiles(raw, services, c, usedMedia2);
  const bySource = new Map<string, { names: string[]; profiles: VideoProfile[] }>();
  for (const r of raw) {
    const entry = bySource.get(r.sourceToken) ?? { names: [], profiles: [] };
    if (r.sourceName) entry.names.push(r.sourceName);
    entry.profiles.push(r.profile);
    bySource.set(r.sourceToken, entry);
  }
  const single = bySource.size === 1;
  return [...bySource.entries()].map(([token, e], i) => ({
    name: cameraName(
      token,
      i,
      e.names,
      e.profiles.map((p) => p.name),
      single,
      { ...hints, deviceName },
    ),
    token,
    profiles: e.profiles,
  }));
}

export type { CallCtx };
