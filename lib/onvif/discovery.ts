// discover(): the one entry point behind the onvif-discover node, the editor's Discover button
// and `vtrack-onvif discover`. Finds devices by WS-Discovery and/or by probing host:port targets,
// then (with credentials) lists each device's cameras. Per-device problems become `error` on that
// device; only bad options (an unparsable target list, an unknown interface) reject.
import { sniffVendorApi } from '../vendors/sniff';
import { mapLimit } from './concurrency';
import {
  probeClock,
  getDeviceInformation,
  getServices,
  getScopes,
  getCameras,
  scopeValue,
  deviceServiceUrl,
  type CallCtx,
  type ProbeOptions,
  type ClockProbe,
} from './device';
import { getRecordingJobs, searchRecordings, type RecordingInfo } from './search';
import { jobsMayHelp, mapCameras, sourceTokensOf, summarizeRecording } from './recording-map';
import { OnvifError, errorMessage } from './errors';
import { parseTargets, type Target } from './targets';
import { wsDiscover, type ProbeMatch } from './ws-discovery';
import type { Credentials } from '../credentials';
import type { DiscoveredDevice } from './types';

export interface DiscoverOptions extends Partial<Credentials> {
  /** host:port list, ranges and CIDR blocks (see targets.ts). */
  targets?: string | string[];
  /** WS-Discovery: true = all IPv4 interfaces; "eth0" / "192.168.1.5" = one interface; "127.0.0.1:3702" = directed. */
  wsDiscovery?: boolean | string;
  /** Most host:port pairs the target list may stand for (checked before expanding). Default MAX_TARGETS. */
  maxTargets?: number;
  /** Budget for finding devices (WS-Discovery listening time, per-target probe timeout). */
  timeoutMs?: number;
  /** Parallel probes. */
  concurrency?: number;
  /** List cameras and profiles (default true). */
  details?: boolean;
  /**
   * Budget for listing one device (all its calls together), so a device that stalls on every
   * call cannot hold discover() up call after call. Default max(2 × timeoutMs, 10 s).
   */
  detailsTimeoutMs?: number;
  /** https devices: accept a self-signed certificate (off by default). */
  acceptSelfSigned?: boolean;
  signal?: AbortSignal;
}

interface Candidate {
  host: string;
  port: number;
  xaddr: string;
  via: DiscoveredDevice['via'];
  explicit: boolean;
  urn?: string;
  scopes?: string[];
}

function fromProbeMatch(m: ProbeMatch): Candidate | undefined {
  const http = m.xaddrs.map((x) => {
    try {
      return new URL(x);
    } catch {
      return undefined;
    }
  });
  // Prefer an address on the interface the reply came from (multi-homed devices list several).
  const u = http.find((x) => x?.hostname === m.from) ?? http.find((x) => x && /^\d+\.\d+\.\d+\.\d+$/.test(x.hostname)) ?? http.find(Boolean);
  if (!u) return undefined;
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return { host: u.hostname, port, xaddr: u.toString(), via: 'ws-discovery', explicit: true, urn: m.urn, scopes: m.scopes };
}

async function probeTarget(t: Target, timeoutMs: number, signal?: AbortSignal, p: ProbeOptions = {}): Promise<ClockProbe | OnvifError> {
  try {
    return await probeClock(deviceServiceUrl(t), timeoutMs, signal, p);
  } catch (e) {
    return e instanceof OnvifError ? e : new OnvifError('protocol', errorMessage(e));
  }
}

