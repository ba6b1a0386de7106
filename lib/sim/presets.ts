// Ready-made device sets. `seed` reproduces the seed project's three mock cameras, one device
// each on consecutive ports; `nvr` is one recorder exposing N cameras as channels on one port,
// cycling through the seed cameras and a Motion-JPEG one (NVR_CAMERAS).
import type { SimCameraSpec, SimDeviceSpec, TimelineSpec } from './types';

export interface PresetOptions {
  basePort: number;
  /** Recording history before now, in minutes (recordings then keep growing). */
  historyMinutes: number;
  /** NVR preset: number of channels. */
  channels: number;
  /** 'low': every camera serves LOW_CAMERA's 360p ~256 kbit/s H.264 clip instead (many-channel scale runs). */
  quality?: 'default' | 'low';
  now?: Date;
}

export const SEED_CAMERAS: ReadonlyArray<Omit<SimCameraSpec, 'recording'>> = [
  { name: 'Front Door Camera', codec: 'H264', width: 1920, height: 1080, fps: 15, bitrateKbps: 1024, clip: 'front-door-1080p-h264' },
  { name: 'Parking Lot Camera', codec: 'H265', width: 1280, height: 720, fps: 15, bitrateKbps: 512, clip: 'parking-720p-h265' },
  { name: 'Warehouse Camera', codec: 'MPEG4', width: 800, height: 600, fps: 15, bitrateKbps: 512, clip: 'warehouse-600p-mpeg4' },
];

/** A Motion-JPEG camera (RFC 2435), only on the NVR: the seed preset stays the seed project's three. */
export const LOADING_DOCK_CAMERA: Omit<SimCameraSpec, 'recording'> = {
  name: 'Loading Dock Camera',
  codec: 'JPEG',
  width: 640,
  height: 480,
  fps: 5,
  bitrateKbps: 800,
  clip: 'loading-dock-480p-jpeg',
};

/** `--quality low`: a 640x360 H.264 camera at ~256 kbit/s (scripts/make-clips.sh), for runs with
 * many channels where the point is the number of sessions and files, not the bytes. */
export const LOW_CAMERA: Omit<SimCameraSpec, 'recording' | 'name'> = {
  codec: 'H264',
  width: 640,
  height: 360,
  fps: 15,
  bitrateKbps: 256,
  clip: 'low-360p-h264',
};

/** A camera of the preset at the chosen quality (low keeps the name, swaps the stream). */
function atQuality(cam: Omit<SimCameraSpec, 'recording'>, o: PresetOptions): Omit<SimCameraSpec, 'recording'> {
  return o.quality === 'low' ? { ...LOW_CAMERA, name: cam.name } : cam;
}

/** The NVR's channels cycle through these: channel 4 (of the default 4) is the JPEG camera. */
export const NVR_CAMERAS: ReadonlyArray<Omit<SimCameraSpec, 'recording'>> = [...SEED_CAMERAS, LOADING_DOCK_CAMERA];

/** Recording start aligned to a whole minute so segment boundaries fall on keyframes. */
export function historyStart(historyMinutes: number, now = new Date()): Date {
  const t = now.getTime() - historyMinutes * 60_000;
  return new Date(Math.floor(t / 60_000) * 60_000);
}

function uuidFor(seed: string): string {
  // Stable per name+port so a restarted simulator keeps its identity, like real hardware.
  let h = 0x811c9dc5;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const ch of `${round}:${seed}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `urn:uuid:${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

export function seedPreset(o: PresetOptions): SimDeviceSpec[] {
  const start = historyStart(o.historyMinutes, o.now);
  return SEED_CAMERAS.map((cam, i) => {
    // The warehouse camera records on motion, so its recording has gaps.
    const recording: TimelineSpec = i === 2 ? { start, gaps: { onSec: 240, offSec: 120 } } : { start };
    const port = o.basePort === 0 ? 0 : o.basePort + i;
    return {
      name: cam.name,
      manufacturer: 'VTrack Simulator',
      model: 'SIM-CAM-1',
      firmware: '1.0.0',
      serial: `SIMCAM${String(i + 1).padStart(4, '0')}`,
      hardware: 'SIM-CAM-1',
      location: 'loopback',
      urn: uuidFor(`seed:${cam.name}:${port}`),
      port,
      rtspPort: 0,
      cameras: [{ ...atQuality(cam, o), recording }],
    };
  });
}

export function nvrPreset(o: PresetOptions): SimDeviceSpec[] {
  const start = historyStart(o.historyMinutes, o.now);
  const cameras: SimCameraSpec[] = [];
  for (let i = 0; i < o.channels; i++) {
    const base = NVR_CAMERAS[i % NVR_CAMERAS.length];
    cameras.push({
      ...atQuality(base, o),
      name: `Channel ${i + 1} ${base.name.replace(/ Camera$/, '')}`,
      // The warehouse camera records on motion here too.
      recording: i % NVR_CAMERAS.length === 2 ? { start, gaps: { onSec: 240, offSec: 120 } } : { start },
    });
  }
  return [
    {
      name: 'VTrack Sim NVR',
      manufacturer: 'VTrack Simulator',
      model: 'SIM-NVR-16',
      firmware: '1.0.0',
      serial: 'SIMNVR0001',
      hardware: 'SIM-NVR-16',
      location: 'loopback',
      urn: uuidFor(`nvr:${o.basePort}`),
      port: o.basePort,
      rtspPort: 0,
      cameras,
    },
  ];
}

/** Channels of the vendor presets (Hikvision, Dahua): PS and DHAV carry H.264/H.265 here, and the
 * warehouse records on motion (its second clip is the front door's H.264 one). */
export const VENDOR_CAMERAS: ReadonlyArray<Omit<SimCameraSpec, 'recording'>> = [
  { name: 'Front Door', codec: 'H264', width: 1920, height: 1080, fps: 15, bitrateKbps: 1024, clip: 'front-door-1080p-h264' },
  { name: 'Parking Lot', codec: 'H265', width: 1280, height: 720, fps: 15, bitrateKbps: 512, clip: 'parking-720p-h265' },
  { name: 'Warehouse', codec: 'H264', width: 1920, height: 1080, fps: 15, bitrateKbps: 1024, clip: 'front-door-1080p-h264' },
];

export function vendorPreset(vendor: 'hikvision' | 'dahua', o: PresetOptions): SimDeviceSpec[] {
  const start = historyStart(o.historyMinutes, o.now);
  const cameras = VENDOR_CAMERAS.slice(0, Math.max(1, Math.min(o.channels, VENDOR_CAMERAS.length))).map((c, i) => ({
    ...c,
    recording: i === 2 ? { start, gaps: { onSec: 240, offSec: 120 } } : { start },
  }));
  const hik = vendor === 'hikvision';
  return [
    {
      name: hik ? 'VTrack Sim Hikvision NVR' : 'VTrack Sim Dahua NVR',
      manufacturer: 'VTrack Simulator',
      model: hik ? 'DS-7608NI-SIM' : 'DHI-NVR4108-SIM',
      firmware: '1.0.0',
      serial: hik ? 'DS-7608NI-SIM0120261202CCRRSIM0001' : '9A0SIM0001',
      hardware: hik ? 'DS-7608NI-SIM' : 'NVR4108-SIM',
      location: 'loopback',
      urn: uuidFor(`${vendor}:${o.basePort}`),
      port: o.basePort,
      rtspPort: 0,
      cameras,
    },
  ];
}
