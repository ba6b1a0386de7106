// Flags of the subcommands, parsed by node:util's parseArgs in strict mode: a flag the command does
// not know (a typo such as --taregts) is refused with an error instead of being ignored, which
// silently ran the command without it. Values may follow with a space or "=".
import { parseArgs as parseArgv } from 'node:util';

export interface ParsedArgs {
  flags: Map<string, string | true>;
  /** Every value of each flag, in order (for flags that may be given more than once). */
  repeated: Map<string, string[]>;
  positionals: string[];
}

export interface FlagSpec {
  /** Flags without a value (--json). */
  booleans: readonly string[];
  /** Flags with a value (--targets LIST); each may repeat. */
  strings: readonly string[];
  /** Flags whose value is optional (--ws-discovery or --ws-discovery=eth0); only with "=". */
  optionalValue?: readonly string[];
}

/** Stands for "given without a value" for an optional-value flag (no real value is empty). */
const BARE = '\u0000';

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const strings = new Set([...spec.strings, ...(spec.optionalValue ?? [])]);
  const optional = new Set(spec.optionalValue ?? []);
  // util.parseArgs reads "--clock-offset -5" as a missing value followed by an option "-5";
  // our values may be negative numbers, so such a value is joined with "=" first.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && optional.has(name)) args.push(`--${name}=${BARE}`);
    else if (name !== undefined && strings.has(name) && /^-[^-]/.test(argv[i + 1] ?? '')) args.push(`--${name}=${argv[++i]}`);
    else args.push(a);
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const b of spec.booleans) options[b] = { type: 'boolean' };
  for (const s of strings) options[s] = { type: 'string', multiple: true };
  let parsed: ReturnType<typeof parseArgv>;
  try {
    parsed = parseArgv({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(usageMessage(e, [...Object.keys(options)]));
  }
  const flags = new Map<string, string | true>();
  const repeated = new Map<string, string[]>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === undefined || value === false) continue;
    if (value === true) {
      flags.set(name, true);
      continue;
    }
    const values = (Array.isArray(value) ? value : [value]).map(String);
    const given = values.filter((v) => v !== BARE);
    if (given.length) repeated.set(name, given);
    flags.set(name, values[values.length - 1] === BARE ? true : values[values.length - 1]);
  }
  return { flags, repeated, positionals: parsed.positionals };
}

/** util.parseArgs' message, with the closest known flag for a misspelt one. */
function usageMessage(e: unknown, known: string[]): string {
  const text = e instanceof Error ? e.message : String(e);
  const m = /Unknown option '(-{1,2})([^']+)'/.exec(text);
  if (!m) return text.replace(/\. To specify a positional argument.*$/s, '');
  const given = m[2];
  const near = known
    .map((k) => ({ k, d: distance(given, k) }))
    .sort((a, b) => a.d - b.d)
    .find((x) => x.d <= Math.max(2, Math.floor(x.k.length / 3)));
  return `unknown option ${m[1]}${given}${near ? ` (did you mean --${near.k}?)` : ''}; see --help`;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function num(a: ParsedArgs, name: string, fallback: number): number {
  const v = str(a, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

export function bool(a: ParsedArgs, name: string): boolean {
  return a.flags.has(name);
}
