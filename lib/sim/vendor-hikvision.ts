// A Hikvision NVR's ISAPI, as we read the public material: Digest auth (SHA-256 and MD5, lockout),
// deviceInfo, System/time (local wall clock written with a "Z", zone in <timeZone> with the POSIX
// sign), InputProxy channel names, ContentMgmt/search (≤ 40 items per page, searchResultPostion,
// MORE/OK/NO MATCHES), ContentMgmt/download (MPEG-PS behind an IMKH header) of a playbackURI window.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { loadClip } from './clips';
import { RecordingTimeline } from './timeline';
import type { SimAuth, SimDeviceSpec } from './types';
import { VendorDigestGate, writeAll } from './vendor-http';
import { imkhEnvelope, imkhHeader, psFrame, vendorFrames } from './vendor-media';
import { formatCompactWall, formatIsapiWall, parseCompactWall, parseWall } from '../vendors/clock';

export interface HikvisionSimOptions {
  host: string;
  port: number;
  device: SimDeviceSpec;
  auth?: SimAuth;
  /** Device time zone, minutes east of UTC (e.g. 120 for +02:00, -300 for −05:00). */
  utcOffsetMin: number;
  /** Device clock = real clock + this (skew). */
  clockOffsetSec?: number;
  /** Items per search page at most (the device's cap; default 40). */
  pageSize?: number;
  /** Firmware that ignores searchResultPostion (always the first page, status MORE). */
  ignorePosition?: boolean;
  /** Recordings are listed as files of at most this many seconds (default 300). */
  fileSec?: number;
  /** Which method download accepts: classic firmware GET (with an XML body), newer POST. Default POST. */
  downloadMethod?: 'GET' | 'POST' | 'both';
  /** The IMKH header inside a 64-byte envelope (some firmware). */
  envelope?: boolean;
  /** Offer SHA-256 before MD5 (default true). */
  sha256?: boolean;
  /** Test fault: the first `remaining` downloads (over the server's life) are refused as busy, like
   * an NVR whose few playback sessions are all taken. Shared counter. */
  busyDownloads?: { remaining: number };
  lockAfter?: number;
  lockMs?: number;
}

export interface RunningVendorSim {
  port: number;
  gate: VendorDigestGate;
  /** Requests by path (specs count them). */
  requests: Map<string, number>;
  close(): Promise<void>;
}

const xml = new XMLParser({ removeNSPrefix: true, parseTagValue: false, trimValues: true });
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function tzString(offsetMin: number): string {
  // POSIX spelling: the sign is inverted (east of UTC is negative).
  const a = Math.abs(offsetMin);
  return `CST${offsetMin > 0 ? '-' : '+'}${Math.floor(a / 60)}:${String(a % 60).padStart(2, '0')}:00`;
}

