#!/usr/bin/env node
// vtrack-onvif: the same lib/ engines the nodes use, for scripts and debugging.
// Each subcommand lives in lib/cli/<name>.ts and exports run(argv) → exit code.
import { errorMessage } from './errors';

const COMMANDS: Record<string, string> = {
  sim: './cli/sim',
  discover: './cli/discover',
  replay: './cli/replay',
  sync: './cli/sync',
  verify: './cli/verify',
  doctor: './cli/doctor',
};

const USAGE = `usage: vtrack-onvif <command> [options]

commands:
  sim        run the ONVIF NVR simulator on loopback (--preset seed|nvr)
  discover   find ONVIF devices (WS-Discovery and/or --targets host:port lists)
  replay     download one time range from an RTSP replay URI into MP4
  sync       sync every camera found at --targets into folders, like the nvr-sync node
  verify     compare an archive's catalog, files on disk and the NVR's recordings; --fix repairs
  doctor     check what each device at --targets offers for syncing, and what to fix

run "vtrack-onvif <command> --help" for the options of one command.`;

// A reader that goes away (`vtrack-onvif sync --json | head -3`) must not crash a download half
// way: further output is dropped, the work finishes and cleans up as usual.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.stdout.write = (() => true) as typeof process.stdout.write;
});

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  const modPath = COMMANDS[cmd];
  if (!modPath) {
    process.stderr.write(`vtrack-onvif: unknown command "${cmd}"\n\n${USAGE}\n`);
    return 2;
  }
  const mod = (await import(modPath)) as { run(argv: string[]): Promise<number> };
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vtrack-onvif: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
