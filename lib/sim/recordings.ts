// Which recordings a simulated device lists. Normally one per camera (REC_n of camera n). Quirk
// several-recordings: each camera also has a sub-stream recording (NVRs that record main and sub
// stream separately list both under the camera's SourceId), recording r >= cameras being camera
// r - cameras at LOW_CAMERA's 640x360 H.264, so a file shows which recording it came from. Quirk
// foreign-source-id: SourceIds (and recording-job sources) that name no video source or profile,
// and the list in reverse channel order, so only the order is left to pair them — and it pairs them wrongly.
import type { DeviceContext } from './soap-context';
import { LOW_CAMERA } from './presets';
import type { SimDeviceSpec } from './types';

/** Number of recordings the device lists. */
export function recordingCount(ctx: DeviceContext): number {
  const n = ctx.spec.cameras.length;
  return ctx.quirks?.has('several-recordings') ? 2 * n : n;
}

/** The camera (index) recording r records. */
export function cameraOfRecording(ctx: DeviceContext, r: number): number {
  return r % ctx.spec.cameras.length;
}

/** Recording indexes in the order the device lists them. */
export function listedRecordings(ctx: DeviceContext): number[] {
  const all = Array.from({ length: recordingCount(ctx) }, (_, r) => r);
  return ctx.quirks?.has('foreign-source-id') ? all.reverse() : all;
}

/** Quirk foreign-source-id: the id the device uses for recording r's source (in recordings and jobs alike). */
export function foreignSourceId(ctx: DeviceContext, r: number): string {
  return `${ctx.spec.serial}:input${r + 1}`;
}

/** The device as its RTSP server sees it: with several-recordings, camera r >= n is the sub stream of camera r - n. */
export function withRecordedStreams(spec: SimDeviceSpec, several: boolean): SimDeviceSpec {
  if (!several) return spec;
  const subs = spec.cameras.map((c) => ({ ...c, ...LOW_CAMERA, name: `${c.name} (sub stream)` }));
  return { ...spec, cameras: [...spec.cameras, ...subs] };
}
