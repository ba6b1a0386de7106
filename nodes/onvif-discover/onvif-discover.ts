// onvif-discover: a thin adapter over lib/onvif/discovery. Also registers the admin route the
// editors (nvr-source's Discover button) call, so discovery from the editor uses the same engine.
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { discover, type DiscoverOptions } from '../../lib/onvif/discovery';
import type { DiscoveredDevice } from '../../lib/onvif/types';
import { asError } from '../../lib/errors';
import type { UserPassword } from '../../lib/credentials';
import { fitBadge } from '../../lib/archive/status';
import { checkNumber, DISCOVER_NUMBERS } from '../../lib/archive/settings';
import { deployedNodes, discoverRoute, routeSettingsOf } from './discover-route';

interface OnvifDiscoverDef extends NodeDef {
  targets: string;
  /** "off" | "all" | "interface" | "directed" */
  wsdMode: string;
  /** Interface name/address (mode interface) or address:port (mode directed). */
  wsdTarget: string;
  timeout: number | string;
  output: 'array' | 'each';
  onDeploy: boolean;
}

type DiscoverNode = Node<UserPassword>;

export = function register(RED: NodeAPI): void {
  function wsDiscoveryOption(mode: string | undefined, target: string | undefined): boolean | string {
    switch (mode) {
      case 'all':
        return true;
      case 'interface':
      case 'directed':
        if (!target?.trim())
          throw new Error(mode === 'directed' ? RED._('onvif-discover.errors.wsdNeedsAddress') : RED._('onvif-discover.errors.wsdNeedsInterface'));
        return target.trim();
      default:
        return false;
    }
  }

  function summary(devices: DiscoveredDevice[]): { text: string; fill: 'green' | 'yellow' } {
    const count = {
      devices: RED._('onvif-discover.status.devices', { count: devices.length }),
      cameras: RED._('onvif-discover.status.cameras', { count: devices.reduce((n, d) => n + d.cameras.length, 0) }),
    };
    const bad = devices.filter((d) => d.error).length;
    if (!bad) return { text: RED._('onvif-discover.status.found', count), fill: 'green' };
    return { text: RED._('onvif-discover.status.foundWithErrors', { ...count, bad }), fill: 'yellow' };
  }

  function OnvifDiscoverNode(this: DiscoverNode, def: OnvifDiscoverDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const running = new Set<AbortController>();
    let deployTimer: NodeJS.Timeout | undefined;
    // A discovery cut short by close must not paint the badge or log after the node is gone.
    let closed = false;

    /** The timeout setting by the editor's rule: an invalid one is refused, not read as 5 s. */
    function timeoutMs(): number {
      const r = checkNumber('timeout', def.timeout, DISCOVER_NUMBERS.timeout);
      if (r.problem) throw new Error(r.problem);
      return r.value as number;
    }

    /** Runs one discovery and shows its outcome on the badge; a failure rejects with an Error. */
    async function runDiscovery(overrides: Partial<DiscoverOptions>): Promise<DiscoveredDevice[]> {
      const ac = new AbortController();
      running.add(ac);
      node.status({ fill: 'blue', shape: 'ring', text: RED._('onvif-discover.status.searching') });
      try {
        const opts: DiscoverOptions = {
          targets: def.targets,
          wsDiscovery: wsDiscoveryOption(def.wsdMode, def.wsdTarget),
          user: node.credentials?.user || undefined,
          password: node.credentials?.password,
          timeoutMs: timeoutMs(),
          ...overrides,
          signal: ac.signal,
        };
        const devices = await discover(opts);
        const s = summary(devices);
        if (!closed) node.status({ fill: s.fill, shape: 'dot', text: fitBadge(s.text) });
        return devices;
      } catch (err) {
        const e = asError(err);
        if (!closed) node.status({ fill: 'red', shape: 'ring', text: fitBadge(e.message) });
        throw e;
      } finally {
        running.delete(ac);
      }
    }

    function emit(devices: DiscoveredDevice[], msg: NodeMessageInFlow | Record<string, unknown>, send: (m: NodeMessage) => void) {
      if (def.output === 'each') {
        for (const d of devices) send({ ...msg, topic: d.name ?? `${d.host}:${d.port}`, payload: d });
      } else {
        send({ ...msg, topic: (msg as { topic?: string }).topic ?? 'devices', payload: devices });
      }
    }

    node.on('input', (msg, send, done) => {
      // A message may narrow or redirect the search: msg.targets / msg.payload.targets, msg.timeout.
      const m = msg as NodeMessageInFlow & { targets?: unknown; timeout?: unknown };
      const p = (typeof msg.payload === 'object' && msg.payload !== null ? msg.payload : {}) as { targets?: unknown };
      const overrides: Partial<DiscoverOptions> = {};
      const t = m.targets ?? p.targets;
      if (typeof t === 'string' || Array.isArray(t)) overrides.targets = t as string | string[];
      if (m.timeout !== undefined) overrides.timeoutMs = Number(m.timeout);
      runDiscovery(overrides).then(
        (devices) => {
          emit(devices, msg, send);
          done();
        },
        (e: Error) => done(e),
      );
    });

    if (def.onDeploy) {
      deployTimer = setTimeout(() => {
        runDiscovery({}).then(
          (devices) => {
            if (!closed) emit(devices, { _msgid: RED.util.generateId() }, (m) => node.send(m));
          },
          (e: Error) => {
            if (!closed) node.error(e.message);
          },
        );
      }, 100);
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (deployTimer) clearTimeout(deployTimer);
      for (const ac of running) ac.abort();
      node.status({});
      done();
    });
  }

  RED.nodes.registerType<DiscoverNode, OnvifDiscoverDef, unknown, UserPassword>('onvif-discover', OnvifDiscoverNode, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });

  // Editors call this to list cameras (nvr-source's Discover button). Credentials travel in the
  // JSON body, never in the URL; with only a node id, that deployed node's stored login is used,
  // but only against the host and ports saved in it (see discover-route.ts for every rule).
  RED.httpAdmin.post('/vtrack-onvif/discover', RED.auth.needsPermission('onvif-discover.write'), discoverRoute(deployedNodes(RED), routeSettingsOf(RED)));
};