export async function startHikvisionSim(o: HikvisionSimOptions): Promise<RunningVendorSim> {
  const cams = o.device.cameras;
  const clips = cams.map((c) => loadClip(c.clip));
  for (const c of clips)
    if (c.codec !== 'H264' && c.codec !== 'H265') throw new Error(`hikvision sim: ${c.id} is ${c.codec}; only H.264/H.265 go into PS here`);
  const skewMs = (o.clockOffsetSec ?? 0) * 1000;
  const now = () => new Date(Date.now() + skewMs);
  const timelines = cams.map((c) => new RecordingTimeline(c.recording, now));
  const wallOf = (utc: number) => utc + o.utcOffsetMin * 60_000;
  const utcOf = (wall: number) => wall - o.utcOffsetMin * 60_000;
  const fileMs = (o.fileSec ?? 300) * 1000;
  const pageCap = o.pageSize ?? 40;
  const requests = new Map<string, number>();
  const gate = new VendorDigestGate({
    auth: o.auth,
    realm: 'IP Camera(' + o.device.serial.slice(-5) + ')',
    algorithms: o.sha256 === false ? ['MD5'] : ['SHA-256', 'MD5'],
    lockAfter: o.lockAfter ?? 5,
    lockMs: o.lockMs ?? 30 * 60_000,
    lockedAnswer: (s) => ({
      contentType: 'application/xml',
      body: `<?xml version="1.0" encoding="UTF-8" ?>\n<userCheck>\n<statusValue>401</statusValue>\n<statusString>Unauthorized</statusString>\n<lockStatus>lock</lockStatus>\n<unlockTime>${s}</unlockTime>\n<retryLoginTime>0</retryLoginTime>\n</userCheck>\n`,
    }),
    unauthorizedBody:
      '<?xml version="1.0" encoding="UTF-8" ?>\n<userCheck>\n<statusValue>401</statusValue>\n<statusString>Unauthorized</statusString>\n</userCheck>\n',
  });

  const send = (res: ServerResponse, status: number, body: string, type = 'application/xml; charset="UTF-8"') => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const statusXml = (code: number, sub: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><statusCode>${code}</statusCode><statusString>${sub}</statusString><subStatusCode>${sub}</subStatusCode></ResponseStatus>`;

  /** Recorded "files" of a channel overlapping [s, e): recorded intervals cut at fileSec boundaries. */
  const files = (ch: number, s: number, e: number) => {
    const out: Array<{ start: number; end: number }> = [];
    const rec = cams[ch].recording.start.getTime();
    for (const iv of timelines[ch].intervals(new Date(rec), now())) {
      for (let a = iv.start.getTime(); a < iv.end.getTime();) {
        const b = Math.min(iv.end.getTime(), rec + (Math.floor((a - rec) / fileMs) + 1) * fileMs);
        if (b > s && a < e) out.push({ start: a, end: b });
        a = b;
      }
    }
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
    // Paths this API does not have answer 404 without asking for a login (so an ONVIF probe of
    // this port reads "not ONVIF"; our choice, real firmware may ask for the login first).
    if (!url.pathname.startsWith('/ISAPI/')) return send(res, 404, statusXml(4, 'invalidOperation'));
    if (!gate.check(req, res)) return;
    const d = o.device;
    switch (url.pathname) {
      case '/ISAPI/System/deviceInfo':
        return send(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<DeviceInfo version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">\n<deviceName>${esc(d.name)}</deviceName>\n<deviceID>${d.urn.replace('urn:uuid:', '')}</deviceID>\n<model>${esc(d.model)}</model>\n<serialNumber>${esc(d.serial)}</serialNumber>\n<macAddress>02:00:00:00:00:01</macAddress>\n<firmwareVersion>V4.62.210</firmwareVersion>\n<firmwareReleasedDate>build 230705</firmwareReleasedDate>\n<deviceType>NVR</deviceType>\n</DeviceInfo>\n`,
        );
      case '/ISAPI/System/time':
        // The quirk: local wall clock written with "Z".
        return send(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<Time version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">\n<timeMode>NTP</timeMode>\n<localTime>${formatIsapiWall(wallOf(now().getTime()))}</localTime>\n<timeZone>${tzString(o.utcOffsetMin)}</timeZone>\n</Time>\n`,
        );
      case '/ISAPI/ContentMgmt/InputProxy/channels': {
        const items = cams.map(
          (c, i) =>
            `<InputProxyChannel version="2.0"><id>${i + 1}</id><name>${esc(c.name)}</name><sourceInputPortDescriptor><proxyProtocol>HIKVISION</proxyProtocol><ipAddress>192.0.2.${10 + i}</ipAddress><managePortNo>8000</managePortNo><srcInputPort>1</srcInputPort><userName>admin</userName><streamType>auto</streamType></sourceInputPortDescriptor></InputProxyChannel>`,
        );
        return send(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<InputProxyChannelList version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">${items.join('')}</InputProxyChannelList>\n`,
        );
      }
      case '/ISAPI/Streaming/channels/101':
      case '/ISAPI/Streaming/channels/201':
      case '/ISAPI/Streaming/channels/301': {
        const c = cams[Number(url.pathname.slice(-3, -2)) - 1];
        if (!c) return send(res, 404, statusXml(4, 'invalidOperation'));
        return send(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<StreamingChannel version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><id>${url.pathname.slice(-3)}</id><channelName>${esc(c.name)}</channelName><enabled>true</enabled><Video><enabled>true</enabled><videoInputChannelID>${url.pathname.slice(-3, -2)}</videoInputChannelID><videoCodecType>${c.codec === 'H265' ? 'H.265' : 'H.264'}</videoCodecType><videoResolutionWidth>${c.width}</videoResolutionWidth><videoResolutionHeight>${c.height}</videoResolutionHeight><maxFrameRate>${c.fps * 100}</maxFrameRate></Video></StreamingChannel>\n`,
        );
      }
      case '/ISAPI/ContentMgmt/search': {
        if (req.method !== 'POST') return send(res, 403, statusXml(4, 'methodNotAllowed'));
        const q = xml.parse(body.toString('utf8')) as { CMSearchDescription?: Record<string, unknown> };
        const sd = q.CMSearchDescription as
          | {
              trackList?: { trackID?: string };
              timeSpanList?: { timeSpan?: { startTime?: string; endTime?: string } };
              maxResults?: string;
              searchResultPostion?: string;
              searchID?: string;
            }
          | undefined;
        const track = Number(sd?.trackList?.trackID ?? NaN);
        const ch = Math.floor(track / 100) - 1;
        const s = parseWall(sd?.timeSpanList?.timeSpan?.startTime ?? '');
        const e = parseWall(sd?.timeSpanList?.timeSpan?.endTime ?? '');
        if (!sd || !(ch >= 0 && ch < cams.length) || track % 100 !== 1 || !s || !e) return send(res, 400, statusXml(4, 'badXmlContent'));
        const all = files(ch, utcOf(s.wallMs), utcOf(e.wallMs));
        const pos = o.ignorePosition ? 0 : Math.max(0, Number(sd.searchResultPostion ?? 0) || 0);
        const n = Math.min(pageCap, Math.max(1, Number(sd.maxResults ?? pageCap) || pageCap));
        const page = all.slice(pos, pos + n);
        const status = all.length === 0 ? 'NO MATCHES' : pos + page.length < all.length ? 'MORE' : 'OK';
        const items = page.map((f) => {
          const st = formatIsapiWall(wallOf(f.start));
          const en = formatIsapiWall(wallOf(f.end));
          const uri = `rtsp://${o.host}:554/Streaming/tracks/${track}/?starttime=${formatCompactWall(wallOf(f.start))}&endtime=${formatCompactWall(wallOf(f.end))}&name=ch${String(ch + 1).padStart(2, '0')}_${f.start}&size=${Math.round(((f.end - f.start) / 1000) * cams[ch].bitrateKbps * 125)}`;
          return `<searchMatchItem><sourceID>{00000000-0000-0000-0000-000000000000}</sourceID><trackID>${track}</trackID><timeSpan><startTime>${st}</startTime><endTime>${en}</endTime></timeSpan><mediaSegmentDescriptor><contentType>video</contentType><codecType>${cams[ch].codec === 'H265' ? 'H.265' : 'H.264-BP'}</codecType><playbackURI>${esc(uri)}</playbackURI></mediaSegmentDescriptor><metadataMatches><metadataDescriptor>recordType.meta.hikvision.com/timing</metadataDescriptor></metadataMatches></searchMatchItem>`;
        });
        // numOfMatches: this page's count here (the total on other firmware).
        return send(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<CMSearchResult version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">\n<searchID>${esc(sd.searchID ?? '')}</searchID>\n<responseStatus>true</responseStatus>\n<responseStatusStrg>${status}</responseStatusStrg>\n<numOfMatches>${page.length}</numOfMatches>\n<matchList>${items.join('')}</matchList>\n</CMSearchResult>\n`,
        );
      }
      case '/ISAPI/ContentMgmt/download': {
        const allowed = o.downloadMethod ?? 'POST';
        if (!(allowed === 'both' || req.method === allowed)) return send(res, 405, statusXml(4, 'methodNotAllowed'));
        if (o.busyDownloads && o.busyDownloads.remaining > 0) {
          o.busyDownloads.remaining--;
          return send(res, 503, statusXml(2, 'deviceBusy')); // ISAPI statusCode 2 = Device Busy
        }
        const q = xml.parse(body.toString('utf8')) as Record<string, { playbackURI?: string } | undefined>;
        const uri = (q.downloadRequest ?? q.downLoadRequest)?.playbackURI;
        const m = uri ? /\/Streaming\/tracks\/(\d+)\/?\?(.*)$/.exec(uri) : null;
        if (!m) return send(res, 400, statusXml(4, 'badXmlContent'));
        const params = new URLSearchParams(m[2]);
        const track = Number(m[1]);
        const ch = Math.floor(track / 100) - 1;
        const s = parseCompactWall(params.get('starttime') ?? '');
        const e = parseCompactWall(params.get('endtime') ?? '');
        if (!(ch >= 0 && ch < cams.length) || s === undefined || e === undefined || e <= s) return send(res, 400, statusXml(4, 'badParameters'));
        const cam = cams[ch];
        const clip = clips[ch];
        const codec = clip.codec as 'H264' | 'H265';
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', Connection: 'close' });
        let closed = false;
        res.on('close', () => (closed = true));
        const head = o.envelope ? imkhEnvelope(codec) : imkhHeader(codec);
        const base = 0x10000; // arbitrary PTS origin, as real streams have
        const frames = vendorFrames(cam, clip, timelines[ch], utcOf(s), utcOf(e), false);
        const rec = cam.recording.start.getTime();
        const chunks = function* (): Generator<Buffer> {
          yield head;
          for (const f of frames) yield psFrame(clip.frames[f.clipIndex].data, f.keyframe, codec, base + Math.round(((f.timeMs - rec) * 90) % 2 ** 33));
        };
        await writeAll(res, chunks(), () => closed);
        res.end();
        return;
      }
      default:
        return send(res, 404, statusXml(4, 'invalidOperation'));
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    gate,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
