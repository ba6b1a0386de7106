// Robustness of the ONVIF client against broken and hostile devices: every bad reply becomes a
// clear OnvifError (soapCall) or a per-device error (discover), within the timeouts, with nothing
// escaping as an uncaught exception or unhandled rejection.
import { strict as assert } from 'node:assert';
import type { Socket } from 'node:net';
import { soapCall } from '../lib/onvif/soap';
import { OnvifError } from '../lib/onvif/errors';
import { discover } from '../lib/onvif/discovery';
import type { DiscoveredDevice } from '../lib/onvif/types';
import {
  EscapeWatch,
  clockReply,
  httpReply,
  settleWithin,
  soapEnvelope,
  soapOperation,
  startHostileServer,
  type HostileServer,
  type RawRequest,
} from './support/hostile-peers';

const watch = new EscapeWatch();
let servers: HostileServer[] = [];

async function serve(respond: (sock: Socket, req: RawRequest, n: number) => void, onConnect?: (sock: Socket) => void): Promise<HostileServer> {
  const s = await startHostileServer(respond, onConnect);
  servers.push(s);
  return s;
}

const deviceUrl = (s: HostileServer) => `http://127.0.0.1:${s.port}/onvif/device_service`;

/** soapCall must reject with an OnvifError of `code` whose message matches `message`, in time. */
async function expectSoapError(
  s: HostileServer,
  code: OnvifError['code'],
  message: RegExp,
  o: Parameters<typeof soapCall>[2] = {},
  withinMs = 3000,
): Promise<OnvifError> {
  const r = await settleWithin(withinMs, soapCall(deviceUrl(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 1000, ...o }), 'soapCall');
  assert.equal(r.ok, false, 'a broken reply must not be accepted');
  if (r.ok) throw new Error('unreachable');
  assert.ok(r.error instanceof OnvifError, `expected an OnvifError, got ${r.error.name}: ${r.error.message}`);
  assert.equal(r.error.code, code, r.error.message);
  assert.match(r.error.message, message);
  return r.error;
}

/** discover() against one hostile target: exactly one device with an error, never a rejection. */
async function discoverOne(s: HostileServer, o: Partial<Parameters<typeof discover>[0]> = {}, withinMs = 6000): Promise<DiscoveredDevice> {
  const r = await settleWithin(withinMs, discover({ targets: `127.0.0.1:${s.port}`, timeoutMs: 1000, user: 'admin', password: 'pw', ...o }), 'discover');
  if (!r.ok) throw new Error(`discover rejected for a device problem: ${r.error.message}`);
  assert.equal(r.value.length, 1, 'one result per target');
  return r.value[0];
}

/** An ONVIF-looking device whose other operations are answered by `rest`. */
function deviceWith(rest: (op: string, sock: Socket) => void) {
  return (sock: Socket, req: RawRequest) => {
    const op = soapOperation(req.body);
    if (op === 'GetSystemDateAndTime') return void sock.end(httpReply(200, clockReply()));
    rest(op, sock);
  };
}

const services = (port: number) =>
  soapEnvelope(
    '<tds:GetServicesResponse>' +
      `<tds:Service><tds:Namespace>http://www.onvif.org/ver20/media/wsdl</tds:Namespace><tds:XAddr>http://10.9.9.9:${port}/onvif/media2_service</tds:XAddr></tds:Service>` +
      '</tds:GetServicesResponse>',
  );

