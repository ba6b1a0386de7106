// Hikvision ISAPI and Dahua HTTP API recorders behind the driver interface (lib/vendors/driver.ts
// does the work). Camera tokens are "ch<N>" (the NVR's channel, 1-based).
import { openVendorSession, type VendorDriverName } from '../vendors/driver';
import type { SourceSession, SyncDriver } from './driver';

function vendorDriver(name: VendorDriverName): SyncDriver {
  return {
    name,
    async open(o): Promise<SourceSession> {
      const s = await openVendorSession(name, o.host, o.port, o.credentials, o.timeoutMs, o.signal, { acceptSelfSigned: o.acceptSelfSigned });
      return {
        driver: name,
        clockOffsetMs: s.clockOffsetMs,
        warnings: [],
        searchPartial: false,
        // The camera token is the NVR's channel ("ch3"): one recording per channel, no guessing.
        recordingChoice(camera) {
          return s.device.cameras.some((c) => c.token === camera.videoSourceToken)
            ? { recording: { token: camera.videoSourceToken }, reason: `channel ${camera.videoSourceToken.slice(2)}`, ambiguous: false }
            : undefined;
        },
        recordedRanges: async (rec, from, to) => ({ intervals: await s.recordedIntervals(rec.token, from, to), gapsVisible: true, partial: false }),
        // Vendor downloads always come as fast as the NVR sends: there is no rate to ask for.
        download: (rec, d) => s.download(rec.token, { from: d.from, to: d.to, naming: d.naming, onProgress: d.onProgress, signal: d.signal }),
      };
    },
  };
}

export const hikvisionDriver = vendorDriver('hikvision');
export const dahuaDriver = vendorDriver('dahua');
