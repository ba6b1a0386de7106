// `vtrack-onvif replay`: one range into out.mp4 (out-1.mp4… after gaps), a summary line, and
// credentials never echoed.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRtspServer, type RtspServerHandle } from '../lib/sim/rtsp-server';
import { replayPath } from '../lib/sim/tokens';
import type { SimDeviceSpec } from '../lib/sim/types';
import { run as runReplayCommand } from '../lib/cli/replay';
import { replayWorkerPoolStats } from '../lib/media/replay-to-files';

const CLI = join(__dirname, '..', 'lib', 'cli.js');
const REC_START = new Date(Math.floor((Date.now() - 3600_000) / 60_000) * 60_000);
const at = (sec: number) => new Date(REC_START.getTime() + sec * 1000).toISOString();

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'replay', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('vtrack-onvif replay (CLI)', function () {
  this.timeout(40_000);
  let server: RtspServerHandle;
  let dir: string;
  before(async () => {
    const device: SimDeviceSpec = {
      name: 'cli',
      manufacturer: 'VTrack Simulator',
      model: 't',
      firmware: '1',
      serial: 'C1',
      hardware: 't',
      location: 'loopback',
      urn: 'urn:uuid:22222222-2222-4222-a222-222222222222',
      port: 0,
      rtspPort: 0,
      cameras: [
        {
          name: 'Warehouse',
          codec: 'MPEG4',
          width: 800,
          height: 600,
          fps: 15,
          bitrateKbps: 500,
          clip: 'warehouse-600p-mpeg4',
          recording: { start: REC_START, gaps: { onSec: 20, offSec: 10 } },
        },
      ],
    };
    server = await startRtspServer({ host: '127.0.0.1', port: 0, auth: { user: 'op', password: 'hunter2' }, device });
    dir = mkdtempSync(join(tmpdir(), 'vtrack-cli-'));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes out.mp4 and out-1.mp4 around a gap and prints frames, MB, MB/s and × real time', async () => {
    const out = join(dir, 'out.mp4');
    const r = await runCli([
      `rtsp://127.0.0.1:${server.port}${replayPath(0)}`,
      '--from',
      at(10),
      '--to',
      at(40),
      '-o',
      out,
      '--user',
      'op',
      '--password',
      'hunter2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(out));
    assert.ok(existsSync(join(dir, 'out-1.mp4')));
    assert.match(r.stdout, /2 file\(s\), 300 frames, [\d.]+ MB in [\d.]+ s: [\d.]+ MB\/s, [\d.]+× real time/);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
  });

  it('--json prints one line per file and a summary; URL credentials are masked', async () => {
    const out = join(dir, 'json.mp4');
    const r = await runCli([`rtsp://op:hunter2@127.0.0.1:${server.port}${replayPath(0)}`, '--from', at(0), '--to', at(5), '-o', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.equal(lines[0].frames, 75);
    assert.equal(lines[0].codec, 'MPEG4');
    const summary = lines[1].summary as { url: string; frames: number };
    assert.equal(summary.frames, 75);
    assert.equal(summary.url, `rtsp://***@127.0.0.1:${server.port}${replayPath(0)}`);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2/);
  });

  it('replays on its own thread: a one-shot process starts no replay worker (nothing else runs on its event loop)', async () => {
    const startedBefore = replayWorkerPoolStats().started;
    const out = join(dir, 'in-process.mp4');
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await runReplayCommand([`rtsp://op:hunter2@127.0.0.1:${server.port}${replayPath(0)}`, '--from', at(0), '--to', at(5), '-o', out, '--json']);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(code, 0, printed);
    assert.equal((JSON.parse(printed.trim().split('\n')[0]) as { frames: number }).frames, 75);
    assert.ok(existsSync(out));
    assert.equal(replayWorkerPoolStats().started, startedBefore, 'a replay worker was started');
  });

  it('a wrong password exits 1 with an authentication error', async () => {
    const r = await runCli([
      `rtsp://127.0.0.1:${server.port}${replayPath(0)}`,
      '--from',
      at(0),
      '--to',
      at(5),
      '-o',
      join(dir, 'bad.mp4'),
      '--user',
      'op',
      '--password',
      'nope',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /authentication failed/);
    assert.ok(!existsSync(join(dir, 'bad.mp4')) && !existsSync(join(dir, 'bad.mp4.part')));
  });
});
