// Where the CLI gets a device password, best first: --password-file FILE, the environment
// (VTRACK_ONVIF_PASSWORD), a hidden prompt when a user is given and stdin is a terminal, and last
// --password, which any local user can read in `ps` (and the shell keeps in its history).
import { readFileSync, statSync } from 'node:fs';
import type { ParsedArgs } from './args';
import { str } from './args';

export const PASSWORD_ENV = 'VTRACK_ONVIF_PASSWORD';

/** The options lines every command with a login shows in its --help. */
export const PASSWORD_HELP = `  --password-file FILE  read the password from FILE (first line); best for scripts
  ${PASSWORD_ENV}  or take it from this environment variable
                        without either, a terminal prompts for it (not echoed)
  --password P          also works, but shows in "ps" to other users of the machine`;

/** What a prompt needs from a terminal (process.stdin/stderr, or fakes in specs). */
export interface PromptInput {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(ev: 'data', cb: (chunk: Buffer | string) => void): unknown;
  off(ev: 'data', cb: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}
export interface PromptOutput {
  write(s: string): unknown;
}

/** Reads one line without echoing it: Enter ends, Backspace deletes, Ctrl-C cancels. */
export function promptHidden(question: string, input: PromptInput, output: PromptOutput): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    output.write(question);
    input.setRawMode?.(true);
    input.on('data', onData);
    input.resume();
  });
}

function readPasswordFile(file: string, warn: (s: string) => void): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--password-file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'cannot read it'}`);
  }
  // Like ssh keys: a password file others can read is worth a warning (not on Windows, no modes there).
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) warn(`warning: ${file} is readable by other users (chmod 600 ${file})`);
  return text.split(/\r?\n/)[0];
}

export interface PasswordContext {
  env?: NodeJS.ProcessEnv;
  input?: PromptInput;
  output?: PromptOutput;
  /** Where warnings go (stderr). */
  warn?: (line: string) => void;
}

/**
 * The password for `user` from the sources above; undefined when there is no user or none was
 * given and there is no terminal to ask. Throws for an unreadable file or two explicit sources.
 */
export async function resolvePassword(a: ParsedArgs, user: string | undefined, c: PasswordContext = {}): Promise<string | undefined> {
  const env = c.env ?? process.env;
  const warn = c.warn ?? ((s: string) => process.stderr.write(s + '\n'));
  const file = str(a, 'password-file');
  const given = str(a, 'password');
  if (file !== undefined && given !== undefined) throw new Error('give --password-file or --password, not both');
  if (file !== undefined) return readPasswordFile(file, warn);
  if (given !== undefined) {
    warn(`warning: --password is visible to other users in "ps"; prefer --password-file FILE or ${PASSWORD_ENV}`);
    return given;
  }
  if (env[PASSWORD_ENV] !== undefined) return env[PASSWORD_ENV];
  const input = c.input ?? process.stdin;
  if (user !== undefined && input.isTTY) return promptHidden(`Password for ${user}: `, input, c.output ?? process.stderr);
  return undefined;
}
