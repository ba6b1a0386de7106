// vtrack-onvif replay: download one time range from an ONVIF replay URI into MP4.
// If the recording has gaps in the range, the extra files are named out-1.mp4, out-2.mp4, …
import { parseArgs, str, num, bool, type FlagSpec } from './args';
import { replayToFiles, ReplayToFilesError, type WrittenFile } from '../media/replay-to-files';
import { maskUrl } from '../rtsp/url';
import { errorMessage } from '../errors';
import { PASSWORD_HELP, resolvePassword } from './password';

const USAGE = `usage: vtrack-onvif replay <rtsp-url> --from ISO --to ISO -o out.mp4
         [--user U [--password-file FILE]] [--rate-control yes|no] [--idle-timeout SEC] [--json]

Downloads [from, to) of a recording through its ONVIF replay URI (GetReplayUri) into MP4,
as fast as the server sends (Rate-Control: no) unless --rate-control yes.

${PASSWORD_HELP}`;

/** Every flag this command takes; any other is refused (see args.ts). */
export const FLAGS: FlagSpec = {
  booleans: ['json', 'help'],
  strings: ['from', 'to', 'output', 'rate-control', 'user', 'idle-timeout', 'password', 'password-file'],
};

export async function run(argv: string[]): Promise<number> {
  // Accept the conventional short "-o FILE".
  const norm = argv.map((a) => (a === '-o' ? '--output' : a));
  const a = parseArgs(norm, FLAGS);
  if (bool(a, 'help')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const url = a.positionals[0];
  const fromS = str(a, 'from');
  const toS = str(a, 'to');
  const out = str(a, 'output');
  if (!url || !fromS || !toS || !out) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const from = new Date(fromS);
  const to = new Date(toS);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || to <= from) {
    process.stderr.write('replay: --from and --to must be ISO times with from < to\n');
    return 2;
  }
  const rc = (str(a, 'rate-control') ?? 'no').toLowerCase();
  if (rc !== 'yes' && rc !== 'no') {
    process.stderr.write('replay: --rate-control must be yes or no\n');
    return 2;
  }
  const json = bool(a, 'json');
  const user = str(a, 'user');
  let password: string | undefined;
  try {
    password = await resolvePassword(a, user);
  } catch (e) {
    process.stderr.write(`replay: ${errorMessage(e)}\n`);
    return 2;
  }
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  const t0 = Date.now();
  try {
    const files = await replayToFiles({
      url,
      user,
      password,
      from,
      to,
      naming: { kind: 'numbered', file: out },
      rateControl: rc === 'yes',
      timeouts: { idleMs: num(a, 'idle-timeout', 20) * 1000 },
      signal: ac.signal,
      // This process does nothing else meanwhile: no worker to start (see ReplayToFilesOptions.inProcess).
      inProcess: true,
      onProgress: json ? undefined : (p) => process.stderr.write(`\r${p.frames} frames  ${(p.bytes / 1e6).toFixed(1)} MB  at ${p.mediaTime.toISOString()}   `),
    });
    if (!json) process.stderr.write('\n');
    report(files, Date.now() - t0, url, json);
    return files.length > 0 ? 0 : 1;
  } catch (e) {
    if (!json) process.stderr.write('\n');
    const completed = e instanceof ReplayToFilesError ? e.completed : [];
    if (completed.length) report(completed, Date.now() - t0, url, json);
    process.stderr.write(`replay: ${errorMessage(e)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSig);
  }
}

function report(files: WrittenFile[], wallMs: number, url: string, json: boolean): void {
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const frames = files.reduce((n, f) => n + f.frames, 0);
  const media = files.reduce((n, f) => n + f.durationSec, 0);
  const wall = Math.max(wallMs, 1) / 1000;
  if (json) {
    for (const f of files) process.stdout.write(JSON.stringify({ ...f, start: f.start.toISOString(), end: f.end.toISOString() }) + '\n');
    process.stdout.write(
      JSON.stringify({
        summary: { url: maskUrl(url), files: files.length, frames, bytes, mediaSec: media, wallSec: wall, MBps: bytes / 1e6 / wall, speedX: media / wall },
      }) + '\n',
    );
    return;
  }
  for (const f of files) {
    process.stdout.write(
      `${f.path}  ${f.codec} ${f.width}x${f.height}  ${f.start.toISOString()} → ${f.end.toISOString()}  ${f.frames} frames  ${(f.bytes / 1e6).toFixed(2)} MB\n`,
    );
  }
  process.stdout.write(
    `${files.length} file(s), ${frames} frames, ${(bytes / 1e6).toFixed(2)} MB in ${wall.toFixed(2)} s: ${(bytes / 1e6 / wall).toFixed(1)} MB/s, ${(media / wall).toFixed(1)}× real time (${maskUrl(url)})\n`,
  );
}
