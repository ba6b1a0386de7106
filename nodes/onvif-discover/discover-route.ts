// POST /vtrack-onvif/discover: the editors' Discover button (nvr-source's camera grid). The route
// runs inside Node-RED with the runtime's access to every node's stored credentials, and without
// adminAuth (Node-RED's default) any local web page can reach the admin API. So it must not be a
// way to get stored passwords out, nor a network scanner:
// - stored credentials only of our own node types, and only against that node's own saved
//   host(s)/ports; any other target needs the login in the request body;
// - an unknown id and a node of another type get the same 403, so ids cannot be probed;
// - JSON only (a cross-site form POST cannot set that type without a CORS preflight);
// - bounded work per request (targets counted before expansion) and per user (rate limit);
// - probe failures say "unreachable", not whether a port refused or stayed silent;
// - a vendor driver (Hikvision, Dahua) lists one host's recorder, on at most MAX_PORTS ports, and
//   stops at the first rejected login (both vendors lock accounts).
import type { Request, Response } from 'express';
import type { NodeAPI, NodeDef } from 'node-red';
import type { DiscoverOptions } from '../../lib/onvif/discovery';
import { discoverWithDriver, DRIVER_SETTINGS, type DriverSetting } from '../../lib/vendors/find-recorder';
import { parseTargetList, type TargetList } from '../../lib/onvif/targets';
import { probeTargets } from '../../lib/onvif/ws-discovery';
import type { DiscoveredDevice } from '../../lib/onvif/types';
import { errorMessage } from '../../lib/errors';
import type { UserPassword } from '../../lib/credentials';
import { MAX_PORTS, parsePortList, target } from '../nvr-source/ports';

/** Node types whose stored login the route may use (each against its own saved targets). */
export const CREDENTIAL_NODE_TYPES: ReadonlySet<string> = new Set(['onvif-discover', 'nvr-source']);

/** `vtrackOnvif` in Node-RED's settings.js (every field optional). */
export interface DiscoverRouteSettings {
  /** Most host:port pairs per request (default 1024: one /22 on one port). */
  maxDiscoverTargets: number;
  /** Requests per user (per client address without adminAuth) per minute (default 20). */
  discoverRequestsPerMinute: number;
  /** Discoveries one user may run at once (default 2). */
  discoverConcurrentPerUser: number;
}

export const DEFAULT_ROUTE_SETTINGS: DiscoverRouteSettings = { maxDiscoverTargets: 1024, discoverRequestsPerMinute: 20, discoverConcurrentPerUser: 2 };

export function routeSettings(raw: unknown): DiscoverRouteSettings {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const pick = (k: keyof DiscoverRouteSettings) => {
    const v = Number(o[k]);
    return Number.isInteger(v) && v > 0 ? v : DEFAULT_ROUTE_SETTINGS[k];
  };
  return {
    maxDiscoverTargets: pick('maxDiscoverTargets'),
    discoverRequestsPerMinute: pick('discoverRequestsPerMinute'),
    discoverConcurrentPerUser: pick('discoverConcurrentPerUser'),
  };
}

/** What the route needs from the runtime (RED.nodes), so specs can drive it without one. */
export interface NodeLookup {
  /** The deployed configuration of node `id` (type and settings), if any. */
  config(id: string): { type: string; [key: string]: unknown } | undefined;
  credentials(id: string): UserPassword | undefined;
}

/** The deployed nodes and their stored logins, as the admin routes look them up. */
export function deployedNodes(RED: NodeAPI): NodeLookup {
  return {
    config(id) {
      let found: NodeDef | undefined;
      RED.nodes.eachNode((n) => {
        if (n.id === id) found = n;
      });
      // NodeDef has no index signature; the routes read its fields as unknown.
      return found as (NodeDef & Record<string, unknown>) | undefined;
    },
    credentials: (id) => RED.nodes.getCredentials(id) as UserPassword | undefined,
  };
}

/** Settings of the admin routes from settings.js (`vtrackOnvif`). */
export const routeSettingsOf = (RED: NodeAPI) => (): DiscoverRouteSettings => routeSettings((RED.settings as unknown as Record<string, unknown>).vtrackOnvif);

/** The targets a node saved for itself: nvr-source's host × ports, onvif-discover's list. */
export function ownTargets(def: { type: string; [key: string]: unknown }): TargetList | undefined {
  try {
    if (def.type === 'nvr-source') {
      const host = String(def.host ?? '').trim();
      if (!host) return undefined;
      return parseTargetList(
        parsePortList(String(def.ports ?? '')).map((p) => target(host, p)),
        Infinity,
      );
    }
    if (def.type === 'onvif-discover') {
      const list = parseTargetList(String(def.targets ?? ''), Infinity);
      return list.size > 0 ? list : undefined;
    }
  } catch {
    // A node whose saved targets do not parse has no targets to use its login with.
  }
  return undefined;
}

export class RouteError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Per-user request counts (sliding minute) and running discoveries. */
class RateLimiter {
  private readonly recent = new Map<string, number[]>();
  private readonly running = new Map<string, number>();

