// With credentials configured the simulator authenticates like real devices: WS-Security digest
// checked against the device clock (with a configurable offset), HTTP Digest, proper rejections.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startSimulator, type RunningSimulator } from '../lib/sim/index';
import { faultSubcodes, findAll, first, soapCall, textOf } from './sim-helpers';

const TDS = 'xmlns="http://www.onvif.org/ver10/device/wsdl"';
const INFO = `<GetDeviceInformation ${TDS}/>`;
const user = 'admin';
const password = 'pw-Secret1';

describe('simulator authentication', () => {
  let sim: RunningSimulator;
  let xaddr: string;
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: false, auth: { user, password } });
    xaddr = sim.devices[0].xaddr;
  });
  after(async () => {
    await sim.stop();
  });

  it('GetSystemDateAndTime needs no credentials', async () => {
    const r = await soapCall(xaddr, `<GetSystemDateAndTime ${TDS}/>`);
    assert.equal(r.status, 200);
  });

  it('every other operation without credentials gets 401 with a Digest challenge', async () => {
    for (const body of [INFO, `<GetServices ${TDS}><IncludeCapability>false</IncludeCapability></GetServices>`, `<GetCapabilities ${TDS}/>`]) {
      const r = await soapCall(xaddr, body);
      assert.equal(r.status, 401);
      assert.match(String(r.headers['www-authenticate']), /^Digest realm="[^"]+", qop="auth", nonce="[0-9a-f]+"/);
    }
  });

  it('accepts a WS-Security UsernameToken digest', async () => {
    const r = await soapCall(xaddr, INFO, { wsse: { user, password } });
    assert.equal(r.status, 200);
    assert.equal(first(r.doc, 'Model'), 'SIM-CAM-1');
  });

  it('rejects a WS-Security digest with the wrong password: HTTP 400, Sender/NotAuthorized', async () => {
    const r = await soapCall(xaddr, INFO, { wsse: { user, password: 'wrong' } });
    assert.equal(r.status, 400);
    assert.deepEqual(faultSubcodes(r.doc), ['s:Sender', 'ter:NotAuthorized']);
  });

  it('rejects an unknown user', async () => {
    const r = await soapCall(xaddr, INFO, { wsse: { user: 'root', password } });
    assert.equal(r.status, 400);
    assert.deepEqual(faultSubcodes(r.doc), ['s:Sender', 'ter:NotAuthorized']);
  });

  it('rejects a replayed nonce', async () => {
    const nonce = randomBytes(16);
    const created = new Date();
    const a = await soapCall(xaddr, INFO, { wsse: { user, password, nonce, created } });
    assert.equal(a.status, 200);
    const b = await soapCall(xaddr, INFO, { wsse: { user, password, nonce, created } });
    assert.equal(b.status, 400);
    assert.match(textOf(findAll(b.doc, 'Text')[0]), /nonce/i);
  });

  it('rejects a Created time outside ±30 s of the device clock, saying the time check failed', async () => {
    for (const skewSec of [-45, 45]) {
      const r = await soapCall(xaddr, INFO, { wsse: { user, password, created: new Date(Date.now() + skewSec * 1000) } });
      assert.equal(r.status, 400, `skew ${skewSec}s`);
      assert.deepEqual(faultSubcodes(r.doc), ['s:Sender', 'ter:NotAuthorized']);
      assert.match(textOf(findAll(r.doc, 'Text')[0]), /time check/i);
    }
    const near = await soapCall(xaddr, INFO, { wsse: { user, password, created: new Date(Date.now() - 20_000) } });
    assert.equal(near.status, 200);
  });

  it('accepts HTTP Digest (MD5, qop=auth)', async () => {
    const r = await soapCall(xaddr, INFO, { digest: { user, password } });
    assert.equal(r.status, 200);
    assert.equal(first(r.doc, 'Manufacturer'), 'VTrack Simulator');
  });

  it('answers a wrong HTTP Digest password with 401 again', async () => {
    const r = await soapCall(xaddr, INFO, { digest: { user, password: 'nope' } });
    assert.equal(r.status, 401);
  });

  it('protects the search, recording and replay services too', async () => {
    const search = xaddr.replace('device_service', 'search_service');
    const r = await soapCall(search, '<GetRecordingSummary xmlns="http://www.onvif.org/ver10/search/wsdl"/>');
    assert.equal(r.status, 401);
    const ok = await soapCall(search, '<GetRecordingSummary xmlns="http://www.onvif.org/ver10/search/wsdl"/>', { wsse: { user, password } });
    assert.equal(ok.status, 200);
    assert.equal(first(ok.doc, 'NumberRecordings'), '1');
  });
});

describe('simulator clock offset', () => {
  let sim: RunningSimulator;
  const offsetSec = 3600;
  before(async () => {
    sim = await startSimulator({ preset: 'seed', basePort: 0, rtsp: false, discovery: false, auth: { user, password }, clockOffsetSec: offsetSec });
  });
  after(async () => {
    await sim.stop();
  });

  it('GetSystemDateAndTime reports the skewed device clock', async () => {
    const r = await soapCall(sim.devices[0].xaddr, `<GetSystemDateAndTime ${TDS}/>`);
    const utc = findAll(r.doc, 'UTCDateTime')[0];
    const t = Date.UTC(+first(utc, 'Year'), +first(utc, 'Month') - 1, +first(utc, 'Day'), +first(utc, 'Hour'), +first(utc, 'Minute'), +first(utc, 'Second'));
    assert.ok(Math.abs(t - (Date.now() + offsetSec * 1000)) < 3000);
  });

  it('rejects tokens created on the client clock, accepts tokens on the device clock', async () => {
    const local = await soapCall(sim.devices[0].xaddr, INFO, { wsse: { user, password } });
    assert.equal(local.status, 400);
    assert.match(textOf(findAll(local.doc, 'Text')[0]), /time check failed/);
    const device = await soapCall(sim.devices[0].xaddr, INFO, { wsse: { user, password, created: new Date(Date.now() + offsetSec * 1000) } });
    assert.equal(device.status, 200);
  });

  it('HTTP Digest does not depend on the clock', async () => {
    const r = await soapCall(sim.devices[0].xaddr, INFO, { digest: { user, password } });
    assert.equal(r.status, 200);
  });
});
