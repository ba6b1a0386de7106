// `sim --preset hikvision|dahua`: one NVR on one HTTP port speaking that vendor's API.
import { startHikvisionSim, type RunningVendorSim } from './vendor-hikvision';
import { startDahuaSim } from './vendor-dahua';
import type { SimAuth, SimDeviceSpec } from './types';

export interface VendorSimOptions {
  /** Device time zone, minutes east of UTC (default 120, i.e. +02:00). */
  utcOffsetMin?: number;
  /** Hikvision: items per search page (default 40); firmware that ignores the position. */
  pageSize?: number;
  ignorePosition?: boolean;
  /** Hikvision: download method the firmware takes (default POST). */
  downloadMethod?: 'GET' | 'POST' | 'both';
  /** Hikvision: IMKH header inside a 64-byte envelope. */
  envelope?: boolean;
  /** Dahua: API channel numbering (default 1). */
  channelBase?: 0 | 1;
  /** Recordings listed as files of at most this many seconds (default 300). */
  fileSec?: number;
}

interface Running {
  devices: Array<{ spec: SimDeviceSpec; host: string; port: number; rtspPort: number; xaddr: string; urn: string }>;
  discoveryPort?: number;
  /** The vendor server (specs read its request counters and login stats). */
  vendor?: RunningVendorSim;
  stop(): Promise<void>;
}

/** "+02:00", "-05:00", "-5", "+0530" → minutes east of UTC. */
export function parseUtcOffset(s: string): number {
  const m = /^([+-−])?(\d{1,2})(?::?(\d{2}))?$/.exec(s.trim());
  if (!m) throw new Error(`not a UTC offset: "${s}" (use e.g. +02:00 or -05:00)`);
  const v = Number(m[2]) * 60 + Number(m[3] ?? 0);
  if (v > 14 * 60) throw new Error(`UTC offset out of range: ${s}`);
  return m[1] === '-' || m[1] === '−' ? -v : v;
}

export async function startVendorSim(
  vendor: 'hikvision' | 'dahua',
  device: SimDeviceSpec,
  host: string,
  o: { auth?: SimAuth; clockOffsetSec?: number; vendor?: VendorSimOptions; faults?: { busyReplays?: number } },
  log?: (line: string) => void,
): Promise<Running> {
  const v = o.vendor ?? {};
  const busy = o.faults?.busyReplays;
  const common = {
    host,
    port: device.port,
    device,
    auth: o.auth,
    utcOffsetMin: v.utcOffsetMin ?? 120,
    clockOffsetSec: o.clockOffsetSec,
    fileSec: v.fileSec,
    busyDownloads: busy ? { remaining: busy } : undefined,
  };
  const sim =
    vendor === 'hikvision'
      ? await startHikvisionSim({ ...common, pageSize: v.pageSize, ignorePosition: v.ignorePosition, downloadMethod: v.downloadMethod, envelope: v.envelope })
      : await startDahuaSim({ ...common, channelBase: v.channelBase });
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${sim.port}`;
  const xaddr = vendor === 'hikvision' ? `${base}/ISAPI/System/deviceInfo` : `${base}/cgi-bin/magicBox.cgi?action=getSystemInfo`;
  log?.(`${vendor} NVR "${device.name}" at ${base} (${device.cameras.length} channel(s), UTC offset ${common.utcOffsetMin} min)`);
  return {
    devices: [{ spec: { ...device, port: sim.port }, host, port: sim.port, rtspPort: 0, xaddr, urn: device.urn }],
    vendor: sim,
    stop: () => sim.close(),
  };
}
