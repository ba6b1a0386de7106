// nvr-source: a thin adapter that turns the node's settings (host, ports, chosen cameras, folders)
// into a saved source in the catalog — on deploy, and again when a message brings discovered
// devices or a new camera choice. Credentials stay Node-RED credentials of this node: nvr-sync
// reads them in-process by node id (RED.nodes.getCredentials / this node's getCredentials()).
import * as path from 'node:path';
import type { NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import { openCatalog, SourceNameTakenError, type Catalog, type SavedSource } from '../../lib/catalog';
import { discover } from '../../lib/onvif/discovery';
import { doctor } from '../../lib/onvif/doctor';
import type { DiscoveredDevice } from '../../lib/onvif/types';
import { saveSourceFromDevices, type CameraSelection } from '../../lib/sources/save-from-devices';
import { defaultWorkingDirectory } from '../../lib/storage';
import { errorMessage } from '../../lib/errors';
import { openVendorSession, probeVendor, type VendorDriverName } from '../../lib/vendors/driver';
import { VendorError } from '../../lib/vendors/errors';
import { parsePortList, target } from './ports';
import type { NvrSourceCredentials, NvrSourceDef, NvrSourceNode } from './types';

/** An error whose message is also short enough for the status badge. */
class SourceProblem extends Error {
  constructor(
    message: string,
    readonly status: string = message,
  ) {
    super(message);
  }
}

function isDevice(v: unknown): v is DiscoveredDevice {
  const d = v as Partial<DiscoveredDevice> | null;
  return typeof d === 'object' && d !== null && typeof d.host === 'string' && typeof d.port === 'number' && Array.isArray(d.cameras);
}

function selectionOf(def: NvrSourceDef): CameraSelection {
  if (def.selection !== 'chosen') return 'all';
  const chosen = Array.isArray(def.cameras) ? def.cameras : [];
  return { keys: chosen.map((c) => ({ port: Number(c.port), token: String(c.token) })) };
}

function selectionIsEmpty(sel: CameraSelection): boolean {
  return sel !== 'all' && ('names' in sel ? sel.names.length === 0 : sel.keys.length === 0);
}

/** The first device problem on the source's ports, worded for the user and the status badge. */
function deviceProblem(devices: DiscoveredDevice[], hasUser: boolean): SourceProblem | undefined {
  const bad = devices.find((d) => d.error);
  if (!bad) return undefined;
  const where = `${bad.host}:${bad.port}`;
  switch (bad.errorCode) {
    case 'auth':
      return hasUser
        ? new SourceProblem(`${where}: wrong user name or password (${bad.error})`, `wrong user name or password (${where})`)
        : new SourceProblem(`${where}: the NVR needs a user name and password`, `needs user name and password (${where})`);
    case 'unreachable':
    case 'timeout':
      return new SourceProblem(`NVR unreachable at ${where}: ${bad.error}`, `NVR unreachable at ${where}`);
    case 'not-onvif':
      return new SourceProblem(`${where} is not an ONVIF device: ${bad.error}`, `not ONVIF at ${where}`);
    default:
      return new SourceProblem(`${where}: ${bad.error}`);
  }
}

export = function register(RED: NodeAPI): void {
  function NvrSource(this: NvrSourceNode, def: NvrSourceDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const userDir = RED.settings.userDir ?? process.cwd();
    const dbFile = def.dbPath?.trim() ? path.resolve(userDir, def.dbPath.trim()) : path.join(userDir, 'vtrack-onvif.db');
    const timeoutMs = Number(def.timeout) > 0 ? Number(def.timeout) : 8000;
    const running = new Set<AbortController>();
    let selection = selectionOf(def);
    let catalog: Catalog | undefined;
    let closed = false;
    // Saves run one at a time: a message arriving during the deploy save waits for it.
    let queue: Promise<unknown> = Promise.resolve();

    node.getCredentials = () => ({ user: node.credentials?.user, password: node.credentials?.password });

    const name = (def.name ?? '').trim();
    const host = (def.host ?? '').trim();
    const driverSetting = def.driver ?? 'onvif';

    function checkName(): void {
      if (!name) throw new SourceProblem('give the NVR source a name (it names the source in the database)', 'no source name');
      let duplicate: string | undefined;
      RED.nodes.eachNode((n) => {
        const other = n as NodeDef & { d?: boolean };
        if (other.type === 'nvr-source' && other.id !== node.id && !other.d && (other.name ?? '').trim() === name) duplicate = other.id;
      });
      if (duplicate) throw new SourceProblem(`another nvr-source node (${duplicate}) is also named "${name}"; source names must be unique`, `duplicate source name "${name}"`);
    }

    function openOnce(): Catalog {
      if (!catalog) {
        try {
          catalog = openCatalog(dbFile);
        } catch (e) {
          throw new SourceProblem(`database: ${errorMessage(e)}`);
        }
      }
      return catalog;
    }

    async function discoverPorts(h: string, ports: number[]): Promise<DiscoveredDevice[]> {
      const ac = new AbortController();
      running.add(ac);
      try {
        const creds = node.credentials ?? {};
        return await discover({
          targets: ports.map((p) => target(h, p)),
          user: creds.user || undefined,
          password: creds.password,
          timeoutMs,
          signal: ac.signal,
        });
      } finally {
        running.delete(ac);
      }
    }

    /** A Hikvision/Dahua recorder on one of the ports (auto: probed; one login attempt in all,
     * none after a rejected one: both vendors lock the account). */
    async function vendorDevices(h: string, ports: number[]): Promise<{ driver: VendorDriverName; devices: DiscoveredDevice[] } | undefined> {
      const ac = new AbortController();
      running.add(ac);
      const creds = node.credentials?.user ? { user: node.credentials.user, password: node.credentials.password ?? '' } : undefined;
      try {
        for (const port of ports) {
          try {
            const found = driverSetting === 'hikvision' || driverSetting === 'dahua' ? driverSetting : await probeVendor(h, port, creds, timeoutMs, ac.signal);
            if (!found) continue;
            const session = await openVendorSession(found, h, port, creds, timeoutMs, ac.signal);
            return { driver: found, devices: [session.device] };
          } catch (e) {
            if (e instanceof VendorError && (e.kind === 'auth' || e.kind === 'locked')) throw new SourceProblem(`${h}:${port}: ${e.message}`, e.kind === 'auth' ? `wrong password (${h}:${port})` : `account locked (${h}:${port})`);
            if (driverSetting !== 'auto') throw new SourceProblem(`${h}:${port}: ${errorMessage(e)}`);
          }
        }
        return undefined;
      } finally {
        running.delete(ac);
      }
    }

    function preflight(): void {
      checkName();
      if (selectionIsEmpty(selection)) throw new SourceProblem('no cameras selected: press Discover and tick at least one camera, or choose "all cameras"', 'no cameras selected');
    }

    async function save(given?: DiscoveredDevice[]): Promise<SavedSource> {
      preflight();
      const hasUser = Boolean(node.credentials?.user);

      let h = host;
      let ports: number[];
      let devices: DiscoveredDevice[];
      let driver = 'onvif';
      if (given) {
        // Devices from onvif-discover: those on our host and ports, or, with no host set, every
        // device of the first host that has cameras.
        if (!h) h = (given.find((d) => d.cameras.length > 0) ?? given[0])?.host ?? '';
        if (!h) throw new SourceProblem('the message holds no devices', 'no devices in message');
        ports = host ? parsePortList(def.ports) : [...new Set(given.filter((d) => d.host === h).map((d) => d.port))].sort((a, b) => a - b);
        devices = given.filter((d) => d.host === h && ports.includes(d.port));
        if (devices.length === 0) throw new SourceProblem(`none of the ${given.length} discovered devices is ${h} on ports ${ports.join(', ')}`, 'no matching devices');
        // onvif-discover may have run without credentials: list the cameras again with ours.
        if (devices.some((d) => d.error || d.cameras.length === 0)) devices = await discoverPorts(h, ports);
      } else {
        if (!h) throw new SourceProblem('host is empty: give the NVR address (or feed this node devices from onvif-discover)', 'no host');
        try {
          ports = parsePortList(def.ports);
        } catch (e) {
          throw new SourceProblem(errorMessage(e), 'bad ports');
        }
        node.status({ fill: 'blue', shape: 'ring', text: `discovering ${h}…` });
        if (driverSetting === 'hikvision' || driverSetting === 'dahua') {
          const v = await vendorDevices(h, ports);
          if (!v) throw new SourceProblem(`no ${driverSetting} recorder at ${h} on ports ${ports.join(', ')}`, `not ${driverSetting} at ${h}`);
          driver = v.driver;
          devices = v.devices;
        } else {
          devices = await discoverPorts(h, ports);
          // auto: ONVIF where it offers recording search and replay, else a vendor API.
          if (driverSetting === 'auto' && !devices.some((d) => !d.error && d.services?.profileG && d.cameras.length > 0)) {
            const v = await vendorDevices(h, ports);
            if (v) {
              driver = v.driver;
              devices = v.devices;
            }
          }
        }
      }
      if (closed) throw new SourceProblem('node closed during discovery', 'closed');
      devices = devices.filter((d) => ports.includes(d.port));
      const problem = deviceProblem(devices, hasUser);
      if (problem) throw problem;

      const workdir = def.workdir?.trim() ? path.resolve(userDir, def.workdir.trim()) : defaultWorkingDirectory(userDir, name);
      const interval = def.interval === undefined || def.interval === '' ? 10 : Number(def.interval);
      if (!(interval > 0)) throw new SourceProblem(`sync interval must be a positive number of minutes, not "${String(def.interval)}"`, 'bad interval');
      const db = openOnce();
      const input = { name, host: h, ports, devices, selection, workingDirectory: workdir, nodeId: node.id, intervalMinutes: interval, driver };
      try {
        return await saveSourceFromDevices(db, input);
      } catch (e) {
        if (!(e instanceof SourceNameTakenError)) throw e;
        // The name belongs to another node id. If that node is deployed it is a real duplicate;
        // if not (the node was deleted or replaced), this node takes the source over.
        if (e.ownerNodeId && RED.nodes.getNode(e.ownerNodeId)) {
          throw new SourceProblem(`an NVR source named "${name}" is already saved by node ${e.ownerNodeId}`, `duplicate source name "${name}"`);
        }
        return await saveSourceFromDevices(db, { ...input, adoptName: true });
      }
    }

    function enqueue(devices?: DiscoveredDevice[]): Promise<SavedSource> {
      const next = queue.then(() => save(devices));
      queue = next.catch(() => undefined);
      return next;
    }

    function report(saved: SavedSource): void {
      const n = saved.cameras.filter((c) => c.enabled).length;
      node.status({ fill: 'green', shape: 'dot', text: `${n} camera${n === 1 ? '' : 's'} · ${saved.changed ? 'saved' : 'unchanged'}` });
    }

    function problemOf(e: unknown): SourceProblem {
      return e instanceof SourceProblem ? e : new SourceProblem(errorMessage(e));
    }

    function showProblem(p: SourceProblem): void {
      node.status({ fill: 'red', shape: 'ring', text: p.status.length > 80 ? `${p.status.slice(0, 79)}…` : p.status });
    }

    // Deploy: save from the editor settings. With no host the node waits for devices by message.
    let preflightProblem: SourceProblem | undefined;
    try {
      preflight();
    } catch (e) {
      preflightProblem = problemOf(e);
    }
    if (preflightProblem) {
      showProblem(preflightProblem);
      node.error(preflightProblem.message);
    } else if (!host) {
      node.status({ fill: 'yellow', shape: 'ring', text: 'waiting for devices' });
    } else {
      enqueue().then(
        (saved) => {
          if (closed) return;
          report(saved);
          node.send({ topic: 'source', payload: saved });
        },
        (e: unknown) => {
          if (closed) return;
          const p = problemOf(e);
          showProblem(p);
          node.error(p.message);
        },
      );
    }

    node.on('input', (msg: NodeMessageInFlow, send: (m: NodeMessage) => void, done: (err?: Error) => void) => {
      // topic "doctor": the capability check of this source's host and ports (vtrack-onvif doctor).
      if (msg.topic === 'doctor') {
        const ac = new AbortController();
        running.add(ac);
        node.status({ fill: 'blue', shape: 'ring', text: 'checking…' });
        Promise.resolve()
          .then(() => {
            if (!host) throw new SourceProblem('host is empty: the check needs the NVR address', 'no host');
            const creds = node.credentials ?? {};
            return doctor({ targets: parsePortList(def.ports).map((p) => target(host, p)), user: creds.user || undefined, password: creds.password, timeoutMs, signal: ac.signal });
          })
          .then(
            (reports) => {
              const n = reports.reduce((k, r) => k + r.problems.length, 0);
              if (!closed) node.status({ fill: n ? 'yellow' : 'green', shape: 'dot', text: n ? `check: ${n} problem(s)` : 'check: no problems' });
              send({ ...msg, topic: 'doctor', payload: reports });
              done();
            },
            (e: unknown) => {
              const p = problemOf(e);
              showProblem(p);
              done(p);
            },
          )
          .finally(() => running.delete(ac));
        return;
      }
      const payload = msg.payload as unknown;
      let devices: DiscoveredDevice[] | undefined;
      if (Array.isArray(payload) && payload.every(isDevice)) devices = payload;
      else if (isDevice(payload)) devices = [payload];
      else if (typeof payload === 'object' && payload !== null && Array.isArray((payload as { cameras?: unknown }).cameras)) {
        const names = (payload as { cameras: unknown[] }).cameras.filter((c): c is string => typeof c === 'string' && c.trim() !== '');
        selection = { names };
      } else {
        const p = new SourceProblem('payload must be discovered devices (onvif-discover output) or { cameras: ["camera name", ...] }', 'bad input');
        showProblem(p);
        done(p);
        return;
      }
      enqueue(devices).then(
        (saved) => {
          report(saved);
          send({ ...msg, topic: 'source', payload: saved });
          done();
        },
        (e: unknown) => {
          const p = problemOf(e);
          showProblem(p);
          done(p);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      for (const ac of running) ac.abort();
      // Let an in-flight save finish (it is one short transaction) before closing the database.
      const settle = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10_000);
        void queue.then(() => {
          clearTimeout(t);
          resolve();
        });
      });
      void settle.then(() => {
        catalog?.close();
        catalog = undefined;
        done();
      });
    });
  }

  RED.nodes.registerType<NvrSourceNode, NvrSourceDef, unknown, NvrSourceCredentials>('nvr-source', NvrSource, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });

  // The editor's Check button: the capability check (lib/onvif/doctor) of a host and ports.
  // Credentials travel in the JSON body, never in the URL; with only a node id, that deployed
  // node's stored credentials are used.
  RED.httpAdmin.post('/vtrack-onvif/doctor', RED.auth.needsPermission('nvr-source.write'), (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { targets?: unknown; user?: unknown; password?: unknown; nodeId?: unknown; timeoutMs?: unknown };
    let user = typeof body.user === 'string' ? body.user : undefined;
    let password = typeof body.password === 'string' ? body.password : undefined;
    if (password === undefined && typeof body.nodeId === 'string') {
      const stored = RED.nodes.getCredentials(body.nodeId) as NvrSourceCredentials | undefined;
      if (stored) {
        user = user || stored.user;
        password = stored.password;
      }
    }
    const targets = Array.isArray(body.targets) ? body.targets.filter((t): t is string => typeof t === 'string') : typeof body.targets === 'string' ? body.targets : [];
    doctor({ targets, user: user || undefined, password, timeoutMs: Math.min(Number(body.timeoutMs) || 5000, 30_000) }).then(
      (reports) => res.json(reports),
      (err: unknown) => res.status(400).json({ error: errorMessage(err) }),
    );
  });
};
