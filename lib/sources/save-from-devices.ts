// Turning discovered devices into a saved source: pick the cameras, give each a folder in the
// working directory (stable across saves), create the folders, and save source + cameras +
// camera paths in one catalog transaction. nvr-source and `vtrack-onvif sync` both use this.
import type { Catalog, CameraInput, SavedSource } from '../catalog';
import { assignCameraFolders, ensureFolders, validateWorkingDirectory } from '../storage';
import type { CameraInfo, DiscoveredDevice } from '../onvif/types';

/** Which cameras: all of them, by display name, or by port + video source token. */
export type CameraSelection = 'all' | { names: string[] } | { keys: Array<{ port: number; token: string }> };

export interface SaveFromDevicesInput {
  name: string;
  host: string;
  ports: number[];
  devices: DiscoveredDevice[];
  selection: CameraSelection;
  workingDirectory: string;
  nodeId?: string | null;
  intervalMinutes?: number;
  adoptName?: boolean;
  /** How the source's recordings are reached (default: unchanged, 'onvif' for a new source). */
  driver?: string;
  /**
   * Recordings the user picked (cameraKey(port, token) → recording token), where the automatic
   * mapping was a guess. Saved as the camera's recording_token; the sync then takes that recording
   * before any automatic rule (lib/onvif/recording-map 'saved'). Cameras without one map automatically.
   */
  recordings?: Record<string, string>;
}

export const cameraKey = (port: number, token: string): string => `${port}/${token}`;

export interface PickedCamera {
  port: number;
  camera: CameraInfo;
}

/** The selected cameras of the devices, or an error that says what is missing. */
export function pickCameras(devices: DiscoveredDevice[], selection: CameraSelection): PickedCamera[] {
  const all = devices.flatMap((d) => d.cameras.map((camera) => ({ port: d.port, camera })));
  if (selection === 'all') return all;
  if ('names' in selection) {
    const wanted = new Set(selection.names);
    const picked = all.filter((c) => wanted.has(c.camera.name));
    const missing = selection.names.filter((n) => !picked.some((p) => p.camera.name === n));
    if (missing.length) throw new Error(`camera${missing.length > 1 ? 's' : ''} not found on the NVR: ${missing.join(', ')}`);
    return picked;
  }
  const wanted = new Set(selection.keys.map((k) => cameraKey(k.port, k.token)));
  const picked = all.filter((c) => wanted.has(cameraKey(c.port, c.camera.token)));
  if (picked.length < wanted.size) {
    const have = new Set(picked.map((p) => cameraKey(p.port, p.camera.token)));
    throw new Error(`selected cameras not found on the NVR: ${[...wanted].filter((k) => !have.has(k)).join(', ')}`);
  }
  return picked;
}

function pickedRecording(picks: Record<string, string> | undefined, key: string): string | null {
  const token = picks && Object.prototype.hasOwnProperty.call(picks, key) ? picks[key] : undefined;
  return typeof token === 'string' && token.trim() !== '' ? token.trim() : null;
}

export async function saveSourceFromDevices(catalog: Catalog, input: SaveFromDevicesInput): Promise<SavedSource> {
  const failing = input.devices.filter((d) => d.error && input.ports.includes(d.port));
  if (failing.length) throw new Error(failing.map((d) => d.error).join('; '));
  const picked = pickCameras(input.devices, input.selection);
  if (picked.length === 0) throw new Error('no cameras selected: pick at least one camera');
  const { path: workDir } = await validateWorkingDirectory(input.workingDirectory);

  // The owning node first: a renamed source keeps its cameras' folders.
  const prior = (input.nodeId ? catalog.getSourceByNodeId(input.nodeId) : undefined) ?? catalog.getSourceByName(input.name);
  const existing = new Map<string, string>();
  if (prior) for (const c of catalog.listCameras(prior.id)) existing.set(cameraKey(c.devicePort, c.videoSourceToken), c.folderPath);
  const folders = assignCameraFolders(
    workDir,
    picked.map((p) => ({ key: cameraKey(p.port, p.camera.token), name: p.camera.name })),
    existing,
  );
  await ensureFolders(workDir, folders.values());

  const cameras: CameraInput[] = picked.map(({ port, camera }) => {
    const main = camera.profiles[0];
    return {
      displayName: camera.name,
      devicePort: port,
      videoSourceToken: camera.token,
      profileToken: main?.token ?? '',
      codec: main?.encoding ?? '',
      width: main?.width ?? 0,
      height: main?.height ?? 0,
      fps: main?.fps ?? 0,
      folderPath: folders.get(cameraKey(port, camera.token)) as string,
      recordingToken: pickedRecording(input.recordings, cameraKey(port, camera.token)),
    };
  });
  const urn = input.devices.length === 1 ? (input.devices[0].urn ?? null) : null;
  return catalog.saveSource(
    {
      nodeId: input.nodeId ?? null,
      name: input.name,
      host: input.host,
      ports: input.ports,
      deviceUrn: urn,
      workingDirectory: workDir,
      intervalMinutes: input.intervalMinutes,
      driver: input.driver,
      cameras,
    },
    { adoptName: input.adoptName },
  );
}
