// The Discover route's rules without a network (planRequest and the handler with a stub
// discovery); the same rules against a real Node-RED are in security-admin-route.test.ts.
import { strict as assert } from 'node:assert';
import type { Request, Response } from 'express';
import { DEFAULT_ROUTE_SETTINGS, discoverRoute, planRequest, routeSettings, type NodeLookup } from '../nodes/onvif-discover/discover-route';
import type { DiscoverOptions } from '../lib/onvif/discovery';

const nodes: NodeLookup = {
  config: (id) =>
    ({
      nvr1: { type: 'nvr-source', host: '192.168.1.64', ports: '80,8000' },
      nvrBasic: { type: 'nvr-source', host: '192.168.1.65', ports: '80', allowBasicAuth: true, acceptSelfSigned: true },
      disc1: { type: 'onvif-discover', targets: '10.1.2.0/30:80' },
      nohost: { type: 'nvr-source', host: '', ports: '80' },
      mq1: { type: 'mqtt-broker' },
    })[id],
  credentials: (id) => (['nvr1', 'nvrBasic', 'disc1', 'nohost', 'mq1'].includes(id) ? { user: `${id}-user`, password: `${id}-pw` } : undefined),
};
const s = DEFAULT_ROUTE_SETTINGS;
const status = (f: () => unknown) => {
  try {
    f();
    return 200;
  } catch (e) {
    return (e as { status?: number }).status;
  }
};

describe('Discover route rules (no network)', () => {
  it("uses a node's stored login for its own targets, and probes them when the request lists none", () => {
    const o = planRequest({ nodeId: 'nvr1' }, nodes, s);
    assert.deepEqual(o.targets, ['192.168.1.64:80', '192.168.1.64:8000']);
    assert.equal(o.password, 'nvr1-pw');
    assert.equal(planRequest({ nodeId: 'disc1', targets: '10.1.2.2:80' }, nodes, s).password, 'disc1-pw', "inside the onvif-discover node's CIDR");
    assert.equal(
      status(() => planRequest({ nodeId: 'disc1', targets: '10.1.2.5:80' }, nodes, s)),
      403,
      'outside it',
    );
    assert.equal(
      status(() => planRequest({ nodeId: 'nohost' }, nodes, s)),
      403,
      'no saved host: no stored login',
    );
  });

  it('gives an unknown id, another type and odd ids one identical refusal', () => {
    const msg = (id: unknown) => {
      try {
        planRequest({ nodeId: id, targets: '192.168.1.64:80' }, nodes, s);
        return 'accepted';
      } catch (e) {
        return `${(e as { status?: number }).status} ${(e as Error).message}`;
      }
    };
    const refusal = msg('mq1');
    assert.match(refusal, /^403 /);
    for (const id of ['nope', '', 42, null, '__proto__', 'constructor']) assert.equal(msg(id), refusal, String(id));
  });

  it('a login in the body goes to any listed target; Basic only when asked for it, or when the saved node allows it', () => {
    const o = planRequest({ nodeId: 'nvr1', targets: '10.0.0.1:80', user: 'u', password: 'p' }, nodes, s);
    assert.equal(o.password, 'p', 'the body login wins; the stored one is not looked up');
    assert.equal(o.allowBasicAuth, false);
    assert.equal(planRequest({ targets: '10.0.0.1:80', user: 'u', password: 'p', allowBasicAuth: true }, nodes, s).allowBasicAuth, true);
    assert.equal(planRequest({ nodeId: 'nvr1', allowBasicAuth: true }, nodes, s).allowBasicAuth, false, 'a caller cannot turn it on for a stored login');
    assert.equal(planRequest({ nodeId: 'nvrBasic' }, nodes, s).allowBasicAuth, true);
    // A self-signed certificate: the caller's choice for its own login, the node's for a stored one.
    assert.equal(planRequest({ targets: '10.0.0.1:80', user: 'u', password: 'p', acceptSelfSigned: true }, nodes, s).acceptSelfSigned, true);
    assert.equal(planRequest({ targets: '10.0.0.1:80', user: 'u', password: 'p' }, nodes, s).acceptSelfSigned, false);
    assert.equal(
      planRequest({ nodeId: 'nvr1', acceptSelfSigned: true }, nodes, s).acceptSelfSigned,
      false,
      'the stored password goes only where its node trusts',
    );
    assert.equal(planRequest({ nodeId: 'nvrBasic' }, nodes, s).acceptSelfSigned, true);
  });

  it('sends a directed WS-Discovery probe only to a listed address', () => {
    assert.equal(
      status(() => planRequest({ targets: '127.0.0.1:80', wsDiscovery: '127.0.0.2:3702' }, nodes, s)),
      400,
    );
    assert.equal(planRequest({ targets: '127.0.0.1:80', wsDiscovery: '127.0.0.1:3702' }, nodes, s).wsDiscovery, '127.0.0.1:3702');
  });

  it('reads its limits from settings.js (vtrackOnvif), ignoring nonsense', () => {
    assert.deepEqual(routeSettings({ maxDiscoverTargets: 4096, discoverRequestsPerMinute: 'x', discoverConcurrentPerUser: -1 }), {
      ...DEFAULT_ROUTE_SETTINGS,
      maxDiscoverTargets: 4096,
    });
    assert.equal(
      status(() => planRequest({ targets: '10.0.0.0/21:80' }, nodes, s)),
      400,
    );
    assert.ok(planRequest({ targets: '10.0.0.0/21:80' }, nodes, routeSettings({ maxDiscoverTargets: 4096 })).targets?.length === 2046);
  });

  it('counts requests per user: the limit of one user leaves another alone', async () => {
    const ran: DiscoverOptions[] = [];
    const handler = discoverRoute(
      nodes,
      () => ({ ...s, discoverRequestsPerMinute: 2 }),
      async (o) => {
        ran.push(o);
        return [];
      },
    );
    const call = async (user: string) => {
      let code = 200;
      const res = {
        headersSent: false,
        writableEnded: false,
        set: () => res,
        status: (n: number) => ((code = n), res),
        json: () => ((res.headersSent = true), res),
        on: () => res,
      };
      handler(
        {
          headers: { 'content-type': 'application/json' },
          body: { targets: '127.0.0.1:1', user: 'a', password: 'b' },
          user: { username: user },
          ip: '127.0.0.1',
        } as unknown as Request,
        res as unknown as Response,
      );
      await new Promise((r) => setImmediate(r));
      return code;
    };
    assert.deepEqual([await call('ann'), await call('ann'), await call('ann'), await call('bob')], [200, 200, 429, 200]);
    assert.equal(ran.length, 3);
  });
});
