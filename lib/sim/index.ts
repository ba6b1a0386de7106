// The ONVIF NVR simulator: per device an HTTP SOAP server (+ RTSP server when available), one
// WS-Discovery responder for all devices. Everything listens on one host (loopback by default).
import { nvrPreset, seedPreset, vendorPreset } from './presets';
import { startVendorSim, type VendorSimOptions } from './vendor-sim';
import { RecordingTimeline } from './timeline';
import { SoapAuthenticator } from './soap-auth';
import { serviceUrl, type DeviceContext } from './soap-context';
import { deviceScopes } from './soap-device';
import { SearchStore } from './soap-search-sessions';
import { startSoapServer, type RunningSoapServer } from './soap-server';
import { startWsDiscoveryResponder, type WsDiscoveryResponder } from './ws-discovery-responder';
import { startRtspServer, type EndFaults, type ReplayFault } from './rtsp-server';
export { REPLAY_FAULTS, type ReplayFault } from './rtsp-server';
export { END_FAULTS, type EndFault, type EndFaults } from './rtsp-server';
import type { SimAuth, SimDeviceSpec } from './types';
import type { QuirkName } from './quirks';
import { withRecordedStreams } from './recordings';
import { errorMessage } from '../errors';

export type { SimAuth, SimCameraSpec, SimDeviceSpec, TimelineSpec } from './types';

export interface SimulatorOptions {
  /** Address every socket binds to. Default 127.0.0.1. */
  host?: string;
  /** hikvision / dahua: one NVR speaking that vendor's HTTP API (no ONVIF, no RTSP). */
  preset?: 'seed' | 'nvr' | 'hikvision' | 'dahua';
  /** Vendor presets: time zone and firmware quirks (lib/sim/vendor-sim.ts). */
  vendor?: VendorSimOptions;
  /** Explicit devices (instead of a preset). */
  devices?: SimDeviceSpec[];
  /** First SOAP port; seed devices use consecutive ports. 0 = ephemeral ports. Default 18000. */
  basePort?: number;
  /** NVR preset: number of channels. Default 4. */
  channels?: number;
  /** Recording history before now, minutes. Default 30. */
  historyMinutes?: number;
  /** Preset cameras' streams: 'low' = 360p H.264 at ~256 kbit/s for every camera. Default as listed. */
  quality?: 'default' | 'low';
  /** Credentials every operation but GetSystemDateAndTime requires; none when absent. */
  auth?: SimAuth;
  /** Device clock = real clock + this many seconds (reproduces camera clock skew). */
  clockOffsetSec?: number;
  /** WS-Discovery responder; false = none. Default { port: 3702 }. */
  discovery?: { port?: number; multicast?: boolean; announceTo?: { address: string; port: number }; replyPerDevice?: boolean } | false;
  /** Start the RTSP server per device (lib/sim/rtsp-server). Default true. */
  rtsp?: boolean;
  /** Misbehaviour to reproduce in tests and demos. `unreplayable` is read at each replay: a spec
   * may change its bounds while the simulator runs (an NVR fault that clears). */
  faults?: {
    /** The first N replay PLAY requests per device get 503 (replay sessions busy); with a
     * hikvision/dahua preset, the first N downloads are refused as busy. */
    busyReplays?: number;
    /** Replay in real time even when asked for Rate-Control: no. */
    ignoreRateControl?: boolean;
    /** The first `count` replays per device (default: all) end early after `afterFrames` frames. */
    replay?: { fault: ReplayFault; afterFrames?: number; count?: number };
    /** Frames in [fromSec, toSec) after each recording's start cannot be replayed (search still lists them). */
    unreplayable?: { fromSec: number; toSec: number };
    /** Replays start at the first keyframe at or after the asked start, not the one before it. */
    nextKeyframe?: boolean;
    /** How replays' connections end: reset after the last frame, reset mid-range (the first `remaining`
     * replays per device), TEARDOWN unanswered. */
    end?: EndFaults;
  };
  /** First RTSP port; device i gets rtspBasePort + i. Default: any free port. */
  rtspBasePort?: number;
  /** Real-device behaviours to reproduce (lib/sim/quirks.ts). */
  quirks?: Iterable<QuirkName>;
  /** Serve SOAP over HTTPS with this key and certificate (PEM): an HTTPS-only device. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Concurrent Find* searches per device. Default 4. */
  maxSearches?: number;
  /** Results per Get*SearchResults poll when the client sets no MaxResults. Default 10. */
  searchPageSize?: number;
  log?: (line: string) => void;
}

export interface RunningSimDevice {
  spec: SimDeviceSpec;
  host: string;
  port: number;
  rtspPort: number;
  /** http://host:port/onvif/device_service */
  xaddr: string;
  urn: string;
}

export interface RunningSimulator {
  devices: RunningSimDevice[];
  discoveryPort?: number;
  stop(): Promise<void>;
}

