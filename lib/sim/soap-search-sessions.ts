// Open Find* searches of one device. Like real NVRs: few concurrent searches, each expires after
// its KeepAliveTime without a request, and results are handed out in pages so clients must poll.
// Expiry is checked lazily on every access (no timers to clean up when the simulator stops).
import { randomBytes } from 'node:crypto';
import { SoapFault, invalidArg } from './soap-envelope';

export type SearchKind = 'recordings' | 'events';

export interface SearchSession {
  token: string;
  kind: SearchKind;
  /** Pre-rendered result elements, in delivery order. */
  results: string[];
  delivered: number;
  keepAliveMs: number;
  expiresAt: number;
  /** Point in time the search covers up to (returned by EndSearch). */
  endpoint: Date;
}

export interface SearchStoreOptions {
  maxConcurrent: number;
  /** Results per poll when the client gives no MaxResults (forces polling on big result sets). */
  pageSize: number;
  /** Real-time clock for expiry (independent of the device clock offset). */
  clock?: () => number;
}

export class SearchStore {
  private readonly sessions = new Map<string, SearchSession>();
  private readonly clock: () => number;

  constructor(readonly options: SearchStoreOptions) {
    this.clock = options.clock ?? Date.now;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [token, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(token);
  }

  get size(): number {
    this.sweep();
    return this.sessions.size;
  }

  open(kind: SearchKind, results: string[], keepAliveMs: number, endpoint: Date): SearchSession {
    this.sweep();
    if (this.sessions.size >= this.options.maxConcurrent) {
      throw new SoapFault('Receiver', ['ter:Action', 'ter:ResourceProblem'], `Too many concurrent searches (limit ${this.options.maxConcurrent})`);
    }
    const token = `SEARCH_${randomBytes(6).toString('hex')}`;
    const session: SearchSession = { token, kind, results, delivered: 0, keepAliveMs, expiresAt: this.clock() + keepAliveMs, endpoint };
    this.sessions.set(token, session);
    return session;
  }

  /** A live session by token (refreshing its keep-alive), or an InvalidToken fault. */
  get(token: string, kind?: SearchKind): SearchSession {
    this.sweep();
    const s = this.sessions.get(token);
    if (!s || (kind && s.kind !== kind)) throw invalidArg(`Unknown or expired search token "${token}"`, 'ter:InvalidToken');
    s.expiresAt = this.clock() + s.keepAliveMs;
    return s;
  }

  /** Next page of results and whether the search is complete after it. */
  nextPage(s: SearchSession, maxResults?: number): { items: string[]; complete: boolean } {
    const limit = maxResults && maxResults > 0 ? maxResults : this.options.pageSize;
    const items = s.results.slice(s.delivered, s.delivered + limit);
    s.delivered += items.length;
    return { items, complete: s.delivered >= s.results.length };
  }

  end(token: string): SearchSession {
    const s = this.get(token);
    this.sessions.delete(token);
    return s;
  }

  clear(): void {
    this.sessions.clear();
  }
}
