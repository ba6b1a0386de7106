// One RTSP connection over TCP (RFC 2326): requests and their replies matched by CSeq, Digest /
// opt-in Basic authentication, keep-alive, and the `$`-framed interleaved channels handed to
// whoever listens on each channel. It knows nothing of RTP: channel payloads are opaque bytes.
// Reading can be paused (backpressure): TCP's window then fills and the server's writes block.
import { connect, type Socket } from 'node:net';
import { RtspStreamParser, type RtspMessage } from './stream-parser';
import { Authenticator, chooseChallenge } from './auth';
import { maskUrl } from './url';
import { RtspError } from './errors';
import { asError, errorMessage } from '../errors';
import type { Credentials } from '../credentials';

export interface RtspConnectionOptions extends Partial<Credentials> {
  host: string;
  port: number;
  connectMs: number;
  /** Each request's reply. */
  responseMs: number;
  /**
   * The connection broke: a socket error (ECONNRESET, EPIPE…) or what the server sent cannot be
   * parsed (the socket is then closed). Every byte that arrived before was handed out first.
   * Called at most once, and never after close().
   */
  onError(err: Error): void;
  /** The server closed the connection (FIN). Not called after onError() or close(). */
  onClose(): void;
  log?(message: string): void;
}

interface PendingRequest {
  method: string;
  resolve(m: RtspMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class RtspConnection {
  private sock?: Socket;
  private readonly parser: RtspStreamParser;
  private cseq = 0;
  private readonly pending = new Map<number, PendingRequest>();
  private auth?: Authenticator;
  private readonly channels = new Map<number, (payload: Buffer) => void>();
  private keepAliveTimer?: NodeJS.Timeout;
  private closed = false;
  /** The socket broke or the server closed it: reported once. */
  private lost = false;
  /** Reading out what the socket buffered after an error: `data` events are not parsed twice. */
  private salvaging = false;

  constructor(private readonly o: RtspConnectionOptions) {
    this.parser = new RtspStreamParser({
      message: (m) => this.onMessage(m),
      data: (ch, p) => this.channels.get(ch)?.(p), // a channel nobody listens on is dropped
    });
  }

  get endpoint(): string {
    return `${this.o.host}:${this.o.port}`;
  }

  /** Whether requests can still be sent. */
  get open(): boolean {
    return !!this.sock && !this.sock.destroyed && !this.closed;
  }

  /** Connects; rejects on timeout, a socket error or the server closing before it is up. */
  connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sock = connect({ host: this.o.host, port: this.o.port });
      this.sock = sock;
      sock.setNoDelay(true);
      const timer = setTimeout(() => {
        reject(new RtspError('timeout', `connect to ${this.endpoint} timed out after ${this.o.connectMs} ms`));
        sock.destroy();
      }, this.o.connectMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      sock.on('data', (chunk: Buffer) => {
        if (!this.salvaging) this.feed(chunk);
      });
      sock.on('error', (e) => {
        clearTimeout(timer);
        const err = new RtspError('network', `RTSP connection to ${this.endpoint} failed: ${e.message}`);
        reject(err);
        // Node drops what a paused socket had buffered when it is destroyed by an error (a TCP
        // RST right after the last packet): read it out first, the last frames may be in it.
        this.salvaging = true;
        for (let chunk: unknown; !this.lost && !this.closed && (chunk = sock.read()) !== null;) {
          if (Buffer.isBuffer(chunk)) this.feed(chunk);
        }
        this.salvaging = false;
        this.broken(err);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (this.closed || this.lost) return;
        const err = new RtspError('network', `RTSP connection to ${this.endpoint} closed by the server`);
        reject(err);
        this.lost = true;
        this.rejectPending(err);
        this.o.onClose();
      });
    });
  }

  /** Routes the interleaved payloads of `channel` to `handler` (undefined: drop them). */
  listen(channel: number, handler: ((payload: Buffer) => void) | undefined): void {
    if (handler) this.channels.set(channel, handler);
    else this.channels.delete(channel);
  }

  /** Stops reading from the socket (backpressure). */
  pause(): void {
    this.sock?.pause();
  }

  resume(): void {
    this.sock?.resume();
  }

