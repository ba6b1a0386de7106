// Dahua HTTP API client (also Amcrest, Lorex and other rebrands): device info, clock, channel
// names, media file search and download. Answers are "key=value" lines.
import { VendorHttp } from './http';
import { VendorError } from './errors';
import { DeviceZone, type DeviceZoneWire, formatDahuaWall, inferZone, parseWall } from './clock';
import { DhavDemuxer, DhavTimer } from './dhav-demux';
import type { VendorFrame } from './frames';

export interface DahuaDeviceInfo {
  deviceType: string;
  serial: string;
  model: string;
  processor: string;
}

export interface DahuaClock {
  zone: DeviceZone;
  skewMs: number;
}

export interface DahuaChannel {
  /** 0-based index (ChannelTitle[i]); the API channel number is index + channelBase. */
  index: number;
  name: string;
}

export interface DahuaRecording {
  channel: number;
  startUtc: number;
  endUtc: number;
  filePath: string;
}

/** findNextFile answers at most 100 items per call (Dahua HTTP API guide, mediaFileFind). */
export const DAHUA_PAGE = 100;
/** loadfile.cgi windows stay under 6 h (longer ones are refused or cut short by firmware). */
export const DAHUA_MAX_WINDOW_MS = 6 * 3600_000 - 60_000;

/** "a=b" lines → map. */
export function parseKv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** What a download needs to know of the device, as plain data (see HikDownloadState). */
export interface DahuaDownloadState {
  zone: DeviceZoneWire;
  skewMs: number;
  channelBase: 0 | 1 | undefined;
  maxWindowMs: number;
}

export class DahuaClient {
  private clockInfo?: DahuaClock;
  /** API channel number of ChannelTitle[0]: 1 on most firmware, 0 on some (rroller/dahua#67,
   * rroller/dahua#186: "NVRs are 0 based" vs cameras 1-based). Detected by detectChannelBase. */
  channelBase: 0 | 1 | undefined;

  constructor(
    readonly http: VendorHttp,
    /** Longest loadfile window (specs lower it to see the splitting). */
    private readonly maxWindowMs = DAHUA_MAX_WINDOW_MS,
  ) {}

  /** The clock read so far and the channel numbering (for a download worker's own client). */
  async downloadState(): Promise<DahuaDownloadState> {
    const c = await this.zone();
    return { zone: c.zone.toWire(), skewMs: c.skewMs, channelBase: this.channelBase, maxWindowMs: this.maxWindowMs };
  }

  /** A client that downloads with what another client learned (no clock request). */
  static withState(http: VendorHttp, s: DahuaDownloadState): DahuaClient {
    const c = new DahuaClient(http, s.maxWindowMs);
    c.clockInfo = { zone: DeviceZone.fromWire(s.zone), skewMs: s.skewMs };
    c.channelBase = s.channelBase;
    return c;
  }

  async deviceInfo(): Promise<DahuaDeviceInfo> {
    const r = await this.http.request('GET', '/cgi-bin/magicBox.cgi?action=getSystemInfo');
    return parseSystemInfo(r.body.toString('utf8'));
  }

  /** global.cgi getCurrentTime gives local wall time with no zone: zone inferred (whole quarter
   * hours), the rest is clock skew. */
  async clock(now = Date.now()): Promise<DahuaClock> {
    const r = await this.http.request('GET', '/cgi-bin/global.cgi?action=getCurrentTime');
    const kv = parseKv(r.body.toString('utf8'));
    const w = parseWall(kv.get('result') ?? '');
    if (!w) throw new VendorError('protocol', 'getCurrentTime: no readable result=YYYY-MM-DD HH:MM:SS');
    const { zone, skewMs } = inferZone(w.wallMs, now);
    this.clockInfo = { zone, skewMs };
    return this.clockInfo;
  }

  private async zone(): Promise<DahuaClock> {
    return this.clockInfo ?? (await this.clock());
  }

  async channels(): Promise<DahuaChannel[]> {
    const r = await this.http.request('GET', '/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle');
    const out: DahuaChannel[] = [];
    for (const [k, v] of parseKv(r.body.toString('utf8'))) {
      const m = /^table\.ChannelTitle\[(\d+)\]\.Name$/.exec(k);
      if (m) out.push({ index: Number(m[1]), name: v || `Channel ${Number(m[1]) + 1}` });
    }
    return out.sort((a, b) => a.index - b.index);
  }