  constructor(private readonly s: () => DiscoverRouteSettings) {}

  /** Takes a slot or throws a 429; the returned function gives it back. */
  acquire(key: string, now = Date.now()): () => void {
    const { discoverRequestsPerMinute: perMinute, discoverConcurrentPerUser: concurrent } = this.s();
    const times = (this.recent.get(key) ?? []).filter((t) => now - t < 60_000);
    if (times.length >= perMinute) {
      this.recent.set(key, times);
      throw Object.assign(new RouteError(429, `too many discovery requests (at most ${perMinute} a minute); try again shortly`), {
        retryAfterSec: Math.ceil((60_000 - (now - times[0])) / 1000),
      });
    }
    const n = this.running.get(key) ?? 0;
    if (n >= concurrent) throw Object.assign(new RouteError(429, `${n} discoveries of yours are still running; wait for them to finish`), { retryAfterSec: 5 });
    times.push(now);
    this.recent.set(key, times);
    // Many callers (addresses without adminAuth) must not grow the map for ever.
    if (this.recent.size > 1000) for (const [k, ts] of this.recent) if (now - ts[ts.length - 1] >= 60_000) this.recent.delete(k);
    this.running.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.running.get(key) ?? 1) - 1;
      if (left > 0) this.running.set(key, left);
      else this.running.delete(key);
    };
  }
}

export interface Body {
  targets?: unknown;
  wsDiscovery?: unknown;
  user?: unknown;
  password?: unknown;
  nodeId?: unknown;
  timeoutMs?: unknown;
  /** With a login in the body: answer a Basic-only device (password in clear). */
  allowBasicAuth?: unknown;
  /** https devices: accept a self-signed certificate (with a stored login: the node's own setting). */
  acceptSelfSigned?: unknown;
  /** What to list: "onvif" (default) devices, or a "hikvision" / "dahua" recorder's channels, or
   * "auto" (ONVIF where it offers recording replay, else a vendor API), as nvr-source's setting. */
  driver?: unknown;
}

/** A request read by the rules: discovery options and the driver to list with. */
export type RoutePlan = DiscoverOptions & { driver: DriverSetting };

const REFUSED_NODE = 'nodeId does not name a deployed onvif-discover or nvr-source node with a stored login';

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(h: string | undefined): string {
  return (h ?? '').split(';')[0].trim().toLowerCase();
}

/** Probe failures all read "unreachable": refused, filtered and silent look the same. */
export function blurProbeErrors(devices: DiscoveredDevice[]): DiscoveredDevice[] {
  return devices.map((d) =>
    !d.onvif && (d.errorCode === 'unreachable' || d.errorCode === 'timeout')
      ? { ...d, error: `${d.host}:${d.port}: unreachable`, errorCode: 'unreachable' }
      : d,
  );
}

