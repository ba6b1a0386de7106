// `vtrack-onvif verify`: compare an archive's catalog, its files on disk and (with a login) the
// NVR's recordings, per camera; --fix puts right what can be (see lib/sync/verify).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { bool, num, parseArgs, str, type FlagSpec } from './args';
import { openCatalog } from '../catalog';
import { formatVerifyReport, verifyArchive } from '../sync/verify';
import { errorMessage } from '../errors';
import { PASSWORD_HELP, resolvePassword } from './password';

const HELP = `usage: vtrack-onvif verify --db FILE [options]

  --db FILE          the catalog (SQLite) of the archive
  --dir DIR          only sources whose working directory is inside DIR
  --user U           with a login, each camera is compared with the NVR's recordings too
${PASSWORD_HELP}
  --fix              mark missing files for a re-fetch, remove stale .part files, catalogue orphans
  --no-refetch       with --fix: do not move the synced point back for missing files
  --json             the report as JSON
Exit code: 0 when the archive is clean, 1 when it has problems, 2 on bad usage.`;

/** Every flag this command takes; any other is refused (see args.ts). */
export const FLAGS: FlagSpec = { booleans: ['json', 'help', 'fix', 'no-refetch'], strings: ['timeout', 'db', 'dir', 'user', 'password', 'password-file'] };

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS);
  if (bool(a, 'help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const db = str(a, 'db');
  if (!db) {
    process.stderr.write(`vtrack-onvif verify: --db is required\n\n${HELP}\n`);
    return 2;
  }
  const user = str(a, 'user');
  let password: string | undefined;
  try {
    password = await resolvePassword(a, user);
  } catch (e) {
    process.stderr.write(`vtrack-onvif verify: ${errorMessage(e)}\n`);
    return 2;
  }
  if (!existsSync(resolve(db))) {
    process.stderr.write(`vtrack-onvif verify: no catalog at ${resolve(db)}\n`);
    return 2;
  }
  let catalog;
  try {
    catalog = openCatalog(resolve(db));
  } catch (e) {
    process.stderr.write(`vtrack-onvif verify: ${errorMessage(e)}\n`);
    return 2;
  }
  try {
    const dir = str(a, 'dir');
    const report = await verifyArchive(catalog, {
      dir: dir ? resolve(dir) : undefined,
      credentialsFor: user ? () => ({ user, password: password ?? '' }) : undefined,
      fix: bool(a, 'fix'),
      refetch: !bool(a, 'no-refetch'),
      timeoutMs: num(a, 'timeout', 10_000),
    });
    process.stdout.write((bool(a, 'json') ? JSON.stringify(report, null, 2) : formatVerifyReport(report)) + '\n');
    return report.clean ? 0 : 1;
  } finally {
    catalog.close();
  }
}
