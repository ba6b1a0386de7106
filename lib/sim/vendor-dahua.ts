// A Dahua NVR's HTTP API, as we read the public material (Dahua HTTP API guide; FFmpeg dhav.c for
// the container): Digest auth (MD5, lockout), magicBox getSystemInfo, global getCurrentTime (local
// wall time, no zone), ChannelTitle (0-based), mediaFileFind (factory.create / findFile / findNextFile
// with short pages until found=0 / close / destroy), loadfile startLoad as DHAV (windows < 6 h).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadClip } from './clips';
import { RecordingTimeline } from './timeline';
import type { SimAuth, SimDeviceSpec } from './types';
import { VendorDigestGate, writeAll } from './vendor-http';
import { dhavAudio, dhavFrame, vendorFrames } from './vendor-media';
import { formatDahuaWall, parseWall } from '../vendors/clock';
import type { RunningVendorSim } from './vendor-hikvision';

export interface DahuaSimOptions {
  host: string;
  port: number;
  device: SimDeviceSpec;
  auth?: SimAuth;
  utcOffsetMin: number;
  clockOffsetSec?: number;
  /** API channel number of the first camera: 1 (most firmware) or 0. */
  channelBase?: 0 | 1;
  /** Recordings listed as files of at most this many seconds (default 300). */
  fileSec?: number;
  /** Test fault: the first `remaining` downloads (over the server's life) are refused as busy, like
   * an NVR whose few playback sessions are all taken. Shared counter. */
  busyDownloads?: { remaining: number };
  lockAfter?: number;
  lockMs?: number;
}

/** Page sizes findNextFile answers with, in turn, whatever `count` asks: short pages are not the end. */
const SHORT_PAGES = [3, 7, 1, 5];

