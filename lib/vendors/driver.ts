// Hikvision and Dahua recorders as sync sources: what the sync engine needs from a device (its
// clock, its cameras with channel names, recorded intervals of a camera, and a range downloaded into
// MP4 files), on top of the vendor clients. Failures of a download are ReplayToFilesError, like the
// ONVIF path's, with the files finished before the failure in `completed`.
import { VendorHttp } from './http';
import { VendorError, type VendorErrorKind } from './errors';
import { HikvisionClient, type HikRecording } from './hikvision';
import { DahuaClient } from './dahua';
import { cutToRange, framesToFiles, type VendorFrame } from './frames';
import type { VendorVideoCodec } from './nal';
import { ReplayToFilesError, type ReplayErrorKind, type ReplayProgress, type WrittenFile } from '../media/replay-types';
import type { CameraInfo, DiscoveredDevice } from '../onvif/types';
import { errorMessage } from '../errors';

export type VendorDriverName = 'hikvision' | 'dahua';

export interface VendorCredentials {
  user: string;
  password: string;
  /** The user's opt-in to HTTP Basic (clear text) for a device without Digest. */
  allowBasicAuth?: boolean;
}

/** How the device is reached beyond the login: HTTPS (default on port 443) and its certificate. */
export interface VendorConnection {
  https?: boolean;
  /** HTTPS: accept a self-signed certificate (the source's opt-in). */
  acceptSelfSigned?: boolean;
}

export interface VendorDownloadOptions {
  from: Date;
  to: Date;
  finalPath(start: Date, end: Date, codec: VendorVideoCodec): string;
  onProgress?(p: ReplayProgress): void;
  signal?: AbortSignal;
  /** Overall bound: the range at real-time speed times this, plus deadlineSlackMs (default 2, 60 s). */
  deadlineFactor?: number;
  deadlineSlackMs?: number;
}

export interface VendorSession {
  readonly driver: VendorDriverName;
  /** The device's idea of UTC minus ours (clock skew; its time zone already taken out). */
  readonly clockOffsetMs: number;
  /** The device as discovery describes one (cameras named after the NVR's channels). */
  readonly device: DiscoveredDevice;
  /** Notes worth an event (zone read, paging quirks). */
  readonly notes: string[];
  recordedIntervals(token: string, from: Date, to: Date): Promise<Array<{ start: Date; end: Date }>>;
  download(token: string, o: VendorDownloadOptions): Promise<WrittenFile[]>;
}

const kindOf = (k: VendorErrorKind): ReplayErrorKind =>
  k === 'auth' || k === 'locked'
    ? 'auth'
    : k === 'timeout'
      ? 'timeout'
      : k === 'unreachable'
        ? 'network'
        : k === 'aborted'
          ? 'aborted'
          : k === 'busy'
            ? 'busy'
            : k === 'status'
              ? 'status'
              : 'protocol';

/** Which vendor API answers on host:port (undefined: neither). One shared client, so a wrong
 * password costs one login attempt in all (both vendors lock accounts). ISAPI first, then Dahua. */
export async function probeVendor(
  host: string,
  port: number,
  credentials: VendorCredentials | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  conn: VendorConnection = {},
): Promise<VendorDriverName | undefined> {
  const http = new VendorHttp({ host, port, ...credentials, ...conn, timeoutMs, signal });
  try {
    await new HikvisionClient(http).deviceInfo();
    return 'hikvision';
  } catch (e) {
    if (!(e instanceof VendorError) || (e.kind !== 'not-vendor' && e.kind !== 'protocol' && e.kind !== 'status' && e.kind !== 'busy')) throw e;
  }
  try {
    await new DahuaClient(http).deviceInfo();
    return 'dahua';
  } catch (e) {
    if (!(e instanceof VendorError) || (e.kind !== 'not-vendor' && e.kind !== 'protocol' && e.kind !== 'status' && e.kind !== 'busy')) throw e;
  }
  return undefined;
}

export async function openVendorSession(
  driver: VendorDriverName,
  host: string,
  port: number,
  credentials: VendorCredentials | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  conn: VendorConnection = {},
): Promise<VendorSession> {
  const http = new VendorHttp({ host, port, ...credentials, ...conn, timeoutMs, signal });
  return driver === 'hikvision' ? openHikvision(http, host, port) : openDahua(http, host, port);
}

const channelToken = (n: number) => `ch${n}`;
function channelOf(token: string): number {
  const m = /^ch(\d+)$/.exec(token);
  if (!m) throw new VendorError('protocol', `not a channel token of a vendor source: "${token}"`);
  return Number(m[1]);
}

function camera(name: string, token: string, s: { codec: string; width: number; height: number; fps: number } | undefined): CameraInfo {
  return {
    name,
    token,
    profiles: [{ token: `${token}-main`, name: 'main', encoding: s?.codec ?? 'H264', width: s?.width ?? 1920, height: s?.height ?? 1080, fps: s?.fps ?? 25 }],
  };
}

