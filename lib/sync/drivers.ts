// Driver by name (video_sources.driver), and `auto`: which driver fits a device port.
import { probeVendor } from '../vendors/driver';
import { probeClock, getServices, deviceServiceUrl } from '../onvif/device';
import { OnvifError } from '../onvif/errors';
import type { Credentials } from '../onvif/soap';
import { isDriverName, type DriverName, type SyncDriver } from './driver';
import { onvifDriver } from './driver-onvif';
import { dahuaDriver, hikvisionDriver } from './driver-vendor';

export function driverFor(name: string): SyncDriver {
  if (!isDriverName(name)) throw new Error(`unknown driver "${name}" (one of onvif, hikvision, dahua)`);
  return name === 'onvif' ? onvifDriver : name === 'hikvision' ? hikvisionDriver : dahuaDriver;
}

export interface DriverChoice {
  driver: DriverName | undefined;
  /** Why, for doctor/CLI output. */
  reason: string;
}

/**
 * `auto`: ONVIF when the port offers recording search and replay (Profile G); otherwise the vendor
 * API that answers there (/ISAPI/System/deviceInfo, then /cgi-bin/magicBox.cgi?action=getSystemInfo).
 * The ONVIF check needs no login for GetSystemDateAndTime; GetServices is asked with the login.
 * A rejected vendor login ends the probe (one attempt: the NVR locks accounts).
 */
export async function chooseDriver(
  host: string,
  port: number,
  credentials: Credentials | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  acceptSelfSigned?: boolean,
): Promise<DriverChoice> {
  let onvifNote = 'no ONVIF device service';
  try {
    const { clockOffsetMs, url } = await probeClock(deviceServiceUrl({ host, port }), timeoutMs, signal, { acceptSelfSigned });
    const services = await getServices(url, { credentials, clockOffsetMs, timeoutMs, signal, acceptSelfSigned });
    if (services.profileG) return { driver: 'onvif', reason: 'ONVIF with recording search and replay (Profile G)' };
    onvifNote = 'ONVIF without recording search/replay';
  } catch (e) {
    if (e instanceof OnvifError && e.code === 'auth') onvifNote = 'ONVIF refused the login';
  }
  const vendor = await probeVendor(host, port, credentials, timeoutMs, signal, { acceptSelfSigned });
  if (vendor)
    return {
      driver: vendor,
      reason: `${onvifNote}; ${vendor === 'hikvision' ? 'Hikvision ISAPI (/ISAPI/System/deviceInfo)' : 'Dahua HTTP API (magicBox getSystemInfo)'} answers`,
    };
  return { driver: undefined, reason: `${onvifNote}; neither Hikvision ISAPI nor the Dahua HTTP API answers` };
}
