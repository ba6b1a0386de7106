// Robustness of WS-Discovery on both sides: our client against a hostile responder (junk, replies
// to someone else's probe, missing XAddrs, huge datagrams, floods of duplicates), and the
// simulator's responder against junk and probe floods. Directed probes on 127.0.0.1 only.
import { strict as assert } from 'node:assert';
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { wsDiscover } from '../lib/onvif/ws-discovery';
import { discover } from '../lib/onvif/discovery';
import { startWsDiscoveryResponder, probeMatchesXml, type WsDiscoveryResponder } from '../lib/sim/ws-discovery-responder';
import { probeMessage } from '../lib/onvif/ws-discovery';
import { EscapeWatch, httpReply, settleWithin, sleep, startHostileServer, type HostileServer } from './support/hostile-peers';

const watch = new EscapeWatch();

function matchXml(relatesTo: string, entries: Array<{ urn: string; xaddrs?: string; mv?: string }>): string {
  const body = entries
    .map(
      (e) =>
        `<d:ProbeMatch><a:EndpointReference><a:Address>${e.urn}</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>` +
        (e.xaddrs !== undefined ? `<d:XAddrs>${e.xaddrs}</d:XAddrs>` : '') +
        (e.mv !== undefined ? `<d:MetadataVersion>${e.mv}</d:MetadataVersion>` : '') +
        '</d:ProbeMatch>',
    )
    .join('');
  return (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">' +
    `<s:Header><a:RelatesTo>${relatesTo}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches>${body}</d:ProbeMatches></s:Body></s:Envelope>`
  );
}

