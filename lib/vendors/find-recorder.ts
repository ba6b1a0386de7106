// A Hikvision or Dahua recorder on one host: the first of its ports whose vendor API answers, and
// its cameras named after the NVR's channels. nvr-source's save and the editor's Discover route
// both ask here. Both vendors lock an account after a few rejected logins, so a rejected (or
// locked) login ends the search at once: one login attempt in all, whatever the number of ports.
import { discover, type DiscoverOptions } from '../onvif/discovery';
import type { DiscoveredDevice } from '../onvif/types';
import { parseTargetList } from '../onvif/targets';
import { errorMessage, optInNeeded } from '../errors';
import { openVendorSession, probeVendor, type VendorDriverName, type VendorTransport } from './driver';
import type { Credentials } from '../credentials';
import { VendorError } from './errors';

/** The driver a source is set to: ONVIF Profile G, a vendor API, or auto (ONVIF, else a vendor). */
export type DriverSetting = 'auto' | 'onvif' | VendorDriverName;

export const DRIVER_SETTINGS: readonly DriverSetting[] = ['auto', 'onvif', 'hikvision', 'dahua'];

/** The search stopped at `port`: a rejected or locked login, an opt-in that is off, or (with a
 * fixed driver) a port whose API did not answer as that vendor's. */
export class RecorderSearchError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    override readonly cause: unknown,
  ) {
    super(`${host}:${port}: ${errorMessage(cause)}`);
    this.name = 'RecorderSearchError';
  }
}

export interface FindRecorderOptions {
  credentials?: Credentials;
  timeoutMs: number;
  signal?: AbortSignal;
  connection?: VendorTransport;
}

/**
 * The recorder on `host`, tried port by port: with driver auto each port is probed (Hikvision,
 * then Dahua, on one client) and a port that answers neither is skipped; with a fixed driver the
 * first port that fails ends the search. Undefined: no port answers a vendor API (auto only).
 */
export async function findVendorRecorder(
  host: string,
  ports: readonly number[],
  driver: 'auto' | VendorDriverName,
  o: FindRecorderOptions,
): Promise<{ driver: VendorDriverName; device: DiscoveredDevice } | undefined> {
  for (const port of ports) {
    try {
      const found = driver === 'auto' ? await probeVendor(host, port, o.credentials, o.timeoutMs, o.signal, o.connection) : driver;
      if (!found) continue;
      const session = await openVendorSession(found, host, port, o.credentials, o.timeoutMs, o.signal, o.connection);
      return { driver: found, device: session.device };
    } catch (e) {
      if (driver !== 'auto' || optInNeeded(errorMessage(e)) || (e instanceof VendorError && (e.kind === 'auth' || e.kind === 'locked' || e.kind === 'aborted')))
        throw new RecorderSearchError(host, port, e);
    }
  }
  return undefined;
}

/** A vendor failure as discovery reports a device's problem. */
function failedDevice(e: RecorderSearchError, driver: VendorDriverName | 'auto'): DiscoveredDevice {
  const kind = e.cause instanceof VendorError ? e.cause.kind : undefined;
  const errorCode: DiscoveredDevice['errorCode'] =
    kind === 'auth' || kind === 'locked' ? 'auth' : kind === 'unreachable' || kind === 'timeout' ? kind : kind === 'not-vendor' ? 'not-onvif' : 'protocol';
  return {
    host: e.host,
    port: e.port,
    xaddr: '',
    via: 'probe',
    onvif: false,
    cameras: [],
    error: kind === 'not-vendor' && driver !== 'auto' ? `${e.message} (not a ${driver} recorder)` : e.message,
    errorCode,
  };
}

/**
 * What the Discover button lists for a source with this driver: ONVIF devices (onvif), the
 * recorder's channels through its vendor API (hikvision, dahua), or ONVIF where a port offers
 * recording search and replay and else the vendor API (auto, as the sync chooses). A vendor
 * driver lists one recorder, so the targets must all be on one host.
 */
export async function discoverWithDriver(o: DiscoverOptions, driver: DriverSetting): Promise<DiscoveredDevice[]> {
  if (driver === 'onvif') return discover(o);
  const list = parseTargetList(o.targets ?? [], o.maxTargets);
  const hosts = new Set([...list].map((t) => t.host));
  if (hosts.size !== 1) throw new Error(`the ${driver} driver lists one recorder: give the ports of one host (got ${hosts.size} hosts)`);
  const host = [...hosts][0];
  const ports = [...new Set([...list].map((t) => t.port))].sort((a, b) => a - b);
  let onvif: DiscoveredDevice[] = [];
  if (driver === 'auto') {
    onvif = await discover(o);
    if (onvif.some((d) => !d.error && d.services?.profileG && d.cameras.length > 0)) return onvif;
  }
  const credentials = o.user ? { user: o.user, password: o.password ?? '', allowBasicAuth: o.allowBasicAuth } : undefined;
  try {
    const found = await findVendorRecorder(host, ports, driver, {
      credentials,
      timeoutMs: o.timeoutMs ?? 5000,
      signal: o.signal,
      connection: { acceptSelfSigned: o.acceptSelfSigned },
    });
    return found ? [found.device] : onvif;
  } catch (e) {
    if (!(e instanceof RecorderSearchError)) throw e;
    return [...onvif.filter((d) => d.port !== e.port), failedDevice(e, driver)].sort((a, b) => a.port - b.port);
  }
}
