// The simulator's WS-Discovery responder, probed unicast on loopback only (no multicast in tests).
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { attrOf, findAll, first, parseXml, textOf, type Xml } from './sim-helpers';

function probeXml(messageId: string, types = 'dn:NetworkVideoTransmitter', scopes = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" ' +
    'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ' +
    'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:dev="http://www.onvif.org/ver10/device/wsdl"><e:Header>' +
    `<w:MessageID>${messageId}</w:MessageID><w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>` +
    '<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>' +
    `<e:Body><d:Probe><d:Types>${types}</d:Types>${scopes ? `<d:Scopes>${scopes}</d:Scopes>` : ''}</d:Probe></e:Body></e:Envelope>`
  );
}

/** A loopback UDP socket collecting parsed datagrams. */
async function listener(): Promise<{ socket: Socket; port: number; received: Xml[]; waitFor(n: number, ms: number): Promise<Xml[]> }> {
  const socket = createSocket('udp4');
  const received: Xml[] = [];
  socket.on('message', (m) => received.push(parseXml(m.toString('utf8'))));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    socket,
    port: socket.address().port,
    received,
    async waitFor(n, ms) {
      const deadline = Date.now() + ms;
      while (received.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return received;
    },
  };
}

function send(socket: Socket, xml: string | Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(xml, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

describe('simulator WS-Discovery responder (unicast on loopback)', () => {
  let sim: RunningSimulator;
  let client: Awaited<ReturnType<typeof listener>>;
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: { port: 0 } });
    client = await listener();
  });
  after(async () => {
    client.socket.close();
    await sim.stop();
  });
  beforeEach(() => {
    client.received.length = 0;
  });

  it('answers a Probe with one ProbeMatches carrying every device, RelatesTo and XAddrs', async () => {
    const id = `urn:uuid:${randomUUID()}`;
    await send(client.socket, probeXml(id), sim.discoveryPort as number);
    const [reply] = await client.waitFor(1, 2000);
    assert.ok(reply, 'no ProbeMatches within 2 s');
    assert.equal(first(reply, 'RelatesTo'), id);
    assert.equal(first(reply, 'Action'), 'http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches');
    assert.match(first(reply, 'MessageID'), /^urn:uuid:[0-9a-f-]{36}$/);
    assert.notEqual(first(reply, 'MessageID'), id);
    const matches = findAll(reply, 'ProbeMatch');
    assert.equal(matches.length, 3);
    for (const [i, m] of matches.entries()) {
      const dev = sim.devices[i];
      assert.equal(first(m, 'Address'), dev.urn);
      assert.match(dev.urn, /^urn:uuid:/);
      assert.equal(first(m, 'XAddrs'), dev.xaddr);
      assert.equal(first(m, 'Types'), 'dn:NetworkVideoTransmitter tds:Device');
      assert.equal(first(m, 'MetadataVersion'), '1');
      const scopes = first(m, 'Scopes').split(' ');
      assert.ok(scopes.includes(`onvif://www.onvif.org/name/${encodeURIComponent(dev.spec.name)}`), scopes.join(' '));
      assert.ok(scopes.includes('onvif://www.onvif.org/hardware/SIM-CAM-1'));
      assert.ok(scopes.includes('onvif://www.onvif.org/location/loopback'));
      assert.ok(scopes.includes('onvif://www.onvif.org/type/video_encoder'));
    }
  });

  it('answers Probes for tds:Device under any prefix and Probes without Types', async () => {
    await send(client.socket, probeXml('urn:uuid:a', 'dev:Device'), sim.discoveryPort as number);
    await send(client.socket, probeXml('urn:uuid:b', ''), sim.discoveryPort as number);
    const replies = await client.waitFor(2, 2000);
    assert.deepEqual(replies.map((r) => first(r, 'RelatesTo')).sort(), ['urn:uuid:a', 'urn:uuid:b']);
  });

  it('stays silent for other device types and for scopes it does not have', async () => {
    await send(client.socket, probeXml('urn:uuid:printer', 'p:Printer'), sim.discoveryPort as number);
    await send(client.socket, probeXml('urn:uuid:nowhere', '', 'onvif://www.onvif.org/location/mars'), sim.discoveryPort as number);
    await send(client.socket, probeXml('urn:uuid:named', '', 'onvif://www.onvif.org/name/Warehouse%20Camera'), sim.discoveryPort as number);
    const replies = await client.waitFor(2, 500);
    assert.deepEqual(
      replies.map((r) => first(r, 'RelatesTo')),
      ['urn:uuid:named'],
    );
    assert.equal(findAll(replies[0], 'ProbeMatch').length, 1);
  });

  it('ignores junk datagrams and keeps answering', async () => {
    await send(client.socket, Buffer.from([0, 1, 2, 255, 60, 60]), sim.discoveryPort as number);
    await send(client.socket, '<not-soap/>', sim.discoveryPort as number);
    await send(client.socket, '<e:Envelope xmlns:e="x"><e:Body><Probe/></e:Body></e:Envelope>', sim.discoveryPort as number);
    await send(client.socket, probeXml('urn:uuid:after-junk'), sim.discoveryPort as number);
    const replies = await client.waitFor(1, 2000);
    assert.equal(replies.length, 1);
    assert.equal(first(replies[0], 'RelatesTo'), 'urn:uuid:after-junk');
  });
});

describe('simulator WS-Discovery announcements', () => {
  it('sends Hello on start and Bye on stop to the announce address (multicast off)', async () => {
    const watcher = await listener();
    try {
      const sim = await startSimulator({
        preset: 'nvr',
        channels: 2,
        basePort: 0,
        rtsp: false,
        discovery: { port: 0, announceTo: { address: '127.0.0.1', port: watcher.port } },
      });
      const hello = await watcher.waitFor(1, 2000);
      assert.equal(first(hello[0], 'Action'), 'http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello');
      assert.equal(first(findAll(hello[0], 'Hello')[0], 'Address'), sim.devices[0].urn);
      assert.equal(first(hello[0], 'XAddrs'), sim.devices[0].xaddr);
      assert.ok(first(hello[0], 'Scopes').includes('onvif://www.onvif.org/type/Network_Video_Recorder'));
      const seq = findAll(hello[0], 'AppSequence')[0];
      assert.equal(attrOf(seq, 'MessageNumber'), '1');
      await sim.stop();
      const both = await watcher.waitFor(2, 2000);
      assert.equal(first(both[1], 'Action'), 'http://schemas.xmlsoap.org/ws/2005/04/discovery/Bye');
      assert.equal(first(findAll(both[1], 'Bye')[0], 'Address'), sim.devices[0].urn);
    } finally {
      watcher.socket.close();
    }
  });

  it('can reply with one ProbeMatches message per device', async () => {
    const sim = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: { port: 0, replyPerDevice: true } });
    const client = await listener();
    try {
      await send(client.socket, probeXml('urn:uuid:each'), sim.discoveryPort as number);
      const replies = await client.waitFor(3, 2000);
      assert.equal(replies.length, 3);
      assert.deepEqual(
        replies.map((r) => findAll(r, 'ProbeMatch').length),
        [1, 1, 1],
      );
      assert.equal(new Set(replies.map((r) => first(r, 'MessageID'))).size, 3);
      assert.ok(replies.every((r) => textOf(findAll(r, 'RelatesTo')[0]) === 'urn:uuid:each'));
    } finally {
      client.socket.close();
      await sim.stop();
    }
  });
});
