// Hikvision ISAPI client: device info, clock, channel names, recording search and download.
// Sources for what real devices do are named where we rely on them; the simulator
// (lib/sim/vendor-hikvision.ts) serves our reading of the same formats.
import { parseXml, path as xpath, all, type XmlValue } from '../onvif/xml';
import { VendorHttp } from './http';
import { VendorError } from './errors';
import { DeviceZone, type DeviceZoneWire, formatCompactWall, formatIsapiWall, parseWall } from './clock';
import { PsDemuxer } from './ps-demux';
import type { VendorFrame } from './frames';

export interface HikDeviceInfo {
  name: string;
  model: string;
  serial: string;
  firmware: string;
  deviceType: string;
}

export interface HikClock {
  zone: DeviceZone;
  /** Whether a "Z" on this device's times means its local wall clock (the common firmware quirk). */
  zMeansLocal: boolean;
  /** The device's idea of UTC now minus ours. */
  skewMs: number;
}

export interface HikChannel {
  id: number;
  name: string;
}

export interface HikRecording {
  trackId: number;
  startUtc: number;
  endUtc: number;
  playbackUri: string;
}

export interface HikSearchResult {
  items: HikRecording[];
  pages: number;
  /** Things worth telling the user (firmware ignoring the position, page cap reached). */
  warnings: string[];
}

/** What a download needs to know of the device, as plain data: a download worker's own client
 * starts from it instead of asking the NVR again. */
export interface HikDownloadState {
  zone: DeviceZoneWire;
  zMeansLocal: boolean;
  skewMs: number;
  downloadMethod: 'GET' | 'POST';
}

/** ISAPI answers at most ~40 matches per search request (Hikvision's web-SDK notes: "每次最多返回 40 条"). */
export const HIK_PAGE = 40;
const MAX_PAGES = 500;

