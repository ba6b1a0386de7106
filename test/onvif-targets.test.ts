import { strict as assert } from 'node:assert';
import { parseTargets, parseTargetList, MAX_TARGETS, TargetLimitError } from '../lib/onvif/targets';

describe('target lists (lib/onvif/targets)', () => {
  const hp = (list: string) => parseTargets(list).map((t) => `${t.host}:${t.port}`);

  it('expands a port range on one host', () => {
    assert.deepEqual(hp('127.0.0.1:18000-18002'), ['127.0.0.1:18000', '127.0.0.1:18001', '127.0.0.1:18002']);
  });

  it('expands a CIDR block with a port list, skipping network and broadcast addresses', () => {
    const t = hp('192.168.1.0/24:80,8000');
    assert.equal(t.length, 254 * 2);
    assert.equal(t[0], '192.168.1.1:80');
    assert.equal(t[1], '192.168.1.1:8000');
    assert.ok(!t.includes('192.168.1.0:80') && !t.includes('192.168.1.255:80'));
  });

  it('uses port 80 when none is given and accepts names, address ranges and IPv6', () => {
    assert.deepEqual(hp('cam.local 10.0.0.5-7:554 [::1]:8080'), ['cam.local:80', '10.0.0.5:554', '10.0.0.6:554', '10.0.0.7:554', '::1:8080']);
  });

  it('separates entries by commas, but a bare port after a comma extends the previous port list', () => {
    assert.deepEqual(hp('10.0.0.1:80,10.0.0.2:81,82'), ['10.0.0.1:80', '10.0.0.2:81', '10.0.0.2:82']);
  });

  it('marks single host:port entries explicit and range members not', () => {
    const t = parseTargets('10.0.0.1:80 10.0.0.2:80-81');
    assert.deepEqual(
      t.map((x) => x.explicit),
      [true, false, false],
    );
  });

  it('drops duplicates', () => {
    assert.deepEqual(hp('127.0.0.1:1 127.0.0.1:1'), ['127.0.0.1:1']);
  });

  it('names the bad part of a bad list', () => {
    assert.throws(() => parseTargets('127.0.0.1:70000'), /port range "70000"/);
    assert.throws(() => parseTargets('127.0.0.1:9-3'), /reversed/);
    assert.throws(() => parseTargets('10.0.0.0/4:80'), /between \/8 and \/32/);
    assert.throws(() => parseTargets('bad_host!:80'), /not a host name/);
  });

  it('refuses lists that expand beyond the limit', () => {
    assert.throws(() => parseTargets('10.0.0.0/8:80'), new RegExp(`more than ${MAX_TARGETS}`));
  });

  it('sizes a list before expanding it: a /8 on every port counts without allocating for it', () => {
    // 16,777,214 hosts × 65,535 ports ≈ 1.1e12 pairs: any per-target allocation would run out of
    // memory long before returning, so a count proves nothing was expanded.
    const before = process.memoryUsage().heapUsed;
    const list = parseTargetList('10.0.0.0/8:1-65535', Infinity);
    assert.equal(list.size, 16_777_214 * 65_535);
    assert.ok(process.memoryUsage().heapUsed - before < 16 * 1024 * 1024, 'no memory proportional to the range');
  });

  it('refuses an over-limit entry on reading it, before later entries and before any expansion', () => {
    const t0 = process.hrtime.bigint();
    // The second entry is malformed: reaching it would throw another error.
    assert.throws(
      () => parseTargetList('10.0.0.0/8:80 bad_host!', 1024),
      (e: unknown) => e instanceof TargetLimitError && e.limit === 1024 && /10\.0\.0\.0\/8:80/.test(e.message),
    );
    console.log(`      (/8 refused in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)} ms)`);
    assert.doesNotThrow(() => parseTargetList('10.0.0.0/22:80', 1024), 'a /22 on one port is 1022 targets');
    assert.throws(() => parseTargetList('10.0.0.0/22:80,81', 1024), TargetLimitError);
  });

  it('tells whether a host:port is in the list without expanding it', () => {
    const list = parseTargetList('10.0.0.0/8:80,8000-8002 Cam.Local:81 [::1]:554', Infinity);
    assert.ok(list.has('10.200.3.4', 8001));
    assert.ok(!list.has('10.200.3.4', 8003));
    assert.ok(!list.has('11.0.0.1', 80));
    assert.ok(list.has('cam.local', 81));
    assert.ok(!list.has('cam.local', 80));
    assert.ok(list.has('::1', 554));
    assert.ok(list.has('[::1]', 554));
  });
});