async function openHikvision(http: VendorHttp, host: string, port: number): Promise<VendorSession> {
  const c = new HikvisionClient(http);
  const info = await c.deviceInfo();
  const clock = await c.clock();
  const channels = await c.channels();
  const cameras: CameraInfo[] = [];
  for (const ch of channels) cameras.push(camera(ch.name, channelToken(ch.id), await c.streamInfo(ch.id)));
  const notes = [`clock: time zone ${clock.zone.describe()}${clock.zMeansLocal ? ', times written with "Z" are local' : ''}`];
  const device: DiscoveredDevice = {
    host,
    port,
    xaddr: `${http.base}/ISAPI/System/deviceInfo`,
    via: 'probe',
    onvif: false,
    name: info.name,
    manufacturer: 'Hikvision',
    model: info.model,
    firmware: info.firmware,
    serial: info.serial,
    clockOffsetMs: clock.skewMs,
    cameras,
  };
  const search = async (token: string, from: Date, to: Date): Promise<HikRecording[]> => {
    const r = await c.search(channelOf(token), from.getTime(), to.getTime());
    for (const w of r.warnings) if (!notes.includes(w)) notes.push(w);
    return r.items;
  };
  return {
    driver: 'hikvision',
    clockOffsetMs: clock.skewMs,
    device,
    notes,
    recordedIntervals: async (token, from, to) =>
      clipMerge(
        (await search(token, from, to)).map((r) => [r.startUtc, r.endUtc]),
        from,
        to,
      ),
    download: (token, o) =>
      runDownload(o, async function* (signal) {
        // One download per recording the search lists in the range (the NVR's files), in order.
        for (const rec of await search(token, o.from, o.to)) yield* c.download(rec, o.from.getTime(), o.to.getTime(), signal);
      }),
  };
}

async function openDahua(http: VendorHttp, host: string, port: number): Promise<VendorSession> {
  const c = new DahuaClient(http);
  const info = await c.deviceInfo();
  const clock = await c.clock();
  const titles = await c.channels();
  const enc = await c.encodeInfo();
  const base = await c.detectChannelBase(titles.length);
  const cameras = titles.map((t) => camera(t.name, channelToken(t.index + 1), enc.get(t.index)));
  const notes = [`clock: time zone ${clock.zone.describe()} inferred from the NVR's local time`, `channels numbered from ${base} in the API`];
  const device: DiscoveredDevice = {
    host,
    port,
    xaddr: `${http.base}/cgi-bin/magicBox.cgi?action=getSystemInfo`,
    via: 'probe',
    onvif: false,
    name: info.model || 'Dahua recorder',
    manufacturer: 'Dahua',
    model: info.model,
    serial: info.serial,
    clockOffsetMs: clock.skewMs,
    cameras,
  };
  return {
    driver: 'dahua',
    clockOffsetMs: clock.skewMs,
    device,
    notes,
    // Tokens are 1-based ("ch1" = ChannelTitle[0]) whatever the API's numbering.
    recordedIntervals: async (token, from, to) =>
      clipMerge(
        (await c.search(channelOf(token) - 1, from.getTime(), to.getTime())).map((r) => [r.startUtc, r.endUtc]),
        from,
        to,
      ),
    download: (token, o) => runDownload(o, (signal) => c.download(channelOf(token) - 1, o.from.getTime(), o.to.getTime(), signal)),
  };
}

/** The NVR's files as recorded intervals: clipped to [from, to) (a file that began before `from`
 * is listed whole) and merged where one file ends as the next begins. */
function clipMerge(spans: Array<[number, number]>, from: Date, to: Date): Array<{ start: Date; end: Date }> {
  const out: Array<{ start: Date; end: Date }> = [];
  for (const [a0, b0] of [...spans].sort((x, y) => x[0] - y[0])) {
    const a = Math.max(a0, from.getTime());
    const b = Math.min(b0, to.getTime());
    if (b <= a) continue;
    const last = out[out.length - 1];
    if (last && a <= last.end.getTime()) {
      if (b > last.end.getTime()) last.end = new Date(b);
    } else out.push({ start: new Date(a), end: new Date(b) });
  }
  return out;
}

const PROGRESS_EVERY_MS = 250;

/** Frames → files with progress, an overall deadline, and errors as ReplayToFilesError. */
async function runDownload(o: VendorDownloadOptions, frames: (signal: AbortSignal) => AsyncIterable<VendorFrame>): Promise<WrittenFile[]> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const rangeMs = o.to.getTime() - o.from.getTime();
  const deadlineMs = rangeMs * (o.deadlineFactor ?? 2) + (o.deadlineSlackMs ?? 60_000);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, deadlineMs);
  let bytes = 0;
  let count = 0;
  let last = 0;
  const progress = async function* (src: AsyncIterable<VendorFrame>): AsyncGenerator<VendorFrame> {
    for await (const f of src) {
      bytes += f.data.length;
      count++;
      const now = Date.now();
      if (o.onProgress && now - last >= PROGRESS_EVERY_MS) {
        last = now;
        o.onProgress({ bytes, frames: count, mediaTime: new Date(Math.round(f.timeMs)) });
      }
      yield f;
    }
  };
  try {
    if (o.signal?.aborted) throw new VendorError('aborted', 'aborted');
    const files = await framesToFiles(progress(cutToRange(frames(ac.signal), o.from.getTime(), o.to.getTime())), { finalPath: o.finalPath, signal: ac.signal });
    o.onProgress?.({ bytes, frames: count, mediaTime: files.length ? files[files.length - 1].end : o.from });
    return files;
  } catch (e) {
    const completed = (e as { completed?: WrittenFile[] }).completed ?? [];
    if (timedOut)
      throw new ReplayToFilesError(
        `download did not finish within its deadline (${Math.round(deadlineMs / 1000)} s for ${Math.round(rangeMs / 1000)} s of video)`,
        completed,
        'timeout',
        e,
      );
    if (e instanceof VendorError) throw new ReplayToFilesError(e.message, completed, kindOf(e.kind), e);
    throw new ReplayToFilesError(`writing the download failed: ${errorMessage(e)}`, completed, 'write', e);
  } finally {
    clearTimeout(deadline);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
