// doctor for Hikvision / Dahua recorders: what the vendor driver sees on a port (device, zone and
// clock, channels with their recorded span today, a short test download and its speed), and what to
// do about what does not work. One login attempt in all (both vendors lock accounts).
import { openVendorSession, type VendorDriverName } from './driver';
import { VendorError } from './errors';
import { errorMessage } from '../errors';
import type { Credentials } from '../credentials';
import type { TimeRange } from '../time/range';

export interface VendorDoctorReport {
  host: string;
  port: number;
  driver: VendorDriverName;
  name: string | null;
  model: string | null;
  clockOffsetMs: number | null;
  notes: string[];
  cameras: Array<{ name: string; token: string; codec: string; width: number; height: number; recordedSec: number; from: string | null; to: string | null }>;
  replay: { camera: string; ok: boolean; frames: number; seconds: number; speedX: number | null; error?: string } | null;
  problems: Array<{ problem: string; action: string }>;
}

export async function vendorDoctor(o: {
  host: string;
  port: number;
  driver: VendorDriverName;
  credentials?: Credentials;
  timeoutMs: number;
  replaySeconds: number;
  lookbackHours?: number;
  tmpDir: string;
  /** HTTPS (port 443): accept a self-signed certificate. */
  acceptSelfSigned?: boolean;
}): Promise<VendorDoctorReport> {
  const r: VendorDoctorReport = {
    host: o.host,
    port: o.port,
    driver: o.driver,
    name: null,
    model: null,
    clockOffsetMs: null,
    notes: [],
    cameras: [],
    replay: null,
    problems: [],
  };
  let session;
  try {
    session = await openVendorSession(o.driver, o.host, o.port, o.credentials, o.timeoutMs, undefined, { acceptSelfSigned: o.acceptSelfSigned });
  } catch (e) {
    const kind = e instanceof VendorError ? e.kind : undefined;
    r.problems.push({
      problem: errorMessage(e),
      action:
        kind === 'auth'
          ? "check the user name and password in the recorder's web page first; do not retry blindly: the recorder locks the account after a few failures"
          : kind === 'locked'
            ? 'wait until the lock ends (or unlock the account on the recorder), then check the password'
            : kind === 'not-vendor'
              ? `this port does not answer the ${o.driver === 'hikvision' ? 'Hikvision ISAPI' : 'Dahua HTTP API'}: give the recorder's web (HTTP) port, usually 80`
              : 'check the address and port and that the recorder is reachable',
    });
    return r;
  }
  r.name = session.device.name ?? null;
  r.model = session.device.model ?? null;
  r.clockOffsetMs = session.clockOffsetMs;
  r.notes.push(...session.notes);
  if (Math.abs(session.clockOffsetMs) > 60_000)
    r.problems.push({
      problem: `the recorder's clock is ${(session.clockOffsetMs / 1000).toFixed(0)} s off`,
      action: 'set NTP on the recorder; file times follow its clock',
    });
  const to = new Date(Date.now() + session.clockOffsetMs);
  const from = new Date(to.getTime() - (o.lookbackHours ?? 24) * 3600_000);
  for (const c of session.device.cameras) {
    const p = c.profiles[0];
    let spans: Array<TimeRange> = [];
    try {
      spans = await session.recordedIntervals(c.token, from, to);
    } catch (e) {
      r.problems.push({ problem: `${c.name}: recording search failed: ${errorMessage(e)}`, action: 'check that the user may search and play back recordings' });
    }
    const sec = spans.reduce((n, s) => n + (s.end.getTime() - s.start.getTime()) / 1000, 0);
    r.cameras.push({
      name: c.name,
      token: c.token,
      codec: p?.encoding ?? '',
      width: p?.width ?? 0,
      height: p?.height ?? 0,
      recordedSec: Math.round(sec),
      from: spans[0]?.start.toISOString() ?? null,
      to: spans[spans.length - 1]?.end.toISOString() ?? null,
    });
  }
  if (r.cameras.length && r.cameras.every((c) => c.recordedSec === 0))
    r.problems.push({
      problem: `no recordings in the last ${o.lookbackHours ?? 24} h on any channel`,
      action: 'check the recording schedule and the disks of the recorder',
    });
  const first = r.cameras.find((c) => c.recordedSec > 0);
  if (first && o.replaySeconds > 0 && first.from) {
    const a = new Date(first.from);
    const b = new Date(a.getTime() + o.replaySeconds * 1000);
    const t0 = Date.now();
    try {
      const { join } = await import('node:path');
      const { rm } = await import('node:fs/promises');
      // A folder of our own (named as a camera folder would be), removed whole afterwards.
      const folder = join(o.tmpDir, `vtrack-doctor-${process.pid}`);
      const files = await session
        .download(first.token, { from: a, to: b, naming: { kind: 'camera-folder', folder } })
        .finally(() => rm(folder, { recursive: true, force: true }));
      const frames = files.reduce((n, f) => n + f.frames, 0);
      const media = files.reduce((n, f) => n + f.durationSec, 0);
      r.replay = {
        camera: first.name,
        ok: frames > 0,
        frames,
        seconds: Math.round(media * 10) / 10,
        speedX: Math.round((media / Math.max(0.001, (Date.now() - t0) / 1000)) * 10) / 10,
      };
      if (!frames) r.problems.push({ problem: `test download of ${first.name} gave no frames`, action: 'check that the user may download recordings' });
    } catch (e) {
      r.replay = { camera: first.name, ok: false, frames: 0, seconds: 0, speedX: null, error: errorMessage(e) };
      r.problems.push({ problem: `test download of ${first.name} failed: ${errorMessage(e)}`, action: 'check that the user may download recordings' });
    }
  }
  return r;
}

export function vendorDoctorText(r: VendorDoctorReport): string {
  const lines = [`${r.host}:${r.port}  driver ${r.driver}${r.model ? ` (${r.model})` : ''}`];
  for (const n of r.notes) lines.push(`  ${n}`);
  if (r.clockOffsetMs !== null) lines.push(`  clock offset: ${(r.clockOffsetMs / 1000).toFixed(1)} s`);
  for (const c of r.cameras)
    lines.push(
      `  - ${c.name} (${c.token}, ${c.codec} ${c.width}x${c.height}): ${c.recordedSec ? `${c.recordedSec} s recorded, ${c.from} .. ${c.to}` : 'nothing recorded in the window'}`,
    );
  if (r.replay)
    lines.push(
      r.replay.ok
        ? `  test download (${r.replay.camera}): ok, ${r.replay.frames} frames, ${r.replay.speedX}x real time`
        : `  test download (${r.replay.camera}): FAILED — ${r.replay.error ?? 'no frames'}`,
    );
  if (!r.problems.length) lines.push('  no problems found');
  for (const p of r.problems) lines.push(`  ! ${p.problem}\n      → ${p.action}`);
  return lines.join('\n');
}
