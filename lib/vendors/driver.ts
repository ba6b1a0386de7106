// Hikvision and Dahua recorders as sync sources: what the sync engine needs from a device (its
// clock, its cameras with channel names, recorded intervals of a camera, and a range downloaded into
// MP4 files), on top of the vendor clients. Failures of a download are ReplayToFilesError, like the
// ONVIF path's, with the files finished before the failure in `completed`. A download itself (HTTP,
// demux, mux) runs in the replay worker pool (./download-job.ts); the session does the search and
// keeps the one-login-per-pass rule across the threads.
import { VendorHttp, type VendorHttpOptions } from './http';
import { VendorError } from './errors';
import { HikvisionClient, type HikRecording } from './hikvision';
import { DahuaClient } from './dahua';
import { asDownloadError, replayKindOf } from './download-errors';
import type { VendorDownloadJob, VendorLearned } from './download-job';
import { ReplayToFilesError, type ReplayToFilesOptions, type WrittenFile } from '../media/replay-types';
import { vendorDownloadToFiles } from '../media/replay-to-files';
import type { CameraInfo, DiscoveredDevice } from '../onvif/types';
import type { Credentials } from '../credentials';
import type { TimeRange } from '../time/range';

export type VendorDriverName = 'hikvision' | 'dahua';

/** How the device is reached beyond the login: HTTPS (default on port 443) and its certificate. */
export type VendorTransport = Pick<VendorHttpOptions, 'https' | 'acceptSelfSigned'>;

/** A download as replayToFiles would be asked for it, with the job's overall bound. */
export interface VendorDownloadOptions
  extends Pick<ReplayToFilesOptions, 'from' | 'to' | 'naming' | 'onProgress' | 'signal'>, Pick<VendorDownloadJob, 'deadlineFactor' | 'deadlineSlackMs'> {}

export interface VendorSession {
  readonly driver: VendorDriverName;
  /** The device's idea of UTC minus ours (clock skew; its time zone already taken out). */
  readonly clockOffsetMs: number;
  /** The device as discovery describes one (cameras named after the NVR's channels). */
  readonly device: DiscoveredDevice;
  /** Notes worth an event (zone read, paging quirks). */
  readonly notes: string[];
  recordedIntervals(token: string, from: Date, to: Date): Promise<Array<TimeRange>>;
  download(token: string, o: VendorDownloadOptions): Promise<WrittenFile[]>;
}

/** Which vendor API answers on host:port (undefined: neither). One shared client, so a wrong
 * password costs one login attempt in all (both vendors lock accounts). ISAPI first, then Dahua. */
export async function probeVendor(
  host: string,
  port: number,
  credentials: Credentials | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  conn: VendorTransport = {},
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
  credentials: Credentials | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  conn: VendorTransport = {},
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
    download: async (token, o) => {
      let job: VendorDownloadJob;
      try {
        // One download per recording the search lists in the range (the NVR's files), in order.
        job = { kind: 'hikvision', recordings: await search(token, o.from, o.to), state: await c.downloadState(), ...jobRange(http, o) };
      } catch (e) {
        throw asDownloadError(e);
      }
      return downloadInWorker(http, job, o, (l) => c.learnDownloadMethod(l.downloadMethod));
    },
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
    download: async (token, o) => {
      let job: VendorDownloadJob;
      try {
        job = { kind: 'dahua', index: channelOf(token) - 1, state: await c.downloadState(), ...jobRange(http, o) };
      } catch (e) {
        throw asDownloadError(e);
      }
      return downloadInWorker(http, job, o);
    },
  };
}

/** The NVR's files as recorded intervals: clipped to [from, to) (a file that began before `from`
 * is listed whole) and merged where one file ends as the next begins. */
function clipMerge(spans: Array<[number, number]>, from: Date, to: Date): Array<TimeRange> {
  const out: Array<TimeRange> = [];
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

const jobRange = (http: VendorHttp, o: VendorDownloadOptions) => ({
  connection: http.connectionOptions(),
  from: o.from,
  to: o.to,
  naming: o.naming,
  deadlineFactor: o.deadlineFactor,
  deadlineSlackMs: o.deadlineSlackMs,
});

/** Runs the download in the worker pool. The worker's client logs in on its own, so the rule "a
 * rejected password is never sent again" is kept here: once this session's client or a worker had
 * the login rejected or locked, later downloads fail without contacting the NVR. */
async function downloadInWorker(
  http: VendorHttp,
  job: VendorDownloadJob,
  o: VendorDownloadOptions,
  onLearned?: (l: VendorLearned) => void,
): Promise<WrittenFile[]> {
  const refused = http.loginFailure;
  if (refused) throw new ReplayToFilesError(refused.message, [], replayKindOf(refused.kind), refused);
  // The session's signal (the pass) and the download's both end the download.
  const signals = [...new Set([o.signal, http.o.signal])].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  try {
    return await vendorDownloadToFiles(job, { onProgress: o.onProgress, onLearned, signal });
  } catch (e) {
    if (e instanceof ReplayToFilesError && e.cause instanceof VendorError && (e.cause.kind === 'auth' || e.cause.kind === 'locked'))
      http.noteLoginFailure(e.cause);
    throw e;
  }
}
