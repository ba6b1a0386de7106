// Settings of an archive (the nvr-archive config node, or the implicit default archive of flows
// saved by 0.1.0) and of an nvr-source: one set of rules for the runtime. The editors repeat the
// same rules in their `validate` functions (they cannot import this file); test/archive-settings
// checks both agree. An invalid value is refused with a message, never read as another value
// ("24h" is not 0 = everything, "lots" is not "no limit").
import * as path from 'node:path';
import type { SyncSettings } from '../sync/runner';
import type { RetentionSettings } from '../sync/engine';

export const DEFAULT_DB_FILE = 'vtrack-onvif.db';

/** One number setting: its default when left empty and the values it accepts. */
export interface NumberRule {
  /** undefined: empty means "no limit". */
  empty?: number;
  min: number;
  /** true: min itself is refused (e.g. "more than 0"). */
  minExclusive?: boolean;
  max: number;
  integer?: boolean;
  /** What the value means, for the message: "minutes", "sessions". */
  unit: string;
}

export const ARCHIVE_NUMBERS = {
  segmentMinutes: { empty: 10, min: 1, max: 1440, unit: 'minutes' },
  concurrency: { empty: 2, min: 1, max: 16, integer: true, unit: 'sessions' },
  sinceHours: { empty: 24, min: 0, max: 87_600, unit: 'hours (0 = everything)' },
  maxAgeDays: { min: 0, minExclusive: true, max: 36_500, unit: 'days (empty = forever)' },
  maxGB: { min: 0, minExclusive: true, max: 1_000_000, unit: 'GB (empty = no limit)' },
  minFreeGB: { empty: 0.5, min: 0, max: 1_000_000, unit: 'GB' },
} satisfies Record<string, NumberRule>;

export const DISCOVER_NUMBERS = {
  timeout: { empty: 5000, min: 100, max: 120_000, integer: true, unit: 'ms' },
} satisfies Record<string, NumberRule>;

export const SOURCE_NUMBERS = {
  interval: { empty: 10, min: 0, minExclusive: true, max: 10_080, unit: 'minutes' },
  timeout: { empty: 8000, min: 500, max: 120_000, integer: true, unit: 'ms' },
} satisfies Record<string, NumberRule>;

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'SettingsError';
  }
}

/**
 * An on/off setting (nvr-source's acceptSelfSigned, allowBasicAuth): absent is off; anything but
 * true or false is refused — a hand-edited flow's "false" (text) must not switch a security opt-in on.
 */
export function checkFlag(label: string, raw: unknown): { value: boolean; problem?: string } {
  if (raw === undefined || raw === null || raw === false) return { value: false };
  if (raw === true) return { value: true };
  return { value: false, problem: `${label}: ${JSON.stringify(raw)} is not on or off (true or false)` };
}

/** The value of one number setting, or a message saying what is wrong with it. */
export function checkNumber(label: string, raw: unknown, rule: NumberRule): { value?: number; problem?: string } {
  const text = raw === undefined || raw === null ? '' : String(raw).trim();
  if (text === '') {
    return rule.empty === undefined ? { value: undefined } : { value: rule.empty };
  }
  const range = `${rule.minExclusive ? `more than ${rule.min}` : `${rule.min}`} to ${rule.max} ${rule.unit}`;
  // Number("") is 0 and Number("0x10") is 16: only plain decimal text counts as a number here.
  if (!/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return { problem: `${label}: "${text}" is not a number (${range})` };
  const n = Number(text);
  if (!Number.isFinite(n) || n < rule.min || (rule.minExclusive && n === rule.min) || n > rule.max) return { problem: `${label}: ${text} is outside ${range}` };
  if (rule.integer && !Number.isInteger(n)) return { problem: `${label}: ${text} must be a whole number (${range})` };
  return { value: n };
}

/** What an nvr-archive node (or a 0.1.0 nvr-sync, for its implicit archive) is configured with. */
export interface ArchiveConfigInput {
  dbPath?: string;
  downloadRoot?: string;
  segmentMinutes?: unknown;
  concurrency?: unknown;
  sinceHours?: unknown;
  maxAgeDays?: unknown;
  maxGB?: unknown;
  minFreeGB?: unknown;
  fastReplay?: unknown;
}

export interface ArchiveSettings {
  /** Absolute database file. */
  dbFile: string;
  /** Absolute folder under which each source gets <source name>/ (unless the source sets its own). */
  downloadRoot?: string;
  sync: Pick<SyncSettings, 'segmentMinutes' | 'concurrency' | 'initialBackfillHours' | 'minFreeBytes' | 'fastReplay'>;
  retention: RetentionSettings;
}

/** The database file of a setting: empty → <userDir>/vtrack-onvif.db, relative → against userDir. */
export function resolveDbFile(dbPath: string | undefined, userDir: string): string {
  const p = (dbPath ?? '').trim();
  return path.resolve(userDir, p || DEFAULT_DB_FILE);
}

export function parseArchiveSettings(input: ArchiveConfigInput, userDir: string): ArchiveSettings {
  const problems: string[] = [];
  const num = (label: string, key: keyof typeof ARCHIVE_NUMBERS): number | undefined => {
    const r = checkNumber(label, input[key], ARCHIVE_NUMBERS[key]);
    if (r.problem) problems.push(r.problem);
    return r.value;
  };
  const segmentMinutes = num('segment', 'segmentMinutes');
  const concurrency = num('parallel sessions', 'concurrency');
  const sinceHours = num('first sync', 'sinceHours');
  const maxAgeDays = num('keep days', 'maxAgeDays');
  const maxGB = num('keep at most', 'maxGB');
  const minFreeGB = num('keep free', 'minFreeGB');
  if (problems.length) throw new SettingsError(problems);
  const root = (input.downloadRoot ?? '').trim();
  return {
    dbFile: resolveDbFile(input.dbPath, userDir),
    downloadRoot: root ? path.resolve(userDir, root) : undefined,
    sync: {
      segmentMinutes: segmentMinutes as number,
      concurrency: concurrency as number,
      initialBackfillHours: sinceHours as number,
      minFreeBytes: (minFreeGB as number) * 1024 ** 3,
      fastReplay: input.fastReplay !== false && input.fastReplay !== 'false',
    },
    retention: { maxAgeDays, maxGB },
  };
}

/** Which settings two archives on one database file disagree on (empty: none). */
export function settingsDiffer(a: ArchiveSettings, b: ArchiveSettings): string[] {
  const out: string[] = [];
  if (a.downloadRoot !== b.downloadRoot) out.push('download folder');
  for (const k of Object.keys(a.sync) as Array<keyof ArchiveSettings['sync']>) if (a.sync[k] !== b.sync[k]) out.push(k);
  if (a.retention.maxAgeDays !== b.retention.maxAgeDays) out.push('maxAgeDays');
  if (a.retention.maxGB !== b.retention.maxGB) out.push('maxGB');
  return out;
}
