// HTTPS devices: an https XAddr is spoken over TLS; a self-signed certificate is refused unless the
// source opts in ("accept self-signed certificate", off by default), with a message saying so.
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
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

  it('an HTTPS-only port that drops plain HTTP (reset) or answers it with an HTML 400 (nginx) is reached over https on the same port', async () => {
    const port = (server.address() as AddressInfo).port;
    // Node's TLS server resets a plain HTTP request: probeClock tries https on the same port.
    const reset = await probeClock(`http://127.0.0.1:${port}/onvif/device_service`, 3000, undefined, { acceptSelfSigned: true });
    assert.equal(reset.url, url);
    // nginx answers plain HTTP on its TLS port with 400 "The plain HTTP request was sent to HTTPS port":
    // one port serving both (TLS records start with 0x16: relayed to the TLS server).
    const open = new Set<Socket>();
    const front = createNetServer((sock) => {
      open.add(sock);
      sock.once('data', (first: Buffer) => {
        if (first[0] === 0x16) {
          const tls = connect(port, '127.0.0.1', () => {
            open.add(tls);
            tls.write(first);
            sock.pipe(tls).pipe(sock);
          });
          tls.on('error', () => sock.destroy());
          sock.on('error', () => tls.destroy());
        } else {
          const body = '<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>';
          sock.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        }
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      const p = (front.address() as AddressInfo).port;
      await assert.rejects(
        probeClock(`http://127.0.0.1:${p}/onvif/device_service`, 3000),
        (e: unknown) => e instanceof OnvifError && /not trusted .*accept self-signed certificate/.test(e.message),
        'the TLS answer (an untrusted certificate) is the one reported, not the 400',
      );
      const c = await probeClock(`http://127.0.0.1:${p}/onvif/device_service`, 3000, undefined, { acceptSelfSigned: true });
      assert.equal(c.url, `https://127.0.0.1:${p}/onvif/device_service`);
    } finally {
      // Keep-alive relays would hold close() open.
      for (const x of open) x.destroy();
      await new Promise<void>((r) => front.close(() => r()));
    }
  });

  it('a plain HTTP port that is not ONVIF keeps its own error (the https try does not hide it)', async () => {
    const plain = createNetServer((sock) => sock.once('data', () => sock.destroy()));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const p = (plain.address() as AddressInfo).port;
      await assert.rejects(
        probeClock(`http://127.0.0.1:${p}/onvif/device_service`, 3000, undefined, { acceptSelfSigned: true }),
        (e: unknown) => e instanceof OnvifError && e.code === 'not-onvif' && e.message.startsWith(`http://127.0.0.1:${p}/`),
      );
    } finally {
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });

  it('port 443 targets use https', () => {
    assert.equal(deviceServiceUrl({ host: '192.0.2.1', port: 443 }), 'https://192.0.2.1:443/onvif/device_service');
    assert.equal(deviceServiceUrl({ host: '192.0.2.1', port: 80 }), 'http://192.0.2.1:80/onvif/device_service');
  });
});
