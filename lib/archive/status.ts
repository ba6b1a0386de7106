// What each source is doing, from the engine's events: the nvr-source badge (its own last sync,
// backlog, error) and the nvr-sync summary ("2 ok · 1 error · next 14:20"). Pure: times come in
// as arguments, so the specs need no clock. The board says what to show as messages (keys and
// parameters); the nodes word them through their locale files and fit the text with fitBadge.
import type { SyncEvent } from '../sync/types';
import { WRONG_PASSWORD } from '../vendors/errors';
import { message, say, type Message, type Translate } from '../message';

export type BadgeFill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';
export interface Badge {
  fill: BadgeFill;
  shape: 'dot' | 'ring';
  text: string;
}

/** A badge before it is worded: its parts are joined with " · ". */
export interface StatusMessage<K extends string = string> {
  fill: BadgeFill;
  shape: 'dot' | 'ring';
  parts: ReadonlyArray<Message<K>>;
}

const CAUSE_KEYS = [
  'status.cause.auth',
  'status.cause.wrongPassword',
  'status.cause.unreachable',
  'status.cause.notAnswering',
  'status.cause.clockSkew',
  'status.cause.notOnvif',
  'status.cause.diskFull',
  'status.cause.cannotReplay',
  'status.cause.cannotWrite',
  'status.cause.detail',
] as const;

/** Every key summaryStatus may use: a node showing the summary needs them in its locale file. */
export const SUMMARY_KEYS = [
  'status.paused',
  'status.noSources',
  'status.progress',
  'status.syncing',
  'status.ok',
  'status.oneError',
  'status.errors',
  'status.next',
  ...CAUSE_KEYS,
] as const;

/** Every key sourceStatus (and afterSaveStatus) may use: nvr-source's locale file needs them. */
export const SOURCE_KEYS = [
  'status.progress',
  'status.looking',
  'status.planned',
  'status.retry',
  'status.synced',
  'status.left',
  'status.next',
  'status.waiting',
  ...CAUSE_KEYS,
] as const;

export type CauseKey = (typeof CAUSE_KEYS)[number];
export type SummaryKey = (typeof SUMMARY_KEYS)[number];
export type SourceKey = (typeof SOURCE_KEYS)[number];

/**
 * The English texts of SUMMARY_KEYS and SOURCE_KEYS, for callers without a locale file (catalogTranslate).
 * The nodes' en-US files hold the same texts (a spec compares).
 */
export const STATUS_EN = {
  status: {
    progress: '__camera__ __index__/__total__ · __percent__%',
    looking: 'looking for new recordings',
    planned: '__count__ to fetch',
    retry: 'retry __at__',
    synced: 'synced __at__',
    left: '__count__ left',
    next: 'next __at__',
    waiting: 'waiting for first sync',
    paused: 'paused',
    noSources: 'no sources yet',
    syncing: '__count__ syncing',
    ok: '__count__ ok',
    oneError: 'error: __cause__',
    errors_one: '__count__ error',
    errors_other: '__count__ errors',
    cause: {
      auth: 'auth failed',
      wrongPassword: WRONG_PASSWORD,
      unreachable: 'NVR unreachable',
      notAnswering: 'NVR not answering',
      clockSkew: 'NVR clock is off',
      notOnvif: 'not ONVIF',
      diskFull: 'disk full',
      cannotReplay: 'NVR cannot replay',
      cannotWrite: 'cannot write file',
      detail: '__text__',
    },
  },
} as const;

/** Node-RED draws a badge on one line; longer texts run across the canvas. */
export const BADGE_MAX = 48;

/** The text cut at a word boundary to at most `max` characters, ending with "…" when cut. */
export function fitBadge(text: string, max = BADGE_MAX): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.length <= max) return t;
  const room = t.slice(0, max - 1);
  const space = room.lastIndexOf(' ');
  // A single long word (a path) is cut where it must; otherwise at the last space.
  const cut = space >= max / 2 ? room.slice(0, space) : room;
  return `${cut.replace(/[\s·:,;(-]+$/, '')}…`;
}

/** The badge Node-RED shows: the parts worded by `t`, joined, and fitted to one line. */
export function wordBadge(s: StatusMessage, t: Translate): Badge {
  return { fill: s.fill, shape: s.shape, text: fitBadge(s.parts.map((m) => say(m, t)).join(' · ')) };
}

/** The cause of a failure in a few words, from its kind (never from its text, which holds URLs). */
export function causeOf(code: string | undefined, error: string): Message<CauseKey> {
  switch (code) {
    case 'auth':
      // A vendor NVR's rejected login warns that it locks the account: say so, not just "failed".
      return message(error.includes(WRONG_PASSWORD) ? 'status.cause.wrongPassword' : 'status.cause.auth');
    case 'unreachable':
    case 'network':
      return message('status.cause.unreachable');
    case 'timeout':
    case 'idle':
      return message('status.cause.notAnswering');
    case 'clock-skew':
      return message('status.cause.clockSkew');
    case 'not-onvif':
      return message('status.cause.notOnvif');
    case 'disk-full':
      return message('status.cause.diskFull');
    case 'unsupported':
      return message('status.cause.cannotReplay');
    case 'write':
      return message('status.cause.cannotWrite');
    default:
      // 'locked' (the NVR's lock, with its unlock time when it gave one) and anything else: the
      // engine's own words.
      return message('status.cause.detail', { text: error });
  }
}