  /** Main-stream codec, size and rate per 0-based channel (configManager Encode); empty when the
   * device does not say. */
  async encodeInfo(): Promise<Map<number, { codec: string; width: number; height: number; fps: number }>> {
    const out = new Map<number, { codec: string; width: number; height: number; fps: number }>();
    try {
      const r = await this.http.request('GET', '/cgi-bin/configManager.cgi?action=getConfig&name=Encode');
      const kv = parseKv(r.body.toString('utf8'));
      for (let i = 0; i < 256 && kv.has(`table.Encode[${i}].MainFormat[0].Video.Compression`); i++) {
        const g = (k: string) => kv.get(`table.Encode[${i}].MainFormat[0].Video.${k}`) ?? '';
        out.set(i, {
          codec: g('Compression')
            .replace(/[^0-9A-Za-z]/g, '')
            .toUpperCase(),
          width: Number(g('Width')) || 1920,
          height: Number(g('Height')) || 1080,
          fps: Number(g('FPS')) || 25,
        });
      }
    } catch (e) {
      if (!(e instanceof VendorError && (e.kind === 'not-vendor' || e.kind === 'status' || e.kind === 'busy'))) throw e;
    }
    return out;
  }

  /**
   * Whether the API numbers channels from 0 or 1: a findFile on channel 0 and on channel `count`
   * (one past the last 0-based index). Firmware refuses a channel it does not have ("Error").
   */
  async detectChannelBase(count: number): Promise<0 | 1> {
    if (this.channelBase !== undefined) return this.channelBase;
    const now = Date.now();
    const zero = await this.findAccepted(0, now - 3600_000, now);
    const last = await this.findAccepted(count, now - 3600_000, now);
    this.channelBase = zero && !last ? 0 : 1;
    return this.channelBase;
  }

  private async findAccepted(channel: number, fromUtc: number, toUtc: number): Promise<boolean> {
    const obj = await this.create();
    try {
      const r = await this.http.request('GET', this.findFilePath(obj, channel, fromUtc, toUtc, (await this.zone()).zone), { accept: [400, 500] });
      return r.status === 200 && /^OK/i.test(r.body.toString('utf8').trim());
    } finally {
      await this.release(obj);
    }
  }

  private async create(): Promise<string> {
    const r = await this.http.request('GET', '/cgi-bin/mediaFileFind.cgi?action=factory.create');
    const id = parseKv(r.body.toString('utf8')).get('result');
    if (!id || !/^\d+$/.test(id)) throw new VendorError('protocol', 'mediaFileFind factory.create: no object id');
    return id;
  }

  private async release(obj: string): Promise<void> {
    // Always close and destroy: NVRs allow few finders at a time.
    await this.http.request('GET', `/cgi-bin/mediaFileFind.cgi?action=close&object=${obj}`, { accept: [400, 500] }).catch(() => undefined);
    await this.http.request('GET', `/cgi-bin/mediaFileFind.cgi?action=destroy&object=${obj}`, { accept: [400, 500] }).catch(() => undefined);
  }

  private findFilePath(obj: string, channel: number, fromUtc: number, toUtc: number, zone: DeviceZone): string {
    const enc = (ms: number) => encodeURIComponent(formatDahuaWall(zone.toWall(ms)));
    return `/cgi-bin/mediaFileFind.cgi?action=findFile&object=${obj}&condition.Channel=${channel}&condition.StartTime=${enc(fromUtc)}&condition.EndTime=${enc(toUtc)}&condition.Types[0]=dav`;
  }