async function describe(
  c: Candidate,
  clockOffsetMs: number,
  creds: Credentials | undefined,
  callTimeoutMs: number,
  budgetMs: number,
  signal?: AbortSignal,
  acceptSelfSigned?: boolean,
): Promise<DiscoveredDevice> {
  const dev: DiscoveredDevice = {
    urn: c.urn,
    host: c.host,
    port: c.port,
    xaddr: c.xaddr,
    via: c.via,
    onvif: true,
    scopes: c.scopes,
    clockOffsetMs,
    cameras: [],
  };
  const budget = new AbortController();
  const budgetTimer = setTimeout(() => budget.abort(), budgetMs);
  const ctx: CallCtx = {
    credentials: creds,
    clockOffsetMs,
    timeoutMs: Math.min(callTimeoutMs, budgetMs),
    signal: signal ? AbortSignal.any([signal, budget.signal]) : budget.signal,
    acceptSelfSigned,
  };
  try {
    if (!dev.scopes)
      dev.scopes = await getScopes(c.xaddr, ctx).catch((e: unknown) => {
        if (e instanceof OnvifError && (e.code === 'auth' || e.code === 'clock-skew')) throw e;
        return undefined; // scopes are optional for our purposes
      });
    dev.name = scopeValue(dev.scopes, 'name');
    dev.hardware = scopeValue(dev.scopes, 'hardware');
    Object.assign(dev, await getDeviceInformation(c.xaddr, ctx));
    dev.services = await getServices(c.xaddr, ctx);
    // Camera names are the NVR's channel names; its recordings carry them best (source Name).
    // Optional: a device whose search fails still lists its cameras.
    const recordingNames = new Map<string, string>();
    let recordings: RecordingInfo[] = [];
    if (dev.services.search) {
      const found = await searchRecordings(dev.services, { ...ctx, searchTimeoutMs: Math.min(budgetMs / 2, 5000) }).catch(() => undefined);
      recordings = found?.recordings ?? [];
      for (const r of recordings) if (r.sourceId && r.sourceName && !recordingNames.has(r.sourceId)) recordingNames.set(r.sourceId, r.sourceName);
    }
    const recorder = Boolean(dev.scopes?.some((x) => /type\/(Network_Video_Recorder|NVR)/i.test(x))) || /\bN?VR\b|recorder/i.test(dev.model ?? '');
    dev.cameras = await getCameras(dev.services, ctx, dev.name, { recorder, recordingNames });
    if (recordings.length) {
      // Each camera's recording and why, as the sync will choose it (same rules as lib/sync/device-session),
      // so the editor can show it and offer a choice where it is a guess.
      const jobs = jobsMayHelp(recordings, sourceTokensOf(dev.cameras)) ? await getRecordingJobs(dev.services, ctx).catch(() => []) : [];
      const map = mapCameras(dev.cameras, recordings, jobs);
      dev.recordings = recordings.map(summarizeRecording);
      for (const cam of dev.cameras) {
        const c = map.get(cam.token);
        if (c) cam.recording = { token: c.recording.token, by: c.by, reason: c.reason, ambiguous: c.ambiguous };
      }
    }
  } catch (e) {
    const err =
      budget.signal.aborted && !signal?.aborted
        ? new OnvifError('timeout', `${c.host}:${c.port}: listing the device's cameras did not finish within ${budgetMs} ms`)
        : e instanceof OnvifError
          ? e
          : new OnvifError('protocol', errorMessage(e));
    dev.errorCode = err.code;
    dev.error =
      err.code === 'auth' && !creds
        ? `${c.host}:${c.port}: needs a user name and password to list cameras`
        : err.code === 'clock-skew'
          ? `${err.message} (device clock is ${Math.round(clockOffsetMs / 1000)} s off ours)`
          : err.message;
  } finally {
    clearTimeout(budgetTimer);
  }
  return dev;
}

