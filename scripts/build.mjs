// Build: compile TypeScript to dist/, then copy each node's editor files (.html, locales/, icons/)
// next to its compiled .js, because Node-RED's loader looks for them beside the file it loads.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });

const nodesDir = join(root, 'nodes');
for (const name of readdirSync(nodesDir)) {
  const src = join(nodesDir, name);
  if (!statSync(src).isDirectory()) continue;
  const dest = join(root, 'dist', 'nodes', name);
  for (const entry of readdirSync(src)) {
    if (entry.endsWith('.ts')) continue;
    cpSync(join(src, entry), join(dest, entry), { recursive: true });
  }
}
if (!existsSync(join(root, 'dist', 'lib', 'cli.js'))) throw new Error('build did not produce dist/lib/cli.js');
