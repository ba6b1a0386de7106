// One parser for everything a server sends on an RTSP-over-TCP connection: RTSP responses (and
// server requests) and `$`-framed interleaved RTP/RTCP (RFC 2326 §10.12), in any order and split
// at any byte. Bytes that fit neither are skipped up to the next plausible frame start.
// A head longer than MAX_HEAD or a Content-Length that is not a plain number up to MAX_BODY throws
// an RtspError ('protocol'): nothing a real server sends, and buffering it would be unbounded.
import { RtspError } from './errors';

export interface RtspMessage {
  /** Status code of a response; 0 for a request sent by the server. */
  status: number;
  /** Reason phrase, or the request line of a server request. */
  reason: string;
  /** Lower-case header names; repeated headers are joined with "\n". */
  headers: Map<string, string>;
  body: Buffer;
}

export interface StreamParserHandlers {
  message(m: RtspMessage): void;
  data(channel: number, payload: Buffer): void;
}

export const MAX_HEAD = 64 * 1024;
/** Largest message body (SDP, GET_PARAMETER replies are a few KB). */
export const MAX_BODY = 1024 * 1024;

export class RtspStreamParser {
  private pending: Buffer | null = null;
  /** Bytes skipped because they were neither an RTSP message nor a `$` frame. */
  skippedBytes = 0;

  constructor(private readonly h: StreamParserHandlers) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    let off = 0;
    const p = this.pending;
    this.pending = null;
    if (p) {
      // Usually the tail of a `$` frame cut by the chunk boundary: complete just that frame
      // instead of copying the whole chunk behind it.
      if (p[0] === 0x24 && p.length >= 4 && p.length < 4 + p.readUInt16BE(2) && p.length + chunk.length >= 4 + p.readUInt16BE(2)) {
        const need = 4 + p.readUInt16BE(2) - p.length;
        const frame = Buffer.concat([p, chunk.subarray(0, need)]);
        off = need;
        this.h.data(frame[1], frame.subarray(4));
      } else {
        buf = Buffer.concat([p, chunk]);
      }
    }
    const n = buf.length;
    while (off < n) {
      const b = buf[off];
      if (b === 0x24) {
        if (n - off < 4) break;
        const len = buf.readUInt16BE(off + 2);
        if (n - off < 4 + len) break;
        const channel = buf[off + 1];
        const payload = buf.subarray(off + 4, off + 4 + len);
        off += 4 + len;
        this.h.data(channel, payload);
        continue;
      }
      if (b === 0x52 /* R */ || (b >= 0x41 && b <= 0x5a)) {
        // A response "RTSP/1.0 ..." or a server request "ANNOUNCE rtsp://... RTSP/1.0".
        const probe = buf.subarray(off, Math.min(n, off + 5)).toString('latin1');
        if (!(probe === 'RTSP/'.slice(0, probe.length) || /^[A-Z_]+$/.test(probe))) {
          off = this.resync(buf, off + 1);
          continue;
        }
        const end = buf.indexOf('\r\n\r\n', off, 'latin1');
        if (end < 0 || end - off > MAX_HEAD) {
          // Skipping one byte and searching again would be quadratic; a head this long is hostile.
          if (n - off > MAX_HEAD) throw new RtspError('protocol', `RTSP header from the server is larger than ${MAX_HEAD} bytes (no end of header)`);
          break;
        }
        const head = buf.subarray(off, end).toString('latin1');
        const lines = head.split('\r\n');
        const first = lines[0];
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const c = line.indexOf(':');
          if (c <= 0) continue;
          const k = line.slice(0, c).trim().toLowerCase();
          const v = line.slice(c + 1).trim();
          const prev = headers.get(k);
          headers.set(k, prev === undefined ? v : prev + '\n' + v);
        }
        const cl = headers.get('content-length');
        // Only digits: "-40" would move the read position backwards and parse the same head forever.
        if (cl !== undefined && (!/^\d+$/.test(cl) || Number(cl) > MAX_BODY)) {
          throw new RtspError('protocol', `RTSP message from the server with Content-Length ${cl.slice(0, 20)} (expected 0-${MAX_BODY})`);
        }
        const bodyLen = cl === undefined ? 0 : Number(cl);
        if (n - (end + 4) < bodyLen) break;
        const body = Buffer.from(buf.subarray(end + 4, end + 4 + bodyLen));
        off = end + 4 + bodyLen;
        const m = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(first);
        if (m) this.h.message({ status: Number(m[1]), reason: m[2], headers, body });
        else if (/^[A-Z_]+ \S+ RTSP\/\d\.\d$/.test(first)) this.h.message({ status: 0, reason: first, headers, body });
        else this.skippedBytes += off; // unparseable head: dropped
        continue;
      }
      off = this.resync(buf, off + 1);
    }
    if (off < n) this.pending = Buffer.from(buf.subarray(off));
  }

  private resync(buf: Buffer, from: number): number {
    let i = from;
    while (i < buf.length && buf[i] !== 0x24 && buf[i] !== 0x52) i++;
    this.skippedBytes += i - from + 1;
    return i;
  }
}
