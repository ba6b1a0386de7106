// The sync engine both nvr-sync and `vtrack-onvif sync` drive: one timer per source, one pass at
// a time per source, manual "sync now", backfill, pause/resume, retention after each pass, and
// events for everything. No Node-RED import: the node only maps events to messages and status.
import { EventEmitter } from 'node:events';
import type { Catalog, VideoSourceRow } from '../catalog';
import type { Credentials } from '../credentials';
import { errorMessage } from '../onvif/errors';
import { applyRetentionRules } from '../storage';
import { runSourceOnce, DEFAULT_SETTINGS, type SyncSettings } from './runner';
import { backoffMs } from './retry';
import { ProgressThrottle } from './progress-throttle';
import type { FileEvent, RunReason, RunSummary, SyncEvent, SyncRange } from './types';

/** Same user, password and Basic opt-in (compared in memory only; logins are never stored by the engine). */
function sameLogin(a: Credentials | undefined, b: Credentials | undefined): boolean {
  return a?.user === b?.user && a?.password === b?.password && Boolean(a?.allowBasicAuth) === Boolean(b?.allowBasicAuth);
}

/** Warning codes that describe a device rather than a pass (see emitOnce). */
const DEVICE_TRAITS = new Set(['device', 'gaps-invisible', 'mapping', 'search-partial', 'realtime', 'bad-date']);

export interface RetentionSettings {
  maxAgeDays?: number;
  maxGB?: number;
}

export interface EngineOptions {
  catalog: Catalog;
  /**
   * The login of sources added without their own (the CLI's one login). Per-source logins are
   * handed in with addSource: they live in Node-RED credentials and reach the engine in-process,
   * never through the catalog.
   */
  credentials?: Credentials;
  settings?: Partial<SyncSettings>;
  retention?: RetentionSettings;
  /** Delay of the first pass after a source is added (ms). */
  startDelayMs?: number;
  now?: () => Date;
}

interface SourceState {
  sourceId: number;
  timer?: NodeJS.Timeout;
  running?: Promise<RunSummary>;
  /** A pass was asked for while one ran: run once more right after. */
  queued?: RunReason;
  nextRunAt?: Date;
  manualOnly?: boolean;
  /** The first pass of this engine sweeps the camera folders (what a crash left behind). */
  swept?: boolean;
  credentials?: Credentials;
  /** https: the source accepts a self-signed certificate (like the login, handed in, not stored). */
  acceptSelfSigned?: boolean;
  /** The login the NVR refused: timer passes do not try it again (NVRs lock an account after a
   * few failed logins — Hikvision and Dahua for 30 min), only a new login or "sync now" does. */
  refusedLogin?: Credentials;
  /** Aborts this source's running pass when the source is removed (its node deleted). */
  abort: AbortController;
}

export interface SyncEngineEvents {
  file: [FileEvent];
  event: [SyncEvent];
}

export class SyncEngine extends EventEmitter<SyncEngineEvents> {
  readonly settings: SyncSettings;
  private readonly sources = new Map<number, SourceState>();
  private readonly progress = new ProgressThrottle();
  private paused = false;
  private closed = false;

  constructor(private readonly o: EngineOptions) {
    super();
    this.settings = { ...DEFAULT_SETTINGS, ...o.settings };
  }

