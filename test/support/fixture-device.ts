// A loopback HTTP server that answers SOAP requests with recorded replies of real devices
// (test/fixtures/devices/<device>/<service>.<Operation>.xml). An operation without a file gets an
// ActionNotSupported fault (ours, not the device's). Records the operations asked for.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceServices } from '../../lib/onvif/types';

export const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'devices');

const SERVICE_BY_PATH: Record<string, string> = {
  device_service: 'device',
  media_service: 'media',
  media2_service: 'media2',
  search_service: 'search',
  recording_service: 'recording',
  replay_service: 'replay',
};

export interface FixtureDevice {
  port: number;
  base: string;
  /** "service.Operation" in the order asked. */
  ops: string[];
  /** Service addresses on this server (as GetServices would give them). */
  services(which: Array<keyof Omit<DeviceServices, 'device' | 'profileG'>>): DeviceServices;
  close(): Promise<void>;
}

const FAULT =
  '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error">' +
  '<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:ActionNotSupported</s:Value></s:Subcode></s:Code>' +
  '<s:Reason><s:Text xml:lang="en">not recorded for this device</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>';

/** Local name of the first element inside s:Body of a request. */
export function operationOf(body: string): string {
  const m = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([\w-]+)/.exec(body);
  return m ? m[1] : '';
}

/**
 * `ours`: answers we write ourselves for operations the public capture lacks (say so in the spec),
 * keyed "service.Operation".
 */
export async function startFixtureDevice(device: string, ours: Record<string, string> = {}): Promise<FixtureDevice> {
  const dir = join(FIXTURES, device);
  if (!existsSync(dir)) throw new Error(`no fixtures for ${device}`);
  const ops: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const service = SERVICE_BY_PATH[(req.url ?? '').split('/').pop() ?? ''] ?? 'device';
      const op = operationOf(Buffer.concat(chunks).toString('utf8'));
      ops.push(`${service}.${op}`);
      const file = join(dir, `${service}.${op}.xml`);
      const own = ours[`${service}.${op}`];
      const found = existsSync(file) || own !== undefined;
      const body = existsSync(file) ? readFileSync(file) : Buffer.from(own ?? FAULT);
      res.writeHead(found ? 200 : 400, { 'Content-Type': 'application/soap+xml; charset=utf-8', 'Content-Length': body.length });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}/onvif`;
  return {
    port,
    base,
    ops,
    services: (which) => {
      const s: DeviceServices = { device: `${base}/device_service`, profileG: false };
      for (const w of which) s[w] = `${base}/${w}_service`;
      s.profileG = Boolean(s.search && s.replay);
      return s;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
