// Public surface of the ONVIF client side.
export { discover, type DiscoverOptions } from './discovery';
export { parseTargets, type Target } from './targets';
export { OnvifError, type OnvifErrorCode } from './errors';
export type { DiscoveredDevice, CameraInfo, VideoProfile, DeviceServices } from './types';