export function clock(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

interface SourceStatus {
  name: string;
  syncing: boolean;
  planned?: number;
  progress?: { camera: string; index: number; total: number; percent: number };
  /** The pass's first failure cause. */
  passError?: Message<CauseKey>;
  error?: Message<CauseKey>;
  /** Segments of the last pass that failed: fetched again next pass. */
  backlog: number;
  lastSuccessAt?: Date;
  nextRunAt?: Date;
}

export class StatusBoard {
  private readonly sources = new Map<number, SourceStatus>();

  private get(id: number, name: string): SourceStatus {
    let s = this.sources.get(id);
    if (!s) this.sources.set(id, (s = { name, syncing: false, backlog: 0 }));
    s.name = name;
    return s;
  }

  /** Start showing a source (registered, nothing run yet), with what the catalog remembers. */
  track(id: number, name: string, last?: { lastSuccessAt?: string | null; lastError?: string | null; nextAttemptAt?: string | null }): void {
    const s = this.get(id, name);
    if (last?.lastSuccessAt && !s.lastSuccessAt) s.lastSuccessAt = new Date(last.lastSuccessAt);
  }

  forget(id: number): void {
    this.sources.delete(id);
  }

  ids(): number[] {
    return [...this.sources.keys()];
  }

  apply(e: SyncEvent, now: Date): void {
    const s = this.get(e.sourceId, e.source);
    switch (e.event) {
      case 'started':
        s.syncing = true;
        s.passError = undefined;
        s.planned = undefined;
        s.progress = undefined;
        break;
      case 'planned':
        s.planned = e.segments;
        break;
      case 'progress':
        s.progress = { camera: e.camera, index: e.index, total: e.total, percent: e.percent };
        break;
      case 'error':
        s.passError ??= causeOf(e.code, e.error);
        break;
      case 'finished':
        s.syncing = false;
        s.progress = undefined;
        s.backlog = e.failed;
        s.error = s.passError;
        if (!s.error) s.lastSuccessAt = now;
        s.nextRunAt = e.nextRunAt ? new Date(e.nextRunAt) : undefined;
        break;
      default:
        break;
    }
  }

  /** What one source's nvr-source badge says. */
  sourceStatus(id: number): StatusMessage<SourceKey> | undefined {
    const s = this.sources.get(id);
    if (!s) return undefined;
    if (s.syncing) {
      if (s.progress) return { fill: 'blue', shape: 'dot', parts: [progressOf(s.progress)] };
      return { fill: 'blue', shape: 'ring', parts: [s.planned === undefined ? message('status.looking') : message('status.planned', { count: s.planned })] };
    }
    const next = s.nextRunAt ? [message('status.next', { at: clock(s.nextRunAt) })] : [];
    if (s.error) return { fill: 'red', shape: 'ring', parts: [s.error, ...(s.nextRunAt ? [message('status.retry', { at: clock(s.nextRunAt) })] : [])] };
    if (s.lastSuccessAt) {
      const backlog = s.backlog ? [message('status.left', { count: s.backlog })] : [];
      return { fill: 'green', shape: 'dot', parts: [message('status.synced', { at: clock(s.lastSuccessAt) }), ...backlog, ...next] };
    }
    return { fill: 'grey', shape: 'ring', parts: [message('status.waiting')] };
  }

  /**
   * What an nvr-source badge shows once its save is done: the source's sync state when it has one
   * (a pass that ended before the save must not be hidden by "3 cameras · unchanged" until the next
   * pass), else the save's result. "Looking for new recordings" says less than either.
   */
  afterSaveStatus<K extends string>(id: number, saved: StatusMessage<K>): StatusMessage<K | SourceKey> {
    const sync = this.sourceStatus(id);
    if (!sync || sync.fill === 'grey' || (sync.fill === 'blue' && sync.shape === 'ring')) return saved;
    return sync;
  }

  /** nvr-sync's badge: how many sources are ok, syncing, failing, and the next pass. */
  summaryStatus(paused: boolean): StatusMessage<SummaryKey> {
    if (paused) return { fill: 'grey', shape: 'ring', parts: [message('status.paused')] };
    const all = [...this.sources.values()];
    if (all.length === 0) return { fill: 'grey', shape: 'ring', parts: [message('status.noSources')] };
    const syncing = all.filter((s) => s.syncing);
    const errors = all.filter((s) => !s.syncing && s.error);
    const ok = all.length - syncing.length - errors.length;
    const parts: Message<SummaryKey>[] = [];
    const progress = syncing.length === 1 ? syncing[0].progress : undefined;
    if (progress) parts.push(progressOf(progress));
    else if (syncing.length) parts.push(message('status.syncing', { count: syncing.length }));
    if (ok) parts.push(message('status.ok', { count: ok }));
    // One source alone: its cause; several: how many fail (each nvr-source badge names its own).
    const only = all.length === 1 ? errors[0]?.error : undefined;
    if (only) parts.push(message('status.oneError', { cause: only }));
    else if (errors.length) parts.push(message('status.errors', { count: errors.length }));
    const next = all
      .filter((s) => !s.syncing && s.nextRunAt)
      .map((s) => s.nextRunAt as Date)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    if (!syncing.length && next) parts.push(message('status.next', { at: clock(next) }));
    const fill: BadgeFill = syncing.length ? 'blue' : errors.length ? (ok ? 'yellow' : 'red') : 'green';
    return { fill, shape: syncing.length || errors.length ? 'ring' : 'dot', parts };
  }
}

/** "Front Door 3/12 · 45%": the camera's name without its generic suffix. */
function progressOf(p: NonNullable<SourceStatus['progress']>): Message<'status.progress'> {
  return message('status.progress', { camera: p.camera.replace(/ Camera$/, ''), index: p.index, total: p.total, percent: p.percent });
}