  /** Recorded files of a camera (0-based index) overlapping [fromUtc, toUtc). findNextFile until
   * found=0: a page shorter than `count` is not the end (firmware returns short pages). */
  async search(index: number, fromUtc: number, toUtc: number): Promise<DahuaRecording[]> {
    const { zone } = await this.zone();
    const channel = index + (this.channelBase ?? 1);
    const obj = await this.create();
    const out: DahuaRecording[] = [];
    try {
      const f = await this.http.request('GET', this.findFilePath(obj, channel, fromUtc, toUtc, zone), { accept: [400] });
      if (f.status !== 200 || !/^OK/i.test(f.body.toString('utf8').trim()))
        throw new VendorError('protocol', `mediaFileFind findFile refused channel ${channel} (${f.body.toString('utf8').trim().slice(0, 80)})`);
      for (let pages = 0; pages < 10_000; pages++) {
        const r = await this.http.request('GET', `/cgi-bin/mediaFileFind.cgi?action=findNextFile&object=${obj}&count=${DAHUA_PAGE}`);
        const kv = parseKv(r.body.toString('utf8'));
        const found = Number(kv.get('found') ?? '0');
        if (!(found > 0)) break;
        for (let i = 0; i < found; i++) {
          const s = parseWall(kv.get(`items[${i}].StartTime`) ?? '');
          const e = parseWall(kv.get(`items[${i}].EndTime`) ?? '');
          if (!s || !e) continue;
          const startUtc = zone.toUtc(s.wallMs);
          const endUtc = zone.toUtc(e.wallMs);
          if (endUtc > startUtc) out.push({ channel, startUtc, endUtc, filePath: kv.get(`items[${i}].FilePath`) ?? '' });
        }
      }
    } finally {
      await this.release(obj);
    }
    return out.sort((a, b) => a.startUtc - b.startUtc);
  }

  /** Frames of a camera between fromUtc and toUtc via loadfile.cgi startLoad (preferred over
   * RPC_Loadfile/<path>, which stalls or answers empty on some firmware), in windows < 6 h. */
  async *download(index: number, fromUtc: number, toUtc: number, signal?: AbortSignal): AsyncGenerator<VendorFrame> {
    const { zone } = await this.zone();
    const channel = index + (this.channelBase ?? 1);
    // A window's stream starts at the keyframe before its start: frames the previous window already
    // gave are dropped, so windows join without repeats.
    let lastMs = -Infinity;
    for (let a = fromUtc; a < toUtc; a += this.maxWindowMs) {
      const b = Math.min(toUtc, a + this.maxWindowMs);
      const enc = (ms: number) => encodeURIComponent(formatDahuaWall(zone.toWall(ms)));
      const res = await this.http.stream('GET', `/cgi-bin/loadfile.cgi?action=startLoad&channel=${channel}&startTime=${enc(a)}&endTime=${enc(b)}&subtype=0`);
      const demux = new DhavDemuxer();
      const timer = new DhavTimer();
      const stream = res.body;
      const onAbort = () => stream.destroy(new VendorError('aborted', 'aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const conv = (list: ReturnType<DhavTimer['push']>): VendorFrame[] => {
        const out: VendorFrame[] = [];
        for (const { frame, wallMs } of list) {
          const timeMs = zone.toUtc(wallMs);
          if (timeMs <= lastMs + 0.5) continue;
          lastMs = timeMs;
          out.push({ data: frame.data, keyframe: frame.keyframe, codec: frame.codec, timeMs });
        }
        return out;
      };
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (const f of demux.push(chunk)) yield* conv(timer.push(f));
        }
        yield* conv(timer.flush());
      } catch (e) {
        if (e instanceof VendorError) throw e;
        throw new VendorError('protocol', `loadfile channel ${channel}: ${(e as Error).message}`);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        stream.destroy();
      }
    }
  }
}

/** magicBox getSystemInfo. Some DVRs send no deviceType (rroller/dahua#59, XVR5108C-X: only
 * processor, serialNumber, updateSerial): the model then comes from updateSerial. */
export function parseSystemInfo(text: string): DahuaDeviceInfo {
  const kv = parseKv(text);
  if (!kv.has('serialNumber') && !kv.has('deviceType') && !kv.has('updateSerial'))
    throw new VendorError('not-vendor', 'magicBox getSystemInfo: not a Dahua answer');
  const deviceType = kv.get('deviceType') ?? '';
  return { deviceType, serial: kv.get('serialNumber') ?? '', model: deviceType || kv.get('updateSerial') || '', processor: kv.get('processor') ?? '' };
}
