// What each source is doing, from the engine's events: the nvr-source badge (its own last sync,
// backlog, error) and the nvr-sync summary ("2 ok · 1 error · next 14:20"). Pure: times come in
// as arguments, so the specs need no clock.
import type { SyncEvent } from '../sync/types';
import { WRONG_PASSWORD } from '../vendors/errors';

export type BadgeFill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';
export interface Badge {
  fill: BadgeFill;
  shape: 'dot' | 'ring';
  text: string;
}

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

/** The cause of a failure in a few words, from its kind (never from its text, which holds URLs). */
export function causeOf(code: string | undefined, message: string): string {
  switch (code) {
    case 'auth':
      // A vendor NVR's rejected login warns that it locks the account: say so, not just "failed".
      return message.includes(WRONG_PASSWORD) ? WRONG_PASSWORD : 'auth failed';
    case 'locked':
      // The NVR's lock, with its unlock time when it gave one.
      return message;
    case 'unreachable':
    case 'network':
      return 'NVR unreachable';
    case 'timeout':
    case 'idle':
      return 'NVR not answering';
    case 'clock-skew':
      return 'NVR clock is off';
    case 'not-onvif':
      return 'not ONVIF';
    case 'disk-full':
      return 'disk full';
    case 'unsupported':
      return 'NVR cannot replay';
    case 'write':
      return 'cannot write file';
    default:
      return message;
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
  passError?: string;
  error?: string;
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

  /** The badge of one source's nvr-source node. */
  badge(id: number): Badge | undefined {
    const s = this.sources.get(id);
    if (!s) return undefined;
    const next = s.nextRunAt ? ` · next ${clock(s.nextRunAt)}` : '';
    if (s.syncing) {
      if (s.progress) {
        const { camera, index, total, percent } = s.progress;
        return { fill: 'blue', shape: 'dot', text: fitBadge(`${camera.replace(/ Camera$/, '')} ${index}/${total} · ${percent}%`) };
      }
      return { fill: 'blue', shape: 'ring', text: s.planned === undefined ? 'looking for new recordings' : `${s.planned} to fetch` };
    }
    if (s.error) return { fill: 'red', shape: 'ring', text: fitBadge(`${s.error}${s.nextRunAt ? ` · retry ${clock(s.nextRunAt)}` : ''}`) };
    const backlog = s.backlog ? ` · ${s.backlog} left` : '';
    if (s.lastSuccessAt) return { fill: 'green', shape: 'dot', text: fitBadge(`synced ${clock(s.lastSuccessAt)}${backlog}${next}`) };
    return { fill: 'grey', shape: 'ring', text: 'waiting for first sync' };
  }

  /**
   * What an nvr-source badge shows once its save is done: the source's sync state when it has one
   * (a pass that ended before the save must not be hidden by "3 cameras · unchanged" until the next
   * pass), else the save's result. "Looking for new recordings" says less than either.
   */
  afterSave(id: number, saved: Badge): Badge {
    const sync = this.badge(id);
    if (!sync || sync.fill === 'grey' || (sync.fill === 'blue' && sync.shape === 'ring')) return saved;
    return sync;
  }

  /** nvr-sync's badge: how many sources are ok, syncing, failing, and the next pass. */
  summary(paused: boolean): Badge {
    if (paused) return { fill: 'grey', shape: 'ring', text: 'paused' };
    const all = [...this.sources.values()];
    if (all.length === 0) return { fill: 'grey', shape: 'ring', text: 'no sources yet' };
    const syncing = all.filter((s) => s.syncing);
    const errors = all.filter((s) => !s.syncing && s.error);
    const ok = all.length - syncing.length - errors.length;
    const parts: string[] = [];
    if (syncing.length === 1 && syncing[0].progress) {
      const p = syncing[0].progress;
      parts.push(`${p.camera.replace(/ Camera$/, '')} ${p.index}/${p.total} · ${p.percent}%`);
    } else if (syncing.length) parts.push(`${syncing.length} syncing`);
    if (ok) parts.push(`${ok} ok`);
    if (errors.length)
      parts.push(errors.length === 1 && all.length === 1 ? `error: ${errors[0].error}` : `${errors.length} error${errors.length > 1 ? 's' : ''}`);
    const next = all
      .filter((s) => !s.syncing && s.nextRunAt)
      .map((s) => s.nextRunAt as Date)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    if (!syncing.length && next) parts.push(`next ${clock(next)}`);
    const fill: BadgeFill = syncing.length ? 'blue' : errors.length ? (ok ? 'yellow' : 'red') : 'green';
    return { fill, shape: syncing.length || errors.length ? 'ring' : 'dot', text: fitBadge(parts.join(' · ')) };
  }
}