/** Turns a request into discover() options, or throws a RouteError. No network traffic. */
export function planRequest(body: Body, nodes: NodeLookup, s: DiscoverRouteSettings): RoutePlan {
  const driver = body.driver === undefined ? 'onvif' : DRIVER_SETTINGS.find((d) => d === body.driver);
  if (!driver) throw new RouteError(400, `driver must be one of ${DRIVER_SETTINGS.join(', ')}`);
  const targetsIn =
    typeof body.targets === 'string' || (Array.isArray(body.targets) && body.targets.every((t) => typeof t === 'string'))
      ? (body.targets as string | string[])
      : undefined;
  if (body.targets !== undefined && targetsIn === undefined) throw new RouteError(400, 'targets must be a string or an array of strings');
  let list: TargetList | undefined;
  try {
    // Sized before anything is expanded: a /8 is refused here at once.
    list = targetsIn === undefined ? undefined : parseTargetList(targetsIn, s.maxDiscoverTargets);
  } catch (e) {
    throw new RouteError(400, errorMessage(e));
  }
  let wsDiscovery: true | string | false = false;
  if (body.wsDiscovery === true) wsDiscovery = true;
  else if (typeof body.wsDiscovery === 'string' && body.wsDiscovery.trim() !== '') {
    wsDiscovery = body.wsDiscovery.trim();
    let probes;
    try {
      probes = probeTargets(wsDiscovery);
    } catch (e) {
      throw new RouteError(400, errorMessage(e));
    }
    // A directed (unicast) probe goes only to an address the request also lists as a target.
    for (const p of probes) {
      if (p.kind === 'directed' && !list?.hasHost(p.address)) {
        throw new RouteError(400, `a directed WS-Discovery probe may only go to an address listed in targets (${p.address} is not)`);
      }
    }
  }
  const timeoutMs = Math.min(Math.max(Number(body.timeoutMs) || 5000, 500), 30_000);

  let user = typeof body.user === 'string' && body.user !== '' ? body.user : undefined;
  let password = typeof body.password === 'string' ? body.password : undefined;
  // Basic (the password in clear) is the caller's choice for a login it sends, and the saved
  // node's own setting (nvr-source's allowBasicAuth, when it has one) for a stored login.
  let allowBasicAuth = password !== undefined && body.allowBasicAuth === true;
  let acceptSelfSigned = body.acceptSelfSigned === true;
  if (password === undefined && body.nodeId !== undefined) {
    const id = typeof body.nodeId === 'string' ? body.nodeId : '';
    const def = id ? nodes.config(id) : undefined;
    if (!def || !CREDENTIAL_NODE_TYPES.has(def.type)) throw new RouteError(403, REFUSED_NODE);
    const stored = nodes.credentials(id);
    if (stored?.password !== undefined || stored?.user) {
      const own = ownTargets(def);
      const where = `node ${id} (${def.type})`;
      if (!own) throw new RouteError(403, `${where} has no saved host and ports, so its stored login is not used; send the user name and password`);
      if (wsDiscovery)
        throw new RouteError(403, `the stored login of ${where} is not used with WS-Discovery (it finds other devices); send the user name and password`);
      if (list) {
        for (const t of list) {
          if (!own.has(t.host, t.port)) {
            throw new RouteError(
              403,
              `the stored login of ${where} is only used with the host and ports saved in that node (${t.host}:${t.port} is not one); send the user name and password, or deploy the node first`,
            );
          }
        }
      } else {
        if (own.size > s.maxDiscoverTargets)
          throw new RouteError(400, `node ${id} has more than ${s.maxDiscoverTargets} saved targets; list the ones to probe`);
        list = own;
      }
      user = user ?? stored.user;
      password = stored.password;
      allowBasicAuth = def.allowBasicAuth === true;
      // The stored password goes only to a device the node itself would trust.
      acceptSelfSigned = def.acceptSelfSigned === true;
    }
  }
  if (!list && !wsDiscovery) throw new RouteError(400, 'give targets (host:port list) or enable WS-Discovery');
  if (driver !== 'onvif') {
    // A vendor API is asked port after port, with a login: one recorder, few ports, no scan.
    if (wsDiscovery || !list) throw new RouteError(400, `the ${driver} driver lists one recorder: give its host and ports as targets, without WS-Discovery`);
    if (list.size > MAX_PORTS) throw new RouteError(400, `the ${driver} driver asks at most ${MAX_PORTS} ports of one recorder`);
    const hosts = new Set([...list].map((t) => t.host));
    if (hosts.size !== 1) throw new RouteError(400, `the ${driver} driver lists one recorder: give the ports of one host`);
  }
  return {
    driver,
    targets: list ? [...list].map((t) => target(t.host, t.port)) : undefined,
    wsDiscovery,
    user,
    password,
    allowBasicAuth,
    acceptSelfSigned,
    timeoutMs,
    maxTargets: s.maxDiscoverTargets,
  };
}

/** The Express handler (after Node-RED's permission check). */
export function discoverRoute(
  nodes: NodeLookup,
  settings: () => DiscoverRouteSettings,
  /** The discovery itself; the fuzzer passes a stub so fuzzed requests never reach a network. */
  run: (o: RoutePlan) => Promise<DiscoveredDevice[]> = (o) => discoverWithDriver(o, o.driver),
): (req: Request, res: Response) => void {
  return guardedRoute(nodes, settings, async (o) => blurProbeErrors(await run(o)));
}

/**
 * Any admin route that contacts devices (Discover, Check): JSON only (a cross-site form cannot
 * trigger it), rate-limited per user, the request planned by the same rules (stored logins only of
 * our node types and only against that node's own host and ports; bounded targets), and the work
 * aborted when the caller goes away. `body` adjusts the request before planning.
 */
export function guardedRoute(
  nodes: NodeLookup,
  settings: () => DiscoverRouteSettings,
  run: (o: RoutePlan & { signal: AbortSignal }) => Promise<unknown>,
  body: (b: Body) => Body = (b) => b,
): (req: Request, res: Response) => void {
  const limiter = new RateLimiter(settings);
  return (req, res) => {
    const fail = (e: unknown) => {
      if (res.headersSent) return;
      if (e instanceof RouteError) {
        const retry = (e as RouteError & { retryAfterSec?: number }).retryAfterSec;
        if (retry) res.set('Retry-After', String(retry));
        res.status(e.status).json({ error: e.message });
      } else res.status(400).json({ error: errorMessage(e) });
    };
    if (mediaType(req.headers['content-type']) !== 'application/json') {
      return void res.status(415).json({ error: 'send the request as Content-Type: application/json' });
    }
    const who = (req as Request & { user?: { username?: string } }).user?.username;
    let release: () => void;
    let opts: RoutePlan;
    try {
      release = limiter.acquire(who ? `user:${who}` : `addr:${req.ip ?? req.socket.remoteAddress ?? '?'}`);
    } catch (e) {
      return fail(e);
    }
    try {
      opts = planRequest(body((req.body ?? {}) as Body), nodes, settings());
    } catch (e) {
      release();
      return fail(e);
    }
    // A caller that goes away stops its work.
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) ac.abort();
    });
    run({ ...opts, signal: ac.signal })
      .then((answer) => {
        if (!res.headersSent) res.json(answer);
      }, fail)
      .finally(release);
  };
}