  private now(): Date {
    return (this.o.now ?? (() => new Date()))();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  sourceIds(): number[] {
    return [...this.sources.keys()];
  }

  nextRunAt(sourceId: number): Date | undefined {
    return this.sources.get(sourceId)?.nextRunAt;
  }

  isRunning(): boolean {
    return [...this.sources.values()].some((s) => s.running);
  }

  /**
   * Start syncing a source: a first pass shortly, then every interval. Adding a known source only
   * replaces its login and connection settings (a redeployed nvr-source hands in its current ones).
   * With `schedule: false` the source only runs when asked (syncNow / backfill), e.g. `sync --once`.
   */
  addSource(sourceId: number, options: { schedule?: boolean; credentials?: Credentials; acceptSelfSigned?: boolean } = {}): void {
    if (this.closed) return;
    const known = this.sources.get(sourceId);
    if (known) {
      known.acceptSelfSigned = options.acceptSelfSigned;
      if (options.credentials) {
        const changed = !sameLogin(known.credentials, options.credentials);
        known.credentials = options.credentials;
        if (changed && known.refusedLogin) {
          // A new login for a source whose old one was refused: try it soon.
          known.refusedLogin = undefined;
          if (!known.manualOnly && !known.running) this.schedule(known, this.o.startDelayMs ?? 200, 'manual');
        }
      }
      return;
    }
    const st: SourceState = {
      sourceId,
      manualOnly: options.schedule === false,
      credentials: options.credentials,
      acceptSelfSigned: options.acceptSelfSigned,
      abort: new AbortController(),
    };
    this.sources.set(sourceId, st);
    if (!st.manualOnly) this.schedule(st, this.o.startDelayMs ?? 200, 'startup');
  }

  hasSource(sourceId: number): boolean {
    return this.sources.has(sourceId);
  }

  /** Stop syncing a source: no further passes, and a running one is aborted (.part files removed). */
  removeSource(sourceId: number): Promise<void> {
    const st = this.sources.get(sourceId);
    if (!st) return Promise.resolve();
    if (st.timer) clearTimeout(st.timer);
    this.sources.delete(sourceId);
    st.abort.abort();
    return (st.running ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Settings for the next passes (an archive's settings changed), without restarting any source. */
  configure(settings: Partial<SyncSettings>, retention?: RetentionSettings): void {
    Object.assign(this.settings, settings);
    this.o.retention = retention;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const st of this.sources.values()) if (!st.running && !st.timer && !st.manualOnly) this.schedule(st, 0, 'manual');
  }

  /** Run a pass now for one source or all; resolves when they finish. */
  async syncNow(sourceId?: number): Promise<RunSummary[]> {
    const ids = sourceId === undefined ? this.sourceIds() : [sourceId];
    return Promise.all(ids.map((id) => this.runPass(this.mustGet(id), 'manual')));
  }

  /** Fetch a past range (already-held segments are skipped); does not move the synced point. */
  async backfill(range: SyncRange, sourceId?: number): Promise<RunSummary[]> {
    if (!(range.from < range.to)) throw new Error(`backfill: "from" (${range.from.toISOString()}) must be before "to" (${range.to.toISOString()})`);
    const ids = sourceId === undefined ? this.sourceIds() : [sourceId];
    return Promise.all(ids.map((id) => this.runPass(this.mustGet(id), 'backfill', range)));
  }

  /** Stop timers, abort running downloads (their .part files are removed) and wait for them. */
  async close(): Promise<void> {
    this.closed = true;
    for (const st of this.sources.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.abort.abort();
    }
    await Promise.allSettled([...this.sources.values()].map((s) => s.running));
    this.sources.clear();
  }

  private mustGet(id: number): SourceState {
    const st = this.sources.get(id);
    if (!st) throw new Error(`source ${id} is not being synced`);
    return st;
  }

  private schedule(st: SourceState, delayMs: number, reason: RunReason): void {
    if (st.timer) clearTimeout(st.timer);
    st.nextRunAt = new Date(this.now().getTime() + delayMs);
    st.timer = setTimeout(() => {
      st.timer = undefined;
      if (this.paused || this.closed) return;
      this.runPass(st, reason).catch(() => undefined); // runPass reports its own errors as events
    }, delayMs);
  }

  private intervalMs(sourceId: number): number {
    const minutes = this.o.catalog.getSyncStatus(sourceId)?.intervalMinutes ?? 10;
    return Math.max(0.05, minutes) * 60_000;
  }

  private async runPass(st: SourceState, reason: RunReason, range?: SyncRange): Promise<RunSummary> {
    if (st.running) {
      if (!range) {
        // A timer or manual pass during a pass: fold it into one follow-up pass.
        st.queued = reason;
        return st.running;
      }
      await st.running.catch(() => undefined);
    }
    const p = this.doPass(st, reason, range);
    st.running = p;
    try {
      return await p;
    } finally {
      st.running = undefined;
      if (!this.closed && this.sources.has(st.sourceId)) {
        if (st.queued) {
          const q = st.queued;
          st.queued = undefined;
          this.schedule(st, 0, q);
        }
      }
    }
  }

  /**
   * One pass, which cannot stop the source's timer whatever fails inside it (the NVR, the disk,
   * the catalog, a bug): every failure becomes an `error` event, and the next pass is scheduled
   * with backoff in `finally`.
   */
  private async doPass(st: SourceState, reason: RunReason, range?: SyncRange): Promise<RunSummary> {
    const started = this.now();
    const empty: RunSummary = { sourceId: st.sourceId, reason, files: [], failed: 0, errors: [] };
    let summary: RunSummary = empty;
    let sourceName = `#${st.sourceId}`;
    let delay: number | undefined;
    let next: Date | undefined;
    // A removed source's aborted pass says nothing more (its node is gone: no errors about it).
    const silenced = () => st.abort.signal.aborted && !this.closed;
    const report = (error: string, code?: string) => {
      if (!silenced()) this.emit('event', { event: 'error', source: sourceName, sourceId: st.sourceId, error, code });
    };
    try {
      const source = this.o.catalog.getSource(st.sourceId);
      if (!source) {
        report('source no longer exists in the catalog');
        void this.removeSource(st.sourceId);
        return { ...empty, errors: ['source no longer exists'] };
      }
      sourceName = source.name;
      if (reason !== 'manual' && reason !== 'backfill' && this.o.catalog.getSyncStatus(source.id)?.enabled === false) {
        // Sync switched off for this source: keep the timer, fetch nothing.
        delay = this.intervalMs(source.id);
        return empty;
      }
      const login = st.credentials ?? this.o.credentials;
      if ((reason === 'timer' || reason === 'startup') && st.refusedLogin && sameLogin(st.refusedLogin, login)) {
        // Another attempt would only count towards the NVR's lockout: wait for a new login.
        delay = this.intervalMs(source.id);
        return empty;
      }
      this.progress.reset(source.id);
      this.emit('event', { event: 'started', source: source.name, sourceId: source.id, reason, at: started.toISOString() });
      try {
        summary = await runSourceOnce({
          catalog: this.o.catalog,
          source,
          credentials: st.credentials ?? this.o.credentials,
          acceptSelfSigned: st.acceptSelfSigned,
          settings: this.settings,
          reason,
          range,
          sweep: !st.swept,
          now: this.o.now,
          signal: st.abort.signal,
          // Progress at most once a second per source (plus each file's first), not per percent.
          emit: (e) => {
            if (silenced()) return;
            if (e.event !== 'progress' || this.progress.pass(e, this.now().getTime())) this.emitOnce(e);
          },
          onFile: (f) => this.emit('file', f),
        });
        st.swept = !summary.sweepNext;
        st.refusedLogin = summary.loginRefused ? login : undefined;
        if (summary.loginRefused) {
          report(
            'the NVR refused the login: not tried again by the timer until the login changes (NVRs lock an account after a few failed logins); "sync now" tries it once',
            'auth',
          );
        }
      } catch (e) {
        summary = { ...empty, errors: [errorMessage(e)] };
        report(errorMessage(e));
      }
      await this.applyRetention(source).catch((e: unknown) => {
        summary.errors.push(`retention: ${errorMessage(e)}`);
        report(`retention: ${errorMessage(e)}`);
      });
      const ok = summary.errors.length === 0;
      const failures = ok ? 0 : this.failuresSoFar(source.id) + 1;
      const interval = this.intervalMs(source.id);
      // After failures, retry sooner than the interval but back off: 30 s, 1 min, 2 min ... ≤ interval.
      delay = ok ? interval : Math.min(interval, backoffMs(failures, 30_000, interval));
      next = new Date(this.now().getTime() + delay);
      if (!this.closed && !silenced()) {
        try {
          this.o.catalog.updateSyncStatus(source.id, null, {
            lastRunAt: started,
            ...(ok ? { lastSuccessAt: this.now() } : {}),
            consecutiveFailures: failures,
            lastError: ok ? null : summary.errors.slice(0, 3).join('; '),
            nextAttemptAt: next,
          });
          this.memoryFailures.delete(source.id);
        } catch (e) {
          // The catalog cannot be written (full disk...): the pass still ends and the next comes.
          this.memoryFailures.set(source.id, failures);
          report(`catalog: cannot save the sync state: ${errorMessage(e)}`, 'catalog');
        }
      }
      return summary;
    } catch (e) {
      // A failure outside the runner (the catalog unreadable, a bug): report, back off, go on.
      const failures = this.failuresSoFar(st.sourceId) + 1;
      this.memoryFailures.set(st.sourceId, failures);
      delay = backoffMs(failures, 30_000, this.safeIntervalMs(st.sourceId));
      next = new Date(this.now().getTime() + delay);
      summary = { ...empty, errors: [errorMessage(e)] };
      report(errorMessage(e));
      return summary;
    } finally {
      if ((summary !== empty || next) && !silenced()) {
        this.emit('event', {
          event: 'finished',
          source: sourceName,
          sourceId: st.sourceId,
          reason,
          files: summary.files.length,
          bytes: summary.files.reduce((n, f) => n + f.bytes, 0),
          failed: summary.failed,
          durationMs: this.now().getTime() - started.getTime(),
          nextRunAt: this.closed || !next ? undefined : next.toISOString(),
        });
      }
      if (delay !== undefined && !this.closed && !range && !st.manualOnly && this.sources.has(st.sourceId) && !st.queued) this.schedule(st, delay, 'timer');
    }
  }

  /** Warnings about how a device is (no recording events, replays in real time, an odd date...)
   * are said once per engine, not on every pass; the rest of the events always go out. */
  private readonly said = new Set<string>();
  private emitOnce(e: SyncEvent): void {
    if (e.event === 'warning' && e.code && DEVICE_TRAITS.has(e.code)) {
      const key = `${e.sourceId}|${e.camera ?? ''}|${e.code}`;
      if (this.said.has(key)) return;
      this.said.add(key);
    }
    this.emit('event', e);
  }

  /** Failures in a row, from the catalog, or from memory when the catalog could not be written. */
  private readonly memoryFailures = new Map<number, number>();
  private failuresSoFar(sourceId: number): number {
    let stored = 0;
    try {
      stored = this.o.catalog.getSyncStatus(sourceId)?.consecutiveFailures ?? 0;
    } catch {
      // unreadable: memory knows
    }
    return Math.max(stored, this.memoryFailures.get(sourceId) ?? 0);
  }

  private safeIntervalMs(sourceId: number): number {
    try {
      return this.intervalMs(sourceId);
    } catch {
      return 10 * 60_000;
    }
  }

  private async applyRetention(source: VideoSourceRow): Promise<void> {
    const r = this.o.retention;
    if (!r || (r.maxAgeDays === undefined && r.maxGB === undefined)) return;
    // In slices along the catalog's index: never the whole file list, never a long event-loop block.
    const { deleted, bytes } = await applyRetentionRules(this.o.catalog, source.id, {
      maxAgeDays: r.maxAgeDays,
      maxBytes: r.maxGB === undefined ? undefined : r.maxGB * 1024 ** 3,
      now: this.now(),
    });
    if (deleted === 0) return;
    this.emit('event', { event: 'retention', source: source.name, sourceId: source.id, deleted, bytes });
  }
}