export async function startDahuaSim(o: DahuaSimOptions): Promise<RunningVendorSim> {
  const cams = o.device.cameras;
  const clips = cams.map((c) => loadClip(c.clip));
  for (const c of clips) if (c.codec !== 'H264' && c.codec !== 'H265') throw new Error(`dahua sim: ${c.id} is ${c.codec}; only H.264/H.265 go into DHAV here`);
  const skewMs = (o.clockOffsetSec ?? 0) * 1000;
  const now = () => new Date(Date.now() + skewMs);
  const timelines = cams.map((c) => new RecordingTimeline(c.recording, now));
  const wallOf = (utc: number) => utc + o.utcOffsetMin * 60_000;
  const utcOf = (wall: number) => wall - o.utcOffsetMin * 60_000;
  const base = o.channelBase ?? 1;
  const fileMs = (o.fileSec ?? 300) * 1000;
  const requests = new Map<string, number>();
  const finders = new Map<number, { items: string[][]; page: number } | undefined>();
  let nextFinder = 3039757640 % 100000;
  const gate = new VendorDigestGate({
    auth: o.auth,
    realm: `Login to ${o.device.serial}`,
    algorithms: ['MD5'],
    lockAfter: o.lockAfter ?? 5,
    lockMs: o.lockMs ?? 30 * 60_000,
    // No public capture of Dahua's CGI lock answer found: our wording (the client matches "lock").
    lockedAnswer: (s) => ({ contentType: 'text/plain', body: `Error\r\nAccount locked, unlock after ${s} seconds\r\n` }),
    unauthorizedBody: 'Error\r\nInvalid Authority!\r\n',
  });
  const send = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain;charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const bad = (res: ServerResponse, why: string) => send(res, 400, `Error\r\n${why}\r\n`);

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

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    const action = q.get('action') ?? '';
    requests.set(`${url.pathname}?${action}`, (requests.get(`${url.pathname}?${action}`) ?? 0) + 1);
    // Paths outside /cgi-bin answer 404 without a login (our choice, see vendor-hikvision.ts).
    if (!url.pathname.startsWith('/cgi-bin/')) return send(res, 404, 'Error\r\nNot Found\r\n');
    if (!gate.check(req, res)) return;
    const chOf = (v: string | null) => {
      const n = Number(v);
      const i = n - base;
      return Number.isInteger(n) && v !== null && v !== '' && i >= 0 && i < cams.length ? i : -1;
    };
    switch (`${url.pathname}?${action}`) {
      case '/cgi-bin/magicBox.cgi?getSystemInfo':
        return send(
          res,
          200,
          `deviceType=${o.device.model}\r\nprocessor=ST7108\r\nserialNumber=${o.device.serial}\r\nupdateSerial=${o.device.model.replace(/^DHI-/, '')}\r\n`,
        );
      case '/cgi-bin/global.cgi?getCurrentTime':
        return send(res, 200, `result=${formatDahuaWall(wallOf(now().getTime()))}\r\n`);
      case '/cgi-bin/configManager.cgi?getConfig':
        if (q.get('name') === 'Encode')
          return send(
            res,
            200,
            cams
              .map((c, i) =>
                [`Compression=${c.codec === 'H265' ? 'H.265' : 'H.264'}`, `Width=${c.width}`, `Height=${c.height}`, `FPS=${c.fps}`]
                  .map((kv) => `table.Encode[${i}].MainFormat[0].Video.${kv}\r\n`)
                  .join(''),
              )
              .join(''),
          );
        if (q.get('name') !== 'ChannelTitle') return bad(res, 'Bad Request!');
        return send(res, 200, cams.map((c, i) => `table.ChannelTitle[${i}].Name=${c.name}\r\n`).join(''));
      case '/cgi-bin/mediaFileFind.cgi?factory.create': {
        const id = nextFinder++;
        finders.set(id, undefined);
        return send(res, 200, `result=${id}\r\n`);
      }
      case '/cgi-bin/mediaFileFind.cgi?findFile': {
        const id = Number(q.get('object'));
        if (!finders.has(id)) return bad(res, 'Bad Request!');
        const ch = chOf(q.get('condition.Channel'));
        const s = parseWall(q.get('condition.StartTime') ?? '');
        const e = parseWall(q.get('condition.EndTime') ?? '');
        if (ch < 0 || !s || !e) return bad(res, 'Bad Request!');
        const items = files(ch, utcOf(s.wallMs), utcOf(e.wallMs)).map((f) => {
          const st = formatDahuaWall(wallOf(f.start));
          const en = formatDahuaWall(wallOf(f.end));
          const day = st.slice(0, 10);
          return [
            `Channel=${ch + base}`,
            `StartTime=${st}`,
            `EndTime=${en}`,
            `FilePath=/mnt/dvr/${day}/${ch + base}/dav/${st.slice(11, 13)}/${st.slice(11).replace(/:/g, '.')}-${en.slice(11).replace(/:/g, '.')}[R][0@0][0].dav`,
            `Type=dav`,
            `VideoStream=Main`,
            `Length=${Math.round(((f.end - f.start) / 1000) * cams[ch].bitrateKbps * 125)}`,
            `Duration=${Math.round((f.end - f.start) / 1000)}`,
            `Flags[0]=Timing`,
          ];
        });
        finders.set(id, { items, page: 0 });
        return send(res, 200, 'OK\r\n');
      }
      case '/cgi-bin/mediaFileFind.cgi?findNextFile': {
        const f = finders.get(Number(q.get('object')));
        if (!f) return bad(res, 'Bad Request!');
        const count = Math.min(100, Math.max(1, Number(q.get('count')) || 100));
        const n = Math.min(count, SHORT_PAGES[f.page++ % SHORT_PAGES.length]);
        const page = f.items.splice(0, n);
        const lines = [`found=${page.length}`];
        page.forEach((fields, i) => fields.forEach((kv) => lines.push(`items[${i}].${kv}`)));
        return send(res, 200, lines.join('\r\n') + '\r\n');
      }
      case '/cgi-bin/mediaFileFind.cgi?close':
        return send(res, 200, 'OK\r\n');
      case '/cgi-bin/mediaFileFind.cgi?destroy':
        finders.delete(Number(q.get('object')));
        return send(res, 200, 'OK\r\n');
      case '/cgi-bin/loadfile.cgi?startLoad': {
        const ch = chOf(q.get('channel'));
        const s = parseWall(q.get('startTime') ?? '');
        const e = parseWall(q.get('endTime') ?? '');
        if (ch < 0 || !s || !e || e.wallMs <= s.wallMs) return bad(res, 'Bad Request!');
        if (e.wallMs - s.wallMs > 6 * 3600_000) return bad(res, 'Time span too long');
        if (o.busyDownloads && o.busyDownloads.remaining > 0) {
          o.busyDownloads.remaining--;
          return send(res, 503, 'Error\r\nService Unavailable\r\n');
        }
        const cam = cams[ch];
        const clip = clips[ch];
        const codec = clip.codec as 'H264' | 'H265';
        res.writeHead(200, { 'Content-Type': 'Application/octet-stream', Connection: 'close' });
        let closed = false;
        res.on('close', () => (closed = true));
        const frames = vendorFrames(cam, clip, timelines[ch], utcOf(s.wallMs), utcOf(e.wallMs), true);
        let audioSec = -1;
        const chunks = function* (): Generator<Buffer> {
          for (const f of frames) {
            const wall = wallOf(f.timeMs);
            yield dhavFrame({
              data: clip.frames[f.clipIndex].data,
              keyframe: f.keyframe,
              codec,
              frameNumber: f.n,
              wallMs: wall,
              width: clip.width,
              height: clip.height,
              fps: cam.fps,
              channel: ch,
            });
            const sec = Math.floor(wall / 1000);
            if (sec !== audioSec) {
              audioSec = sec;
              yield dhavAudio(f.n, wall, ch);
            }
          }
        };
        await writeAll(res, chunks(), () => closed);
        res.end();
        return;
      }
      default:
        return send(res, 404, 'Error\r\nNot Found\r\n');
    }
  };

  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      handle(req, res).catch(() => res.destroy());
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