function text(v: XmlValue): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return text(v[0]);
  const t = (v as Record<string, XmlValue>)['#text'];
  return typeof t === 'string' ? t : '';
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export class HikvisionClient {
  private clockInfo?: HikClock;
  /** Classic firmware takes GET with an XML body; newer builds want POST (and answer GET with 405/403 methodNotAllowed). */
  private downloadMethod: 'GET' | 'POST' = 'GET';

  constructor(readonly http: VendorHttp) {}

  /** The clock read so far and the download method learned (for a worker's client). */
  async downloadState(): Promise<HikDownloadState> {
    const c = await this.zone();
    return { zone: c.zone.toWire(), zMeansLocal: c.zMeansLocal, skewMs: c.skewMs, downloadMethod: this.downloadMethod };
  }

  /** The download method in use now (POST once GET was refused). */
  get downloadMethodInUse(): 'GET' | 'POST' {
    return this.downloadMethod;
  }

  /** Another client (a download worker's) found which method the NVR takes: use it here too. */
  learnDownloadMethod(m: 'GET' | 'POST'): void {
    this.downloadMethod = m;
  }

  /** A client that downloads with what another client learned (no clock request). */
  static withState(http: VendorHttp, s: HikDownloadState): HikvisionClient {
    const c = new HikvisionClient(http);
    c.clockInfo = { zone: DeviceZone.fromWire(s.zone), zMeansLocal: s.zMeansLocal, skewMs: s.skewMs };
    c.downloadMethod = s.downloadMethod;
    return c;
  }

  async deviceInfo(): Promise<HikDeviceInfo> {
    const r = await this.http.request('GET', '/ISAPI/System/deviceInfo');
    const x = parseXml(r.body.toString('utf8'));
    const d = xpath(x, 'DeviceInfo');
    if (d === undefined) throw new VendorError('not-vendor', '/ISAPI/System/deviceInfo: no DeviceInfo element (not a Hikvision ISAPI device)');
    return {
      name: text(xpath(d, 'deviceName')),
      model: text(xpath(d, 'model')),
      serial: text(xpath(d, 'serialNumber')),
      firmware: [text(xpath(d, 'firmwareVersion')), text(xpath(d, 'firmwareReleasedDate'))].filter(Boolean).join(' '),
      deviceType: text(xpath(d, 'deviceType')),
    };
  }

  /** Reads /ISAPI/System/time and works out how this device's times map to UTC. */
  async clock(now = Date.now()): Promise<HikClock> {
    const r = await this.http.request('GET', '/ISAPI/System/time');
    const c = parseHikTime(r.body.toString('utf8'), now);
    this.clockInfo = c;
    return c;
  }

  private async zone(): Promise<HikClock> {
    return this.clockInfo ?? (await this.clock());
  }

  /** Wall text of the device (as it writes it in search answers) → UTC ms. */
  toUtc(textTime: string, c: HikClock): number | undefined {
    const w = parseWall(textTime);
    if (!w) return undefined;
    if (w.offsetMin !== undefined) return w.wallMs - w.offsetMin * 60_000;
    if (w.z && !c.zMeansLocal) return w.wallMs;
    return c.zone.toUtc(w.wallMs);
  }

  toWall(utcMs: number, c: HikClock): number {
    return c.zMeansLocal ? c.zone.toWall(utcMs) : utcMs;
  }

  /** Channel names: NVRs list their IP cameras under InputProxy (Streaming/channels names are
   * "101"…); DVRs and cameras have analogue/own inputs under System/Video/inputs. */
  async channels(): Promise<HikChannel[]> {
    try {
      const r = await this.http.request('GET', '/ISAPI/ContentMgmt/InputProxy/channels');
      const x = parseXml(r.body.toString('utf8'));
      const list = all(xpath(x, 'InputProxyChannelList'), 'InputProxyChannel');
      if (list.length)
        return list
          .map((c) => ({ id: Number(text(xpath(c, 'id'))), name: text(xpath(c, 'name')) || `Channel ${text(xpath(c, 'id'))}` }))
          .filter((c) => c.id > 0);
    } catch (e) {
      if (!(e instanceof VendorError && (e.kind === 'not-vendor' || e.kind === 'status' || e.kind === 'busy'))) throw e;
    }
    const r = await this.http.request('GET', '/ISAPI/System/Video/inputs/channels');
    const x = parseXml(r.body.toString('utf8'));
    return all(xpath(x, 'VideoInputChannelList'), 'VideoInputChannel')
      .map((c) => ({ id: Number(text(xpath(c, 'id'))), name: text(xpath(c, 'name')) || `Channel ${text(xpath(c, 'id'))}` }))
      .filter((c) => c.id > 0);
  }

  /** Codec, picture size and frame rate of a channel's main stream (/ISAPI/Streaming/channels/<ch>01);
   * undefined when the device does not say (the camera row then gets generous defaults). */
  async streamInfo(channel: number): Promise<{ codec: string; width: number; height: number; fps: number } | undefined> {
    try {
      const r = await this.http.request('GET', `/ISAPI/Streaming/channels/${channel * 100 + 1}`);
      const v = xpath(parseXml(r.body.toString('utf8')), 'StreamingChannel', 'Video');
      const codec = text(xpath(v, 'videoCodecType'))
        .replace(/[^0-9A-Za-z]/g, '')
        .toUpperCase();
      const width = Number(text(xpath(v, 'videoResolutionWidth')));
      const height = Number(text(xpath(v, 'videoResolutionHeight')));
      const fps = Number(text(xpath(v, 'maxFrameRate'))) / 100; // in hundredths (2500 = 25 fps)
      if (!codec || !(width > 0) || !(height > 0)) return undefined;
      return { codec, width, height, fps: fps > 0 ? fps : 25 };
    } catch (e) {
      if (e instanceof VendorError && (e.kind === 'not-vendor' || e.kind === 'status' || e.kind === 'busy' || e.kind === 'protocol')) return undefined;
      throw e;
    }
  }

  /**
   * Recordings of a channel overlapping [fromUtc, toUtc). Track id = channel × 100 + 1 (main stream).
   * Paging: `searchResultPostion` (spelled so by the device; a correctly spelled field is ignored),
   * status MORE until OK / NO MATCHES. `numOfMatches` is the page's count on some firmware and the
   * total on others, so we count items instead. Firmware that ignores the position returns the
   * same first page again: we notice (no new item) and page by time from the last end instead.
   */
  async search(channel: number, fromUtc: number, toUtc: number, pageSize = HIK_PAGE): Promise<HikSearchResult> {
    const c = await this.zone();
    const trackId = channel * 100 + 1;
    const items: HikRecording[] = [];
    const seen = new Set<string>();
    const warnings: string[] = [];
    let position = 0;
    let winStart = fromUtc;
    let pages = 0;
    const searchId = randomSearchId();
    for (;;) {
      if (++pages > MAX_PAGES) {
        warnings.push(`stopped after ${MAX_PAGES} search pages`);
        break;
      }
      const body =
        `<?xml version="1.0" encoding="UTF-8"?><CMSearchDescription><searchID>${searchId}</searchID>` +
        `<trackList><trackID>${trackId}</trackID></trackList><timeSpanList><timeSpan>` +
        `<startTime>${formatIsapiWall(this.toWall(winStart, c))}</startTime><endTime>${formatIsapiWall(this.toWall(toUtc, c))}</endTime>` +
        `</timeSpan></timeSpanList><maxResults>${pageSize}</maxResults><searchResultPostion>${position}</searchResultPostion>` +
        `<metadataList><metadataDescriptor>//recordType.meta.std-cgi.com</metadataDescriptor></metadataList></CMSearchDescription>`;
      const r = await this.http.request('POST', '/ISAPI/ContentMgmt/search', { body });
      const x = parseXml(r.body.toString('utf8'));
      const res = xpath(x, 'CMSearchResult');
      if (res === undefined) throw new VendorError('protocol', '/ISAPI/ContentMgmt/search: no CMSearchResult in the answer');
      const status = text(xpath(res, 'responseStatusStrg')).toUpperCase();
      const page = all(xpath(res, 'matchList'), 'searchMatchItem')
        .map((m) => {
          const start = this.toUtc(text(xpath(m, 'timeSpan', 'startTime')), c);
          const end = this.toUtc(text(xpath(m, 'timeSpan', 'endTime')), c);
          const uri = text(xpath(m, 'mediaSegmentDescriptor', 'playbackURI'));
          return start !== undefined && end !== undefined && end > start && uri
            ? { trackId: Number(text(xpath(m, 'trackID'))) || trackId, startUtc: start, endUtc: end, playbackUri: uri }
            : undefined;
        })
        .filter((m): m is HikRecording => m !== undefined);
      const fresh = page.filter((m) => !seen.has(`${m.startUtc}-${m.endUtc}`));
      for (const m of fresh) {
        seen.add(`${m.startUtc}-${m.endUtc}`);
        items.push(m);
      }
      if (status !== 'MORE' || page.length === 0) break;
      if (fresh.length === 0) {
        // The device ignored the position: continue from the latest end we have, by time.
        const lastEnd = Math.max(...items.map((m) => m.endUtc));
        if (!(lastEnd > winStart) || lastEnd >= toUtc) {
          if (lastEnd < toUtc) warnings.push('the NVR repeats the same search page (ignores searchResultPostion) and paging by time made no progress');
          break;
        }
        if (!warnings.some((w) => w.startsWith('the NVR ignores'))) warnings.push('the NVR ignores searchResultPostion: paging by time instead');
        winStart = lastEnd;
        position = 0;
        continue;
      }
      position += page.length;
    }
    items.sort((a, b) => a.startUtc - b.startUtc);
    return { items, pages, warnings };
  }

  /**
   * The frames of one recording between fromUtc and toUtc, as the NVR sends them (bounded memory:
   * the consumer's pace is the socket's). The body is an MPEG-PS (vendor header first). PS carries
   * no wall-clock time, so frame times are the window start plus PTS offsets from the first frame:
   * a download begins at the requested start (the first frame at or after it, as our simulator does;
   * windows the driver asks for start at recording starts or segment boundaries).
   */
  async *download(rec: HikRecording, fromUtc: number, toUtc: number, signal?: AbortSignal): AsyncGenerator<VendorFrame> {
    const c = await this.zone();
    const startUtc = Math.max(fromUtc, rec.startUtc);
    const endUtc = Math.min(toUtc, rec.endUtc);
    if (endUtc <= startUtc) return;
    const uri = withWindow(rec.playbackUri, formatCompactWall(this.toWall(startUtc, c)), formatCompactWall(this.toWall(endUtc, c)));
    const body = `<?xml version="1.0" encoding="UTF-8"?><downloadRequest><playbackURI>${escapeXml(uri)}</playbackURI></downloadRequest>`;
    let res;
    // The method this request used: a download running beside it may switch the shared one first.
    const method = this.downloadMethod;
    try {
      res = await this.http.stream(method, '/ISAPI/ContentMgmt/download', { body });
    } catch (e) {
      const st = e instanceof VendorError ? e.details.status : undefined;
      if (method !== 'GET' || !(st === 405 || st === 403 || st === 400 || st === 501)) throw e;
      // qb60/hikvision-downloader#5: "403 Forbidden: Invalid Operation - methodNotAllowed" until POST was used.
      this.downloadMethod = 'POST';
      res = await this.http.stream('POST', '/ISAPI/ContentMgmt/download', { body });
    }
    const demux = new PsDemuxer();
    let firstPts: number | undefined;
    const stream = res.body;
    const onAbort = () => stream.destroy(new VendorError('aborted', 'aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const toFrames = function* (list: ReturnType<PsDemuxer['push']>): Generator<VendorFrame> {
        for (const f of list) {
          firstPts ??= f.pts;
          yield { data: f.data, keyframe: f.keyframe, codec: f.codec, timeMs: startUtc + (f.pts - firstPts) / 90 };
        }
      };
      for await (const chunk of stream as AsyncIterable<Buffer>) yield* toFrames(demux.push(chunk));
      yield* toFrames(demux.flush());
    } catch (e) {
      if (e instanceof VendorError) throw e;
      throw new VendorError('protocol', `download of channel track ${rec.trackId}: ${(e as Error).message}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
    }
  }
}

/** playbackURI with its starttime/endtime replaced (added when absent). */
export function withWindow(uri: string, start: string, end: string): string {
  const q = uri.indexOf('?');
  const base = q < 0 ? uri : uri.slice(0, q);
  const params = (q < 0 ? '' : uri.slice(q + 1)).split('&').filter((p) => p && !/^(starttime|endtime)=/i.test(p));
  return `${base}?${[`starttime=${start}`, `endtime=${end}`, ...params].join('&')}`;
}

/** /ISAPI/System/time → zone and how to read "Z". */
export function parseHikTime(xml: string, now = Date.now()): HikClock {
  const x = parseXml(xml);
  const t = xpath(x, 'Time');
  const local = parseWall(text(xpath(t, 'localTime')));
  if (!local) throw new VendorError('protocol', '/ISAPI/System/time: no readable localTime');
  const tzText = text(xpath(t, 'timeZone'));
  let zone = tzText ? DeviceZone.parseHikvision(tzText) : undefined;
  if (local.offsetMin !== undefined) {
    // An explicit offset is the truth for that instant; keep a parsed zone (DST rules) when it agrees.
    const utc = local.wallMs - local.offsetMin * 60_000;
    if (!zone || zone.offsetAtUtc(utc) !== local.offsetMin) zone = DeviceZone.fixed(local.offsetMin);
    return { zone, zMeansLocal: true, skewMs: utc - now };
  }
  zone ??= DeviceZone.fixed(0);
  if (!local.z) return { zone, zMeansLocal: true, skewMs: zone.toUtc(local.wallMs) - now };
  // "…Z": local wall clock on most firmware, real UTC on some. The reading nearer our clock wins.
  const asLocal = zone.toUtc(local.wallMs);
  const asUtc = local.wallMs;
  const zMeansLocal = Math.abs(asLocal - now) <= Math.abs(asUtc - now);
  return { zone, zMeansLocal, skewMs: (zMeansLocal ? asLocal : asUtc) - now };
}

function randomSearchId(): string {
  const h = () =>
    Math.floor(Math.random() * 0x10000)
      .toString(16)
      .padStart(4, '0');
  return `${h()}${h()}-${h()}-${h()}-${h()}-${h()}${h()}${h()}`.toUpperCase();
}