export async function discover(o: DiscoverOptions): Promise<DiscoveredDevice[]> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const targets = o.targets && (Array.isArray(o.targets) ? o.targets.length : o.targets.trim()) ? parseTargets(o.targets, o.maxTargets) : [];
  if (!targets.length && !o.wsDiscovery) throw new Error('discover: give targets (host:port list) or enable WS-Discovery');
  const creds = o.user ? { user: o.user, password: o.password ?? '', allowBasicAuth: o.allowBasicAuth === true } : undefined;

  const wsd = o.wsDiscovery
    ? wsDiscover({ mode: o.wsDiscovery === true ? true : o.wsDiscovery, timeoutMs, signal: o.signal })
    : Promise.resolve<ProbeMatch[]>([]);
  // A refused port answers at once; a silent host costs the probe timeout, so keep it short.
  const probeTimeout = Math.min(timeoutMs, 3000);
  const probeOpts: ProbeOptions = { credentials: creds, acceptSelfSigned: o.acceptSelfSigned };
  const probed = mapLimit(targets, o.concurrency ?? 256, async (t) => ({ t, r: await probeTarget(t, probeTimeout, o.signal, probeOpts) }));
  const [matches, probes] = await Promise.all([wsd, probed]);

  const results: DiscoveredDevice[] = [];
  const candidates = new Map<string, { c: Candidate; clockOffsetMs?: number }>();
  for (const m of matches) {
    const c = fromProbeMatch(m);
    if (c) candidates.set(`${c.host}:${c.port}`, { c });
  }
  for (const { t, r } of probes) {
    const key = `${t.host}:${t.port}`;
    if (r instanceof OnvifError) {
      // Something that answered but is not ONVIF is worth telling; silence in a range is not.
      if (r.code === 'not-onvif' || r.code === 'auth' || t.explicit) {
        if (candidates.has(key)) continue;
        results.push({ host: t.host, port: t.port, xaddr: deviceServiceUrl(t), via: 'probe', onvif: false, cameras: [], error: r.message, errorCode: r.code });
      }
      continue;
    }
    const prev = candidates.get(key);
    if (prev) prev.clockOffsetMs = r.clockOffsetMs;
    else
      candidates.set(key, {
        c: { host: t.host, port: t.port, xaddr: r.url, via: 'probe', explicit: t.explicit },
        clockOffsetMs: r.clockOffsetMs,
      });
  }

  const described = await mapLimit([...candidates.values()], 16, async ({ c, clockOffsetMs }) => {
    let offset = clockOffsetMs;
    if (offset === undefined) {
      const r = await probeTarget({ host: c.host, port: c.port, explicit: true }, probeTimeout, o.signal, probeOpts);
      if (r instanceof OnvifError) {
        return {
          urn: c.urn,
          host: c.host,
          port: c.port,
          xaddr: c.xaddr,
          via: c.via,
          onvif: r.code !== 'not-onvif',
          scopes: c.scopes,
          cameras: [],
          error: r.message,
          errorCode: r.code,
        } satisfies DiscoveredDevice;
      }
      offset = r.clockOffsetMs;
    }
    if (o.details === false) {
      return {
        urn: c.urn,
        host: c.host,
        port: c.port,
        xaddr: c.xaddr,
        via: c.via,
        onvif: true,
        scopes: c.scopes,
        name: scopeValue(c.scopes, 'name'),
        clockOffsetMs: offset,
        cameras: [],
      } satisfies DiscoveredDevice;
    }
    return describe(c, offset, creds, Math.max(timeoutMs, 5000), o.detailsTimeoutMs ?? Math.max(2 * timeoutMs, 10_000), o.signal, o.acceptSelfSigned);
  });
  results.push(...described);
  // A port that answers HTTP but not ONVIF (or wants a login before saying) may be a Hikvision or
  // Dahua recorder's own API: asked without a login.
  await mapLimit(
    results.filter((d) => d.errorCode === 'not-onvif' || (d.errorCode === 'auth' && d.cameras.length === 0)),
    16,
    async (d) => {
      const api = await sniffVendorApi(d.host, d.port, probeTimeout, o.signal);
      if (api) {
        d.vendorApi = api;
        d.error = `${d.error ?? 'not ONVIF'}; the port answers like a ${api === 'hikvision' ? 'Hikvision ISAPI' : 'Dahua HTTP API'} recorder: sync it with the ${api} driver (sync --driver auto or ${api})`;
      }
    },
  );
  const ipKey = (h: string) =>
    h
      .split('.')
      .map((p) => p.padStart(3, '0'))
      .join('.');
  return results.sort((a, b) => ipKey(a.host).localeCompare(ipKey(b.host)) || a.port - b.port);
}
