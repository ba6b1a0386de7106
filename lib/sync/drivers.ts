// Driver by name (video_sources.driver).
import { isDriverName, type SyncDriver } from './driver';
import { onvifDriver } from './driver-onvif';
import { dahuaDriver, hikvisionDriver } from './driver-vendor';

export function driverFor(name: string): SyncDriver {
  if (!isDriverName(name)) throw new Error(`unknown driver "${name}" (one of onvif, hikvision, dahua)`);
  return name === 'onvif' ? onvifDriver : name === 'hikvision' ? hikvisionDriver : dahuaDriver;
}
