// Public surface of the ONVIF client side.
export { discover, type DiscoverOptions } from './discovery';
export { parseTargets, type Target } from './targets';
export { OnvifError, type OnvifErrorCode } from './errors';
export type { DiscoveredDevice, CameraInfo, VideoProfile, DeviceServices } from './types';
export { doctor, checkDevice, type DoctorOptions, type DoctorReport, type DoctorCamera, type DoctorProblem } from './doctor';
export { mapRecordings, type RecordingChoice, type CameraRef, type MappingRule } from './recording-map';