export function resolveDevices(o: SimulatorOptions): SimDeviceSpec[] {
  if (o.devices) return o.devices;
  const presetOpts = { basePort: o.basePort ?? 18000, historyMinutes: o.historyMinutes ?? 30, channels: o.channels ?? 4, quality: o.quality };
  const preset = o.preset ?? 'seed';
  if (preset === 'hikvision' || preset === 'dahua') return vendorPreset(preset, { ...presetOpts, channels: o.channels ?? 3 });
  return preset === 'nvr' ? nvrPreset(presetOpts) : seedPreset(presetOpts);
}

export async function startSimulator(opts: SimulatorOptions): Promise<RunningSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log;
  const offsetMs = (opts.clockOffsetSec ?? 0) * 1000;
  const deviceNow = (): Date => new Date(Date.now() + offsetMs);
  const specs = resolveDevices(opts);
  if ((opts.preset === 'hikvision' || opts.preset === 'dahua') && !opts.devices) return startVendorSim(opts.preset, specs[0], host, opts, log);
  const quirks = new Set<QuirkName>(opts.quirks ?? []);

  const closers: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order: discovery (Bye) first, then the servers it announced.
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        log?.(`stop: ${errorMessage(err)}`);
      }
    }
  };

  const devices: RunningSimDevice[] = [];
  try {
    for (const spec of specs) {
      let rtspPort = spec.rtspPort || 554;
      if (opts.rtsp !== false) {
        const rtsp = await startRtspServer({
          host,
          port: opts.rtspBasePort ? opts.rtspBasePort + devices.length : spec.rtspPort,
          auth: opts.auth,
          authScheme: quirks.has('basic-auth') ? 'basic' : undefined,
          // Recording r of a several-recordings device replays at /replay/REC_{r+1}: its stream is camera r here.
          device: withRecordedStreams(spec, quirks.has('several-recordings')),
          now: deviceNow,
          busyReplays: opts.faults?.busyReplays
            ? { remaining: opts.faults.busyReplays }
            : quirks.has('busy-453')
              ? { remaining: 2, status: '453 Not Enough Bandwidth' }
              : undefined,
          rateControl: opts.faults?.ignoreRateControl || quirks.has('real-time') ? 'ignore' : 'honour',
          quirks: { strictClock: quirks.has('strict-clock'), refuseRequire: quirks.has('refuse-onvif-replay'), noAbac: quirks.has('no-abac') },
          unreplayable: opts.faults?.unreplayable,
          replayStart: opts.faults?.nextKeyframe ? 'next-keyframe' : 'keyframe-before',
          // Per device, like replayFault: each server counts its own mid-range resets.
          endFaults: opts.faults?.end && { ...opts.faults.end, resetMid: opts.faults.end.resetMid && { ...opts.faults.end.resetMid } },
          replayFault: opts.faults?.replay
            ? { fault: opts.faults.replay.fault, afterFrames: opts.faults.replay.afterFrames ?? 150, remaining: opts.faults.replay.count ?? Infinity }
            : undefined,
        });
        closers.push(() => rtsp.close());
        rtspPort = rtsp.port;
      }
      const searches = new SearchStore({ maxConcurrent: opts.maxSearches ?? 4, pageSize: opts.searchPageSize ?? 10 });
      const ctx: DeviceContext = {
        spec,
        host,
        port: spec.port,
        rtspPort,
        now: deviceNow,
        timelines: spec.cameras.map((c) => new RecordingTimeline(c.recording, deviceNow)),
        searches,
        quirks,
        https: opts.tls !== undefined,
      };
      const soap: RunningSoapServer = await startSoapServer(host, spec.port, {
        ctx,
        authenticator: new SoapAuthenticator(opts.auth, deviceNow, quirks.has('basic-auth')),
        tls: opts.tls,
        log,
      });
      closers.push(async () => {
        searches.clear();
        await soap.close();
      });
      ctx.port = soap.port; // known only after listen when the spec asked for port 0
      const running: RunningSimDevice = { spec, host, port: soap.port, rtspPort, xaddr: serviceUrl(ctx, 'device'), urn: spec.urn };
      devices.push(running);
      log?.(`device "${spec.name}" at ${running.xaddr} (rtsp ${rtspPort}, ${spec.cameras.length} camera(s))`);
    }

    let discoveryPort: number | undefined;
    if (opts.discovery !== false) {
      const d = opts.discovery ?? {};
      const responder: WsDiscoveryResponder = await startWsDiscoveryResponder({
        host,
        port: d.port ?? 3702,
        multicast: d.multicast ?? false,
        announceTo: d.announceTo,
        replyPerDevice: d.replyPerDevice,
        devices: () => devices.map((x) => ({ urn: x.urn, xaddrs: [x.xaddr], scopes: deviceScopes(x.spec) })),
        log,
      });
      closers.push(() => responder.close());
      discoveryPort = responder.port;
      log?.(`ws-discovery on udp ${host}:${discoveryPort}${d.multicast ? ' (+ multicast)' : ''}`);
    }
    return { devices, discoveryPort, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