/** A UDP responder on 127.0.0.1 that answers each probe datagram with what `answer` returns. */
async function hostileResponder(answer: (messageId: string) => Buffer[]): Promise<{ port: number; probes: number; close(): Promise<void> }> {
  const sock: Socket = createSocket('udp4');
  const state = { probes: 0 };
  sock.on('error', () => undefined);
  sock.on('message', (msg, rinfo) => {
    state.probes++;
    const id = /<a:MessageID>([^<]+)<\/a:MessageID>/.exec(msg.toString())?.[1] ?? '';
    for (const d of answer(id)) sock.send(d, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    port: sock.address().port,
    get probes() {
      return state.probes;
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

describe('robustness: WS-Discovery (loopback, directed probes)', function () {
  this.timeout(10_000);
  before(() => watch.install());
  after(() => watch.uninstall());
  afterEach(() => watch.assertNone());

  describe('client against a hostile responder', () => {
    it('ignores junk, foreign RelatesTo, matches without XAddrs or address; keeps the valid ones, de-duplicated', async () => {
      const good = `urn:uuid:${randomUUID()}`;
      const r = await hostileResponder((id) => [
        Buffer.from([0, 1, 2, 3, 0xff, 0xfe]),
        Buffer.from('<not closed'),
        Buffer.from('<<<>>>&&&;;'),
        Buffer.from(matchXml('urn:uuid:someone-else', [{ urn: `urn:uuid:${randomUUID()}`, xaddrs: 'http://127.0.0.1:1/onvif/device_service' }])),
        Buffer.from(matchXml(id, [{ urn: `urn:uuid:${randomUUID()}` }])), // no XAddrs
        Buffer.from(matchXml(id, [{ urn: '', xaddrs: 'http://127.0.0.1:2/onvif/device_service' }])), // no address
        ...Array.from({ length: 200 }, () => Buffer.from(matchXml(id, [{ urn: good, xaddrs: 'http://127.0.0.1:3/onvif/device_service', mv: 'x' }]))),
      ]);
      try {
        const out = await settleWithin(3000, wsDiscover({ mode: `127.0.0.1:${r.port}`, timeoutMs: 600 }), 'wsDiscover');
        if (!out.ok) throw out.error;
        assert.deepEqual(
          out.value.map((m) => m.urn),
          [good],
        );
        assert.equal(out.value[0].metadataVersion, undefined, 'a non-numeric MetadataVersion is dropped');
        assert.ok(out.ms < 1500, `finishes at its timeout (${out.ms} ms)`);
      } finally {
        await r.close();
      }
    });

    it('a huge datagram with thousands of matches is parsed without a throw, and the list stays bounded', async () => {
      const r = await hostileResponder((id) => {
        // ~60 KB datagrams, each with hundreds of unique endpoints.
        const entries = Array.from({ length: 400 }, () => ({ urn: `urn:uuid:${randomUUID()}`, xaddrs: 'http://127.0.0.1:4/x' }));
        return Array.from({ length: 40 }, () =>
          Buffer.from(
            matchXml(
              id,
              entries.map((e) => ({ ...e, urn: `urn:uuid:${randomUUID()}` })),
            ).slice(0, 65_000),
          ),
        );
      });
      try {
        const out = await settleWithin(4000, wsDiscover({ mode: `127.0.0.1:${r.port}`, timeoutMs: 800, repeats: 1 }), 'wsDiscover');
        if (!out.ok) throw out.error;
        assert.ok(out.value.length > 0, 'some were read');
        assert.ok(out.value.length <= 1024, `at most 1024 devices kept (${out.value.length})`);
      } finally {
        await r.close();
      }
    });

    it('discover() turns a found device that is not ONVIF into a per-device error, and skips XAddrs that are not URLs', async () => {
      const http: HostileServer = await startHostileServer((sock) => sock.end(httpReply(200, '<html>printer</html>', { 'Content-Type': 'text/html' })));
      const r = await hostileResponder((id) => [
        Buffer.from(matchXml(id, [{ urn: 'urn:uuid:printer', xaddrs: `http://127.0.0.1:${http.port}/onvif/device_service` }])),
        Buffer.from(matchXml(id, [{ urn: 'urn:uuid:broken', xaddrs: 'http://[zz::/ http://127.0.0.1:99999/' }])),
      ]);
      try {
        const out = await settleWithin(5000, discover({ wsDiscovery: `127.0.0.1:${r.port}`, timeoutMs: 600 }), 'discover');
        if (!out.ok) throw out.error;
        assert.equal(out.value.length, 1);
        assert.equal(out.value[0].urn, 'urn:uuid:printer');
        assert.equal(out.value[0].errorCode, 'not-onvif');
      } finally {
        await r.close();
        await http.close();
      }
    });
  });

  describe('simulator responder against junk and floods', () => {
    let responder: WsDiscoveryResponder;
    let client: Socket;
    const received: Buffer[] = [];
    before(async () => {
      responder = await startWsDiscoveryResponder({
        host: '127.0.0.1',
        port: 0,
        devices: () => [{ urn: 'urn:uuid:sim-1', xaddrs: ['http://127.0.0.1:1/onvif/device_service'], scopes: ['onvif://www.onvif.org/name/Sim'] }],
      });
      client = createSocket('udp4');
      client.on('message', (m) => received.push(m));
      await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    });
    after(async () => {
      client.close();
      await responder.close();
    });
    beforeEach(() => {
      received.length = 0;
    });

    const send = (b: Buffer) => new Promise<void>((r) => client.send(b, responder.port, '127.0.0.1', () => r()));

    it('junk, huge and deeply nested datagrams get no answer, and the responder keeps answering real probes', async () => {
      await send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      await send(Buffer.from('<s:Envelope><s:Body><d:Probe>'));
      await send(Buffer.alloc(60_000, '<'));
      await send(Buffer.from('<a>'.repeat(15_000)));
      await send(Buffer.from(probeMatchesXml('urn:uuid:x', [])));
      await sleep(100);
      assert.equal(received.length, 0, 'nothing answered junk');
      await send(Buffer.from(probeMessage(randomUUID(), 'dn:NetworkVideoTransmitter')));
      await sleep(150);
      assert.equal(received.length, 1, 'a real probe is still answered');
      assert.match(received[0].toString(), /urn:uuid:sim-1/);
    });

    it('a retransmitted probe (same MessageID, 500 times) is answered once', async () => {
      const probe = Buffer.from(probeMessage(randomUUID(), 'dn:NetworkVideoTransmitter'));
      for (let i = 0; i < 500; i++) client.send(probe, responder.port, '127.0.0.1');
      await sleep(300);
      assert.equal(received.length, 1);
    });

    it('a flood of distinct probes gets at most 100 answers a second', async () => {
      await sleep(1000); // a fresh rate window
      for (let i = 0; i < 1000; i++) client.send(Buffer.from(probeMessage(randomUUID(), 'dn:NetworkVideoTransmitter')), responder.port, '127.0.0.1');
      await sleep(400);
      assert.ok(received.length >= 10, `still answers (${received.length})`);
      assert.ok(received.length <= 100, `answers bounded (${received.length} for 1000 probes)`);
    });
  });
});