  /** Sends one request as it is (with the current Authorization) and waits for its reply, whatever its status. */
  send(method: string, url: string, headers: Record<string, string>): Promise<RtspMessage> {
    const sock = this.sock;
    if (!sock || sock.destroyed || this.closed) return Promise.reject(new RtspError('network', 'not connected'));
    const cseq = ++this.cseq;
    let s = `${method} ${url} RTSP/1.0\r\nCSeq: ${cseq}\r\nUser-Agent: vtrack-onvif\r\n`;
    if (this.auth) s += `Authorization: ${this.auth.header(method, url)}\r\n`;
    for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
    return new Promise<RtspMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cseq);
        reject(new RtspError('timeout', `no reply to ${method} within ${this.o.responseMs} ms`));
      }, this.o.responseMs);
      this.pending.set(cseq, { method, resolve, reject, timer });
      sock.write(s + '\r\n');
    });
  }

  /** Sends a request, answering one 401 challenge; non-2xx replies become RtspErrors by kind. */
  async request(method: string, url: string, headers: Record<string, string>): Promise<RtspMessage> {
    let res = await this.send(method, url, headers);
    if (res.status === 401) {
      const ch = chooseChallenge(res.headers.get('www-authenticate'), this.o.allowBasicAuth, `${method} ${maskUrl(url)}`);
      const hadAuth = !!this.auth;
      if (!ch) throw new RtspError('auth', `${method} ${maskUrl(url)}: 401 without a usable challenge`, 401);
      if (this.o.user === undefined) throw new RtspError('auth', `${method} ${maskUrl(url)}: authentication required but no credentials given`, 401);
      const stale = ch.params.get('stale')?.toLowerCase() === 'true';
      if (!hadAuth || stale) {
        this.auth = new Authenticator(this.o.user, this.o.password ?? '', ch);
        res = await this.send(method, url, headers);
      }
      if (res.status === 401) throw new RtspError('auth', `authentication failed for ${maskUrl(url)} (wrong user or password?)`, 401);
    }
    if (res.status === 551) {
      throw new RtspError(
        'unsupported',
        `${method} ${maskUrl(url)}: server does not support ONVIF replay (551 ${res.reason}${res.headers.get('unsupported') ? `; Unsupported: ${res.headers.get('unsupported')}` : ''})`,
        551,
      );
    }
    if (res.status === 461) throw new RtspError('unsupported', `${method} ${maskUrl(url)}: server refuses RTP over TCP (461 ${res.reason})`, 461);
    if (res.status === 429 || res.status === 453 || res.status === 503) {
      throw new RtspError('busy', `${method} ${maskUrl(url)}: the NVR has no replay session free (${res.status} ${res.reason})`, res.status);
    }
    if (res.status === 403) throw new RtspError('auth', `${method} ${maskUrl(url)}: access denied (403 ${res.reason})`, 403);
    if (res.status >= 400 && res.status < 500) {
      throw new RtspError('permanent', `${method} ${maskUrl(url)} refused: ${res.status} ${res.reason} (the same request would fail again)`, res.status);
    }
    if (res.status < 200 || res.status >= 300) throw new RtspError('status', `${method} ${maskUrl(url)} failed: ${res.status} ${res.reason}`, res.status);
    return res;
  }

  /**
   * Keeps `session` alive at half its timeout: GET_PARAMETER, or OPTIONS once the server says it
   * lacks GET_PARAMETER (405/501). Failures are logged, not fatal: the media decides.
   */
  startKeepAlive(url: string, session: string, timeoutSec: number): void {
    this.stopKeepAlive();
    let method = 'GET_PARAMETER';
    const every = Math.max(500, (timeoutSec * 1000) / 2);
    this.keepAliveTimer = setInterval(() => {
      if (!this.open) return;
      const m = method;
      this.request(m, url, { Session: session }).catch((e: unknown) => {
        if (e instanceof RtspError && (e.status === 405 || e.status === 501)) method = 'OPTIONS';
        else this.o.log?.(`keep-alive ${m}: ${errorMessage(e)}`);
      });
    }, every);
  }

  stopKeepAlive(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  /** Closes the socket; requests still waiting are rejected ('aborted'). */
  close(): void {
    this.closed = true;
    this.stopKeepAlive();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RtspError('aborted', 'session closed'));
    }
    this.pending.clear();
    this.channels.clear();
    this.sock?.destroy();
  }

  private feed(chunk: Buffer): void {
    if (this.lost || this.closed) return;
    try {
      this.parser.push(chunk);
    } catch (e) {
      // After a malformed message the byte stream cannot be trusted to resync.
      this.broken(asError(e));
    }
  }

  /** The connection is unusable: waiting requests fail at once (not at their timeout), the socket goes. */
  private broken(err: Error): void {
    if (this.lost || this.closed) return;
    this.lost = true;
    this.rejectPending(new RtspError('network', `no reply: ${errorMessage(err)}`));
    this.sock?.destroy();
    this.o.onError(err);
  }

  private rejectPending(err: RtspError): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RtspError(err.kind, `${p.method}: ${err.message}`));
    }
    this.pending.clear();
  }

  private onMessage(m: RtspMessage): void {
    if (m.status === 0) {
      // A request from the server (ANNOUNCE, GET_PARAMETER…): say we do not implement it.
      const cseq = m.headers.get('cseq') ?? '0';
      this.sock?.write(`RTSP/1.0 501 Not Implemented\r\nCSeq: ${cseq}\r\n\r\n`);
      return;
    }
    const cseq = Number(m.headers.get('cseq'));
    const p = this.pending.get(cseq);
    if (!p) return; // late reply to a timed-out request
    this.pending.delete(cseq);
    clearTimeout(p.timer);
    p.resolve(m);
  }
}
