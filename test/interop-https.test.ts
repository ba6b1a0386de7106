// HTTPS devices: an https XAddr is spoken over TLS; a self-signed certificate is refused unless the
// source opts in ("accept self-signed certificate", off by default), with a message saying so.
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { deviceServiceUrl, getServices, probeClock } from '../lib/onvif/device';
import { OnvifError } from '../lib/onvif/errors';
import { clockReply, soapEnvelope, soapOperation } from './support/hostile-peers';

// A throw-away self-signed certificate for 127.0.0.1, made for this spec only (openssl req -x509).
const TLS = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');

describe('interop: HTTPS devices', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer({ key: readFileSync(path.join(TLS, 'selfsigned.key')), cert: readFileSync(path.join(TLS, 'selfsigned.crt')) }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const op = soapOperation(body);
        const port = (server.address() as AddressInfo).port;
        const reply =
          op === 'GetSystemDateAndTime'
            ? clockReply()
            : soapEnvelope(
                '<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/search/wsdl</tds:Namespace>' +
                  `<tds:XAddr>https://10.0.0.9:${port}/onvif/search_service</tds:XAddr></tds:Service></tds:GetServicesResponse>`,
              );
        res.writeHead(200, { 'Content-Type': 'application/soap+xml' });
        res.end(reply);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/onvif/device_service`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('a self-signed certificate is refused by default, with what to change', async () => {
    await assert.rejects(probeClock(url, 3000), (e: unknown) => e instanceof OnvifError && /not trusted .*accept self-signed certificate/.test(e.message));
  });

  it('accepted with the per-source opt-in; service addresses stay https on the address we reached', async () => {
    const c = await probeClock(url, 3000, undefined, { acceptSelfSigned: true });
    assert.ok(Math.abs(c.clockOffsetMs) < 5000);
    const s = await getServices(url, { clockOffsetMs: 0, timeoutMs: 3000, acceptSelfSigned: true });
    assert.equal(s.search, url.replace('device_service', 'search_service'));
  });

  it('port 443 targets use https', () => {
    assert.equal(deviceServiceUrl({ host: '192.0.2.1', port: 443 }), 'https://192.0.2.1:443/onvif/device_service');
    assert.equal(deviceServiceUrl({ host: '192.0.2.1', port: 80 }), 'http://192.0.2.1:80/onvif/device_service');
  });
});
