// Minimal flag parser shared by the subcommands: --name value, --name=value, --flag, positionals.
export interface ParsedArgs {
  flags: Map<string, string | true>;
  /** Every value of each flag, in order (for flags that may be given more than once). */
  repeated: Map<string, string[]>;
  positionals: string[];
}

export function parseArgs(argv: string[], booleanFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const flags = new Map<string, string | true>();
  const repeated = new Map<string, string[]>();
  const positionals: string[] = [];
  const setValue = (name: string, v: string) => {
    flags.set(name, v);
    repeated.set(name, [...(repeated.get(name) ?? []), v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      setValue(a.slice(2, eq), a.slice(eq + 1));
    } else {
      const name = a.slice(2);
      const next = argv[i + 1];
      if (!booleanFlags.has(name) && next !== undefined && !next.startsWith('--')) {
        setValue(name, next);
        i++;
      } else {
        flags.set(name, true);
      }
    }
  }
  return { flags, repeated, positionals };
}

export function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function num(a: ParsedArgs, name: string, fallback: number): number {
  const v = str(a, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

export function bool(a: ParsedArgs, name: string): boolean {
  return a.flags.has(name);
}