describe('robustness: ONVIF client against hostile devices (loopback)', function () {
  this.timeout(15_000);
  before(() => watch.install());
  after(() => watch.uninstall());
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
    watch.assertNone();
  });

  describe('soapCall', () => {
    it('garbage bytes instead of HTTP → not-onvif', async () => {
      const s = await serve((sock) => sock.end(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x0d, 0x0a, 0x0d])));
      await expectSoapError(s, 'not-onvif', /not with HTTP\/SOAP|not an ONVIF service/);
    });

    it('an HTML page → not-onvif, naming the HTTP status', async () => {
      const s = await serve((sock) => sock.end(httpReply(200, '<html><body><h1>Router login</h1></body></html>', { 'Content-Type': 'text/html' })));
      await expectSoapError(s, 'not-onvif', /HTTP 200 without a SOAP envelope/);
    });

    it('a binary body with a SOAP content type → not-onvif', async () => {
      const s = await serve((sock) => sock.end(httpReply(200, Buffer.from([0x3c, 0x00, 0xff, 0x3c, 0x3c, 0x3e]))));
      await expectSoapError(s, 'not-onvif', /without a SOAP envelope|not XML/);
    });

    it('an endless body stops at maxBytes with a protocol error', async () => {
      const s = await serve((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const head = Buffer.from(chunk.length.toString(16) + '\r\n');
        let sent = 0;
        // Bounded: stops by itself after 64 MB, or as soon as the client hangs up.
        const pump = () => {
          while (!sock.destroyed && sent < 1024) {
            sent++;
            if (!sock.write(Buffer.concat([head, chunk, Buffer.from('\r\n')]))) return void sock.once('drain', pump);
          }
        };
        pump();
      });
      await expectSoapError(s, 'protocol', /reply larger than 262144 bytes/, { maxBytes: 256 * 1024 });
    });

    it('a body that never finishes → timeout that says the reply did not complete', async () => {
      const s = await serve((sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 5000\r\n\r\n<s:Envelope'));
      const e = await expectSoapError(s, 'timeout', /reply did not complete within 500 ms/, { timeoutMs: 500 });
      assert.doesNotMatch(e.message, /not an ONVIF service/, 'headers arrived: it is HTTP, just stuck');
    });

    it('a port that accepts and never speaks → not-onvif after the timeout', async () => {
      const s = await serve(() => undefined);
      await expectSoapError(s, 'not-onvif', /sent no HTTP reply within 400 ms/, { timeoutMs: 400 });
    });

    it('a socket closed in the middle of the reply → a clear error, not a hang', async () => {
      const s = await serve((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 4000\r\n\r\n<s:Envelope><s:Bo');
        setTimeout(() => sock.destroy(), 20);
      });
      const r = await settleWithin(3000, soapCall(deviceUrl(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000 }));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.ok(r.error instanceof OnvifError);
      assert.match(r.error.message, /closed the connection in the middle of the reply/);
      assert.ok(r.ms < 1500, `failed at once, not at the timeout (${r.ms} ms)`);
    });

    it('a 500 with a SOAP fault → protocol error carrying the fault reason and subcode', async () => {
      const fault =
        '<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>ter:ActionNotSupported</s:Value></s:Subcode></s:Code>' +
        '<s:Reason><s:Text xml:lang="en">Optional Action Not Implemented</s:Text></s:Reason></s:Fault>';
      const s = await serve((sock) => sock.end(httpReply(500, soapEnvelope(fault))));
      const e = await expectSoapError(s, 'protocol', /SOAP fault Optional Action Not Implemented/);
      assert.equal(e.details?.fault, 'Receiver/ActionNotSupported');
      assert.equal(e.details?.status, 500);
    });

    it('a fault with an empty or odd structure still yields an error, not a TypeError', async () => {
      const s = await serve((sock) => sock.end(httpReply(500, soapEnvelope('<s:Fault><s:Code><s:Subcode/></s:Code><s:Reason/></s:Fault>'))));
      await expectSoapError(s, 'protocol', /SOAP fault/);
    });

    it('a 401 without a challenge → auth error', async () => {
      const s = await serve((sock) => sock.end(httpReply(401, '')));
      await expectSoapError(s, 'auth', /authentication failed \(HTTP 401\)/, { credentials: { user: 'a', password: 'b' } });
    });

    for (const [label, challenge] of [
      ['no nonce', 'Digest realm="x", qop="auth"'],
      ['an unknown algorithm and qop', 'Digest realm="x", nonce="n", algorithm=KANGAROO-12, qop="auth-int, bogus"'],
      ['unterminated quotes', 'Digest realm="x, nonce="abc'],
      ['Basic only', 'Basic realm="cam"'],
      ['an empty value', 'Digest'],
    ] as const) {
      it(`a 401 challenge with ${label} → auth error, no throw`, async () => {
        const s = await serve((sock) => sock.end(httpReply(401, '', { 'WWW-Authenticate': challenge })));
        // Basic only names the opt-in it would need (security spec); the others fail as such.
        const e = await expectSoapError(s, 'auth', /authentication failed|only HTTP Basic/, { credentials: { user: 'a', password: 'b' } });
        assert.equal(e.details?.status, 401);
      });
    }

    it('a redirect is not followed: not-onvif naming the status', async () => {
      const s = await serve((sock) => sock.end(httpReply(302, '', { Location: 'http://127.0.0.1:1/elsewhere' })));
      await expectSoapError(s, 'not-onvif', /HTTP 302/);
    });

    it('a Content-Length shorter than the promised body → clear error, not a hang', async () => {
      const s = await serve((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n<s:Envelope/>'));
      const r = await settleWithin(3000, soapCall(deviceUrl(s), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000 }));
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.error instanceof OnvifError, r.error.message);
    });

    it('XML bombs (deep nesting, entity expansion) are rejected or bounded', async () => {
      const deep = '<a>'.repeat(50_000) + '</a>'.repeat(50_000);
      const s = await serve((sock) => sock.end(httpReply(200, deep)));
      await expectSoapError(s, 'not-onvif', /not XML|without a SOAP envelope/);
      const lol =
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">' +
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>' +
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&f;&f;&f;&f;&f;&f;&f;&f;</x></s:Body></s:Envelope>';
      const s2 = await serve((sock) => sock.end(httpReply(200, lol)));
      const r = await settleWithin(3000, soapCall(deviceUrl(s2), '<tds:GetSystemDateAndTime/>', { timeoutMs: 2000 }));
      // Either refused, or parsed without expanding the entities into megabytes.
      if (r.ok) assert.ok(JSON.stringify(r.value).length < 100_000, 'entities were not expanded');
      else assert.ok(r.error instanceof OnvifError, r.error.message);
    });
  });

  describe('discover() — one per-device error for each broken device, never a rejection', () => {
    it('garbage, HTML, silence and a mid-reply close: each target gets its own error, all within the timeout', async () => {
      const garbage = await serve((sock) => sock.end(Buffer.from('\u0000\u0001SSH-2.0-dropbear\r\n')));
      const html = await serve((sock) => sock.end(httpReply(200, '<!doctype html><title>NAS</title>', { 'Content-Type': 'text/html' })));
      const silent = await serve(() => undefined);
      const cut = await serve((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n<s:Env');
        setTimeout(() => sock.destroy(), 10);
      });
      const noClock = await serve((sock) => sock.end(httpReply(200, soapEnvelope('<tds:GetSystemDateAndTimeResponse/>'))));
      const all = [garbage, html, silent, cut, noClock];
      const r = await settleWithin(5000, discover({ targets: all.map((s) => `127.0.0.1:${s.port}`).join(' '), timeoutMs: 1000 }), 'discover');
      if (!r.ok) throw new Error(`discover rejected: ${r.error.message}`);
      assert.equal(r.value.length, all.length);
      for (const s of all) {
        const d: DiscoveredDevice | undefined = r.value.find((x) => x.port === s.port);
        assert.ok(d, `a result for port ${s.port}`);
        assert.ok(d.error, `port ${s.port} has an error`);
        assert.ok(d.errorCode);
        assert.deepEqual(d.cameras, []);
      }
      assert.match(r.value.find((x) => x.port === noClock.port)?.error ?? '', /without SystemDateAndTime/);
    });

    it('a clock reply with non-numeric or missing fields is accepted with offset 0 (assume in sync)', async () => {
      const odd = soapEnvelope(
        '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Date><tt:Year>twenty</tt:Year></tt:Date></tt:UTCDateTime>' +
          '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
      );
      const s = await serve((sock) => sock.end(httpReply(200, odd)));
      const d = await discoverOne(s, { details: false });
      assert.equal(d.error, undefined);
      assert.equal(d.clockOffsetMs, 0);
    });

    it('a clock reply with an absurd date does not give NaN or an Invalid Date offset', async () => {
      const absurd = soapEnvelope(
        '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:UTCDateTime><tt:Date><tt:Year>999999999</tt:Year><tt:Month>99</tt:Month><tt:Day>-4</tt:Day></tt:Date>' +
          '<tt:Time><tt:Hour>77</tt:Hour><tt:Minute>0</tt:Minute><tt:Second>0</tt:Second></tt:Time></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
      );
      const s = await serve((sock) => sock.end(httpReply(200, absurd)));
      const d = await discoverOne(s, { details: false });
      assert.ok(Number.isFinite(d.clockOffsetMs), `offset is a number (${d.clockOffsetMs})`);
    });

    it('profiles without an encoder, with non-numeric sizes, and a huge list: cameras listed, odd values become 0', async () => {
      let port = 0;
      const profile = (i: number, enc: string) =>
        `<tr2:Profiles token="p${i}"><tt:Name>P${i}</tt:Name><tr2:Configurations>` +
        `<tr2:VideoSource token="vs"><tt:Name>Cam ${i % 3}</tt:Name><tt:SourceToken>src${i % 3}</tt:SourceToken></tr2:VideoSource>${enc}` +
        '</tr2:Configurations></tr2:Profiles>';
      const encoder =
        '<tr2:VideoEncoder token="e"><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>wide</tt:Width><tt:Height>-</tt:Height></tt:Resolution>' +
        '<tt:RateControl><tt:FrameRateLimit>NaN</tt:FrameRateLimit><tt:BitrateLimit>Infinity</tt:BitrateLimit></tt:RateControl></tr2:VideoEncoder>';
      // ~1.8 MB: as large as a reply may be (MAX_REPLY_BYTES, 2 MB).
      const profiles = Array.from({ length: 5_000 }, (_, i) => profile(i, i % 2 ? encoder : '')).join('');
      const s = await serve(
        deviceWith((op, sock) => {
          if (op === 'GetServices') return void sock.end(httpReply(200, services(port)));
          if (op === 'GetProfiles') return void sock.end(httpReply(200, soapEnvelope(`<tr2:GetProfilesResponse>${profiles}</tr2:GetProfilesResponse>`)));
          if (op === 'GetDeviceInformation')
            return void sock.end(
              httpReply(
                200,
                soapEnvelope('<tds:GetDeviceInformationResponse><tds:Manufacturer><b>nested</b></tds:Manufacturer></tds:GetDeviceInformationResponse>'),
              ),
            );
          sock.end(httpReply(400, soapEnvelope('<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text>no</s:Text></s:Reason></s:Fault>')));
        }),
      );
      port = s.port;
      const d = await discoverOne(s);
      assert.equal(d.error, undefined, d.error);
      assert.equal(d.cameras.length, 3, 'grouped by source token');
      const all = d.cameras.flatMap((c) => c.profiles);
      // A video source without an encoder is still a channel (Hikvision NVR DS-7732NI-I4, agsh/onvif#369).
      assert.equal(all.length, 5_000, 'profiles without an encoder are kept');
      for (const p of all.slice(0, 50)) {
        assert.equal(p.width, 0);
        assert.equal(p.height, 0);
        assert.equal(p.fps, 0);
        assert.equal(p.bitrateKbps, undefined);
      }
      assert.equal(d.manufacturer, undefined, 'an element where text was expected is ignored');
      assert.equal(d.services?.media2, `http://127.0.0.1:${s.port}/onvif/media2_service`, 'rebased onto the address we reached');
    });

    it('a device that answers the clock but then streams forever on the next call: per-device timeout error, discover finishes', async () => {
      const s = await serve(
        deviceWith((_op, sock) => {
          sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 100000\r\n\r\n<s:Envelope>');
          // ...and never the rest.
        }),
      );
      const started = Date.now();
      const d = await discoverOne(s, { timeoutMs: 600, detailsTimeoutMs: 1500 }, 5000);
      assert.equal(d.errorCode, 'timeout', d.error);
      assert.match(d.error ?? '', /within 1500 ms/);
      assert.ok(Date.now() - started < 3500, `bounded by the per-device budget (${Date.now() - started} ms)`);
    });

    it('GetServices with garbage and GetCapabilities with a fault: an error on the device, no throw', async () => {
      const s = await serve(
        deviceWith((op, sock) => {
          if (op === 'GetServices') return void sock.end(httpReply(200, 'garbage <<<'));
          sock.end(httpReply(500, soapEnvelope('<s:Fault><s:Reason><s:Text>busy</s:Text></s:Reason></s:Fault>')));
        }),
      );
      const d = await discoverOne(s);
      assert.ok(d.error, 'the device carries the error');
      assert.equal(d.onvif, true, 'it did answer the clock like ONVIF');
    });

    it('service addresses that are not URLs are kept out of the rebase without a throw', async () => {
      const s = await serve(
        deviceWith((op, sock) => {
          if (op === 'GetServices') {
            return void sock.end(
              httpReply(
                200,
                soapEnvelope(
                  '<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/search/wsdl</tds:Namespace><tds:XAddr>::not a url::</tds:XAddr></tds:Service></tds:GetServicesResponse>',
                ),
              ),
            );
          }
          if (op === 'GetProfiles') return void sock.end(httpReply(200, soapEnvelope('<trt:GetProfilesResponse/>')));
          sock.end(httpReply(200, soapEnvelope('<tds:X/>')));
        }),
      );
      const d = await discoverOne(s);
      assert.deepEqual(d.cameras, []);
      assert.equal(d.services?.profileG, false);
    });
  });
});
