// nvr-source: a thin adapter that turns the node's settings (host, ports, chosen cameras, folders)
// into a saved source in its archive — on deploy, and again when a message brings discovered
// devices or a new camera choice — and registers that source with the archive's sync engine,
// handing over its login in-process (never through SQLite or a message). While the node is
// deployed its source syncs; when it is deleted or disabled the source stops and is kept inactive.
// An NVR that is down at deploy does not lose the source: the last saved settings keep syncing
// and the save is retried with backoff until it succeeds.
import * as path from 'node:path';
import type { Request, Response } from 'express';
import type { NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { SourceNameTakenError, type SavedSource } from '../../lib/catalog';
import { discover } from '../../lib/onvif/discovery';
import { deployedNodes, guardedRoute, routeSettingsOf } from '../onvif-discover/discover-route';
import { doctor } from '../../lib/onvif/doctor';
import type { DiscoveredDevice } from '../../lib/onvif/types';
import { cameraKey, saveSourceFromDevices, type CameraSelection } from '../../lib/sources/save-from-devices';
import { defaultWorkingDirectory, safeFolderName, StorageError } from '../../lib/storage';
import { asError, errorMessage, optInNeeded } from '../../lib/errors';
import { checkFlag, checkNumber, SOURCE_NUMBERS } from '../../lib/archive/settings';
import { clock, wordBadge, type StatusMessage } from '../../lib/archive/status';
import { message, say, type Message, type Translate } from '../../lib/message';
import { backoffMs } from '../../lib/sync/retry';
import { ArchiveProblem, useArchive, type ArchiveUse } from '../nvr-archive/use-archive';
import { nodeWords, wordProblem } from '../nvr-archive/node-words';
import type { VendorDriverName } from '../../lib/vendors/driver';
import { findVendorRecorder, RecorderSearchError } from '../../lib/vendors/find-recorder';
import { VendorError } from '../../lib/vendors/errors';
import { parsePortList, target } from './ports';
import type { NvrSourceCredentials, NvrSourceDef, NvrSourceNode } from './types';

/** Saving again after the NVR was unreachable: 5 s, 10 s, 20 s ... at most every 5 minutes. */
const RETRY_BASE_MS = 5_000;
const RETRY_CAP_MS = 300_000;

/** The badge for a device refused because a per-source opt-in is off (both off by default). */
const OPT_IN_BADGE = {
  acceptSelfSigned: message('status.optIn.acceptSelfSigned'),
  allowBasicAuth: message('status.optIn.allowBasicAuth'),
} as const;

/**
 * Why a save (or a request) failed: the error for the log and Catch, worded when made, and a short
 * badge, worded when shown (a retry time may follow it). An error given as a string is lib's own
 * English (a setting rule, a storage or vendor error), which stays as lib worded it.
 */
class SourceProblem extends Error {
  readonly badge: Message;
  constructor(
    words: Translate,
    error: Message | string,
    /** Without one, the badge is the error itself. */
    badge?: Message,
    /** The NVR may come back: save again later. */
    readonly transient = false,
  ) {
    super(typeof error === 'string' ? error : say(error, words));
    this.badge = badge ?? message('status.cause.detail', { text: this.message });
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

/** Recordings picked in the grid: cameraKey → recording token; a pick that is not a token is a problem. */
function recordingPicks(def: NvrSourceDef, words: Translate): { picks: Record<string, string>; problem?: string } {
  const picks: Record<string, string> = {};
  for (const c of Array.isArray(def.cameras) ? def.cameras : []) {
    if (c.recording === undefined || c.recording === '') continue;
    if (typeof c.recording !== 'string')
      return { picks, problem: say(message('errors.badRecording', { camera: String(c.name), value: JSON.stringify(c.recording) }), words) };
    picks[cameraKey(Number(c.port), String(c.token))] = c.recording;
  }
  return { picks };
}

function selectionIsEmpty(sel: CameraSelection): boolean {
  return sel !== 'all' && ('names' in sel ? sel.names.length === 0 : sel.keys.length === 0);
}

/** The first device problem on the source's ports, worded for the user and the status badge. */
function deviceProblem(devices: DiscoveredDevice[], hasUser: boolean, words: Translate): SourceProblem | undefined {
  const bad = devices.find((d) => d.error);
  if (!bad) return undefined;
  const where = `${bad.host}:${bad.port}`;
  const error = bad.error ?? '';
  // Refused because a per-source opt-in is off: the badge names the setting, not "wrong password".
  const optIn = optInNeeded(error);
  if (optIn) return new SourceProblem(words, message('errors.atDevice', { where, error }), OPT_IN_BADGE[optIn]);
  switch (bad.errorCode) {
    case 'auth':
      return hasUser
        ? new SourceProblem(words, message('errors.wrongLogin', { where, error }), message('status.wrongLogin', { where }))
        : new SourceProblem(words, message('errors.needsLogin', { where }), message('status.needsLogin', { where }));
    case 'unreachable':
    case 'timeout':
      return new SourceProblem(words, message('errors.unreachable', { where, error }), message('status.unreachable', { where }), true);
    case 'not-onvif':
      return new SourceProblem(words, message('errors.notOnvif', { where, error }), message('status.notOnvif', { where }));
    default:
      return new SourceProblem(words, message('errors.atDevice', { where, error }));
  }
}

export = function register(RED: NodeAPI): void {
  function NvrSource(this: NvrSourceNode, def: NvrSourceDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const words = nodeWords(RED, 'nvr-source');
    /** A badge in this node's words. */
    const show = (s: StatusMessage) => node.status(wordBadge(s, words));
    const userDir = RED.settings.userDir ?? process.cwd();
    const running = new Set<AbortController>();
    let selection = selectionOf(def);
    let closed = false;
    let retryTimer: NodeJS.Timeout | undefined;
    let retries = 0;
    // Saves run one at a time: a message arriving during the deploy save waits for it.
    let queue: Promise<unknown> = Promise.resolve();
    /** The problem of the last save, shown until the source syncs or saves again. */
    let saveProblem: SourceProblem | undefined;

    // Per-source opt-ins (flows.json settings, not secrets), both off unless ticked in the editor:
    // Basic sends the password in clear; a self-signed certificate cannot prove the device is ours.
    const basicSetting = checkFlag('allow Basic authentication', def.allowBasicAuth);
    const selfSignedSetting = checkFlag('accept self-signed certificate', def.acceptSelfSigned);
    const allowBasicAuth = basicSetting.value;
    const acceptSelfSigned = selfSignedSetting.value;
    const login = () => (node.credentials?.user ? { user: node.credentials.user, password: node.credentials.password ?? '', allowBasicAuth } : undefined);

    const name = (def.name ?? '').trim();
    const host = (def.host ?? '').trim();
    const driverSetting = def.driver ?? 'onvif';

    /** A problem's badge, with the time of the next save when one is planned. */
    function showProblem(p: SourceProblem, retryAt?: string): void {
      show({ fill: 'red', shape: 'ring', parts: [p.badge, ...(retryAt ? [message('status.retry', { at: retryAt })] : [])] });
    }

    // The same number rules as the editor: an invalid value is refused, never read as another.
    const numberProblems: string[] = [];
    const interval = checkNumber('sync interval', def.interval, SOURCE_NUMBERS.interval);
    const timeout = checkNumber('discovery timeout', def.timeout, SOURCE_NUMBERS.timeout);
    const picked = recordingPicks(def, words);
    for (const r of [interval, timeout, basicSetting, selfSignedSetting, picked]) if (r.problem) numberProblems.push(r.problem);
    const intervalMinutes = interval.value ?? 10;
    const timeoutMs = timeout.value ?? 8000;

    let use: ArchiveUse;
    try {
      use = useArchive(RED, node, def);
    } catch (e) {
      const p = e instanceof ArchiveProblem ? wordProblem(e, words) : { error: new SourceProblem(words, errorMessage(e)) };
      if ('badge' in p) node.status(p.badge);
      else showProblem(p.error);
      node.error(p.error.message);
      node.on('input', (_msg: NodeMessageInFlow, _send: (m: NodeMessage) => void, done: (err?: Error) => void) => done(p.error));
      return;
    }
    const archive = use.archive;

    // Claim at once: the source this node saved before (if any) resumes syncing from its last
    // saved settings within a second of deploy, whatever the NVR answers to the save below.
    const prior = archive.claim(node.id, login(), { acceptSelfSigned });
    const mySource = (): number | undefined => archive.sourceOf(node.id);

    // The badge follows this node's own source: syncing, last sync, backlog, error.
    const onStatus = (sourceId: number) => {
      if (closed || sourceId !== mySource()) return;
      const status = archive.board.sourceStatus(sourceId);
      // "Looking for new recordings" says less than the save result it would replace.
      if (!status || (status.fill === 'blue' && status.shape === 'ring')) return;
      if (saveProblem && status.fill !== 'blue') return showProblem(saveProblem, retryTimer ? retryClock : undefined);
      show(status);
    };
    archive.on('status', onStatus);
    let retryClock = '';

    function checkName(): void {
      if (!name) throw new SourceProblem(words, message('errors.noName'), message('status.noName'));
      let duplicate: string | undefined;
      RED.nodes.eachNode((n) => {
        const other = n as NodeDef & { d?: boolean };
        if (other.type === 'nvr-source' && other.id !== node.id && !other.d && (other.name ?? '').trim() === name) duplicate = other.id;
      });
      if (duplicate) throw new SourceProblem(words, message('errors.duplicateNode', { id: duplicate, name }), message('status.duplicateName', { name }));
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
          allowBasicAuth,
          acceptSelfSigned,
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
      try {
        const found = await findVendorRecorder(h, ports, driverSetting === 'hikvision' || driverSetting === 'dahua' ? driverSetting : 'auto', {
          credentials: login(),
          timeoutMs,
          signal: ac.signal,
          connection: { acceptSelfSigned },
        });
        return found && { driver: found.driver, devices: [found.device] };
      } catch (e) {
        if (!(e instanceof RecorderSearchError)) throw e;
        const where = `${e.host}:${e.port}`;
        const error = message('errors.atDevice', { where, error: errorMessage(e.cause) });
        const optIn = optInNeeded(errorMessage(e.cause));
        if (optIn) throw new SourceProblem(words, error, OPT_IN_BADGE[optIn]);
        const kind = e.cause instanceof VendorError ? e.cause.kind : undefined;
        if (kind === 'auth') throw new SourceProblem(words, error, message('status.wrongPassword', { where }));
        if (kind === 'locked') throw new SourceProblem(words, error, message('status.locked', { where }));
        throw new SourceProblem(words, error);
      } finally {
        running.delete(ac);
      }
    }

    function preflight(): void {
      if (numberProblems.length)
        throw new SourceProblem(words, numberProblems.join('; '), message('status.invalidSetting', { what: numberProblems[0].split(':')[0] }));
      checkName();
      if (selectionIsEmpty(selection)) throw new SourceProblem(words, message('errors.noCameras'), message('status.noCameras'));
    }

    function workingDirectory(): string {
      if (def.workdir?.trim()) return path.resolve(userDir, def.workdir.trim());
      if (use.settings.downloadRoot) return path.join(use.settings.downloadRoot, safeFolderName(name));
      return defaultWorkingDirectory(userDir, name);
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
        if (!h) throw new SourceProblem(words, message('errors.noDevices'), message('status.noDevices'));
        ports = host ? parsePortList(def.ports) : [...new Set(given.filter((d) => d.host === h).map((d) => d.port))].sort((a, b) => a - b);
        devices = given.filter((d) => d.host === h && ports.includes(d.port));
        if (devices.length === 0)
          throw new SourceProblem(words, message('errors.noMatch', { count: given.length, host: h, ports: ports.join(', ') }), message('status.noMatch'));
        // onvif-discover may have run without credentials: list the cameras again with ours.
        if (devices.some((d) => d.error || d.cameras.length === 0)) devices = await discoverPorts(h, ports);
      } else {
        if (!h) throw new SourceProblem(words, message('errors.noHost'), message('status.noHost'));
        try {
          ports = parsePortList(def.ports);
        } catch (e) {
          throw new SourceProblem(words, errorMessage(e), message('status.badPorts'));
        }
        show({ fill: 'blue', shape: 'ring', parts: [message('status.discovering', { host: h })] });
        if (driverSetting === 'hikvision' || driverSetting === 'dahua') {
          const v = await vendorDevices(h, ports);
          if (!v)
            throw new SourceProblem(
              words,
              message('errors.notVendor', { driver: driverSetting, host: h, ports: ports.join(', ') }),
              message('status.notVendor', { driver: driverSetting, host: h }),
            );
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
      if (closed) throw new SourceProblem(words, message('errors.closed'), message('status.closed'));
      devices = devices.filter((d) => ports.includes(d.port));
      const problem = deviceProblem(devices, hasUser, words);
      if (problem) throw problem;

      const input = {
        name,
        host: h,
        ports,
        devices,
        selection,
        workingDirectory: workingDirectory(),
        nodeId: node.id,
        intervalMinutes,
        driver,
        recordings: picked.picks,
      };
      try {
        return await saveSourceFromDevices(archive.catalog, input);
      } catch (e) {
        if (!(e instanceof SourceNameTakenError)) throw e;
        // The name belongs to another node id. If that node is deployed it is a real duplicate;
        // if not (the node was deleted or replaced), this node takes the source over.
        if (e.ownerNodeId && RED.nodes.getNode(e.ownerNodeId)) {
          throw new SourceProblem(words, message('errors.duplicateSaved', { name, id: e.ownerNodeId }), message('status.duplicateName', { name }));
        }
        return await saveSourceFromDevices(archive.catalog, { ...input, adoptName: true });
      }
    }

    /** Save, then hand the source to the archive's engine with this node's login. */
    function enqueue(devices?: DiscoveredDevice[]): Promise<SavedSource> {
      const next = queue.then(async () => {
        const saved = await save(devices);
        if (!closed) archive.attach(node.id, saved.id);
        return saved;
      });
      queue = next.catch(() => undefined);
      return next;
    }

    function report(saved: SavedSource): void {
      saveProblem = undefined;
      retries = 0;
      const count = saved.cameras.filter((c) => c.enabled).length;
      const result = saved.changed ? message('status.saved', { count }) : message('status.unchanged', { count });
      show(archive.board.afterSaveStatus(saved.id, { fill: 'green', shape: 'dot', parts: [result] }));
    }

    function problemOf(e: unknown): SourceProblem {
      if (e instanceof SourceProblem) return e;
      // The badge names the cause first; the message (log, Catch) has the whole path.
      if (e instanceof StorageError) {
        const cause = {
          'is-file': message('status.folder.isFile'),
          'not-writable': message('status.folder.notWritable'),
          'low-space': message('status.cause.diskFull'),
          escape: message('status.folder.outside'),
          'not-absolute': message('status.folder.bad'),
          failed: message('status.folder.failed'),
        }[e.code];
        return new SourceProblem(words, e.message, cause);
      }
      return new SourceProblem(words, errorMessage(e));
    }

    /** The deploy save, again after a transient failure until it succeeds or the node closes. */
    function saveFromSettings(): void {
      retryTimer = undefined;
      enqueue().then(
        (saved) => {
          if (closed) return;
          report(saved);
          node.send({ topic: 'source', payload: saved });
        },
        (e: unknown) => {
          if (closed) return;
          const p = problemOf(e);
          saveProblem = p;
          if (p.transient) {
            const delay = backoffMs(++retries, RETRY_BASE_MS, RETRY_CAP_MS);
            retryClock = clock(new Date(Date.now() + delay));
            retryTimer = setTimeout(saveFromSettings, delay);
            const kept = prior || mySource() !== undefined;
            // Logged once, not on every retry of the same outage.
            if (retries === 1)
              node.warn(kept ? RED._('nvr-source.errors.retryingKept', { problem: p.message }) : RED._('nvr-source.errors.retrying', { problem: p.message }));
            showProblem(p, retryClock);
          } else {
            showProblem(p);
            node.error(p.message);
          }
        },
      );
    }

    // Deploy: save from the editor settings. With no host the node waits for devices by message.
    let preflightProblem: SourceProblem | undefined;
    try {
      preflight();
    } catch (e) {
      preflightProblem = problemOf(e);
    }
    if (preflightProblem) {
      saveProblem = preflightProblem;
      showProblem(preflightProblem);
      node.error(preflightProblem.message);
    } else if (!host) {
      show({ fill: 'yellow', shape: 'ring', parts: [prior ? message('status.setHost') : message('status.waitingDevices')] });
    } else {
      saveFromSettings();
    }

    node.on('input', (msg: NodeMessageInFlow, send: (m: NodeMessage) => void, done: (err?: Error) => void) => {
      if (msg.topic === 'sync') {
        // Sync this node's own source now (the editor's button sends this too).
        const id = mySource();
        if (id === undefined) {
          done(new Error(saveProblem ? RED._('nvr-source.errors.notSavedBecause', { problem: saveProblem.message }) : RED._('nvr-source.errors.notSaved')));
          return;
        }
        archive.syncNow(id).then(
          (sums) => {
            const errors = sums.flatMap((x) => x.errors);
            done(errors.length ? new Error(RED._('nvr-source.errors.sync', { errors: errors.join('; ') })) : undefined);
          },
          (e: unknown) => done(asError(e)),
        );
        return;
      }
      // topic "doctor": the capability check of this source's host and ports (vtrack-onvif doctor).
      if (msg.topic === 'doctor') {
        const ac = new AbortController();
        running.add(ac);
        show({ fill: 'blue', shape: 'ring', parts: [message('status.checking')] });
        Promise.resolve()
          .then(() => {
            if (!host) throw new SourceProblem(words, message('errors.checkNoHost'), message('status.noHost'));
            const creds = node.credentials ?? {};
            return doctor({
              targets: parsePortList(def.ports).map((p) => target(host, p)),
              user: creds.user || undefined,
              password: creds.password,
              allowBasicAuth,
              acceptSelfSigned,
              timeoutMs,
              signal: ac.signal,
            });
          })
          .then(
            (reports) => {
              const n = reports.reduce((k, r) => k + r.problems.length, 0);
              if (!closed)
                show({ fill: n ? 'yellow' : 'green', shape: 'dot', parts: [n ? message('status.checkProblems', { count: n }) : message('status.checkOk')] });
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
        const p = new SourceProblem(words, message('errors.badInput'), message('status.badInput'));
        showProblem(p);
        done(p);
        return;
      }
      enqueue(devices).then(
        (saved) => {
          if (retryTimer) clearTimeout(retryTimer);
          retryTimer = undefined;
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

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      for (const ac of running) ac.abort();
      archive.removeListener('status', onStatus);
      // Let an in-flight save finish (it is one short transaction), then stop this source's sync
      // (kept as inactive when the node was deleted or disabled) and leave the archive.
      const settle = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10_000);
        void queue.then(() => {
          clearTimeout(t);
          resolve();
        });
      });
      void settle
        .then(() => archive.release(node.id, removed))
        .catch((e: unknown) => node.warn(RED._('nvr-source.errors.closing', { error: errorMessage(e) })))
        .then(() => use.release())
        .catch(() => undefined)
        .then(() => done());
    });
  }

  RED.nodes.registerType<NvrSourceNode, NvrSourceDef, unknown, NvrSourceCredentials>('nvr-source', NvrSource, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });

  // The editor's "sync now" button: the same as a message with topic "sync".
  RED.httpAdmin.post('/vtrack-onvif/source/:id/sync', RED.auth.needsPermission('nvr-source.write'), (req: Request, res: Response) => {
    const n = RED.nodes.getNode(String(req.params.id));
    if (!n || (n as { type?: string }).type !== 'nvr-source') return void res.status(404).json({ error: RED._('nvr-source.errors.notDeployed') });
    n.receive({ topic: 'sync' });
    res.sendStatus(200);
  });

  // The editor's Check button: the capability check (lib/onvif/doctor) of a host and ports.
  // Credentials travel in the JSON body, never in the URL; with only a node id, that deployed
  // node's stored credentials are used.
  // The request is read by the discover route's rules (planRequest): a stored login only against
  // that node's own host and ports, and with that node's Basic / self-signed settings.
  // The Check button: the same guards as Discover (JSON only, rate limit, stored logins only
  // against this node's own host and ports), never WS-Discovery.
  RED.httpAdmin.post(
    '/vtrack-onvif/doctor',
    RED.auth.needsPermission('nvr-source.write'),
    guardedRoute(
      deployedNodes(RED),
      routeSettingsOf(RED),
      (o) =>
        doctor({
          targets: o.targets ?? [],
          user: o.user,
          password: o.password,
          allowBasicAuth: o.allowBasicAuth,
          acceptSelfSigned: o.acceptSelfSigned,
          timeoutMs: o.timeoutMs,
          signal: o.signal,
        }),
      (b) => ({ ...b, wsDiscovery: false }),
    ),
  );
};
