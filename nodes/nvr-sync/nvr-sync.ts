// nvr-sync: a thin adapter over lib/sync's SyncEngine. Syncs every source in the catalog (so it
// resumes after a restart with no inject), picks up new ones from nvr-source messages or by
// watching the catalog, and turns engine events into messages and a status badge.
import * as path from 'node:path';
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import { openCatalog, type Catalog, type VideoSourceRow } from '../../lib/catalog';
import { SyncEngine } from '../../lib/sync/engine';
import type { FileEvent, SyncEvent } from '../../lib/sync/types';
import { asError, errorMessage } from '../../lib/errors';
import { WRONG_PASSWORD } from '../../lib/vendors/errors';

interface NvrSyncDef extends NodeDef {
  dbPath: string;
  segmentMinutes: number | string;
  concurrency: number | string;
  sinceHours: number | string;
  maxAgeDays: number | string;
  maxGB: number | string;
  minFreeGB: number | string;
  fastReplay: boolean;
}

interface SourceCredentials {
  user?: string;
  password?: string;
}

const WATCH_MS = 3000;

function optionalNumber(v: number | string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function clock(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function parseDate(v: unknown, what: string): Date {
  const d = v instanceof Date ? v : typeof v === 'string' || typeof v === 'number' ? new Date(v) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new Error(`backfill: "${what}" must be a date (ISO-8601 text or epoch ms), got ${JSON.stringify(v)}`);
  return d;
}

export = function register(RED: NodeAPI): void {
  // One engine per database in this process: two nvr-sync nodes on one catalog would both fetch
  // every segment (the catalog would keep one row, but the NVR would serve it twice).
  const ownerOfDb = new Map<string, string>();

  function NvrSyncNode(this: Node, def: NvrSyncDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const dbFile = path.resolve(def.dbPath?.trim() || path.join(RED.settings.userDir ?? process.cwd(), 'vtrack-onvif.db'));
    const owner = ownerOfDb.get(dbFile);
    if (owner && owner !== node.id) {
      const text = `another nvr-sync (${owner}) already syncs ${path.basename(dbFile)}`;
      node.status({ fill: 'yellow', shape: 'ring', text });
      node.warn(`${text}; this node stays idle. Use one nvr-sync per database.`);
      node.on('input', (_msg, _send, done) => done(new Error(text)));
      return;
    }
    ownerOfDb.set(dbFile, node.id);
    let catalog: Catalog;
    try {
      catalog = openCatalog(dbFile);
    } catch (e) {
      node.status({ fill: 'red', shape: 'ring', text: `database: ${errorMessage(e)}`.slice(0, 80) });
      node.error(`cannot open the catalog ${dbFile}: ${errorMessage(e)}`);
      ownerOfDb.delete(dbFile);
      node.on('input', (_msg, _send, done) => done(new Error(`cannot open the catalog ${dbFile}: ${errorMessage(e)}`)));
      return;
    }

    const engine = new SyncEngine({
      catalog,
      // Credentials stay with the nvr-source node that owns the source; looked up in-process.
      credentialsFor: (source: VideoSourceRow) => {
        if (!source.nodeId) return undefined;
        const c = RED.nodes.getCredentials(source.nodeId) as SourceCredentials | undefined;
        return c?.user ? { user: c.user, password: c.password ?? '' } : undefined;
      },
      settings: {
        segmentMinutes: optionalNumber(def.segmentMinutes) ?? 10,
        concurrency: optionalNumber(def.concurrency) ?? 2,
        initialBackfillHours: def.sinceHours === '' || def.sinceHours === undefined ? 24 : Math.max(0, Number(def.sinceHours) || 0),
        fastReplay: def.fastReplay !== false,
        minFreeBytes: (def.minFreeGB === '' || def.minFreeGB === undefined ? 0.5 : Math.max(0, Number(def.minFreeGB) || 0)) * 1024 ** 3,
      },
      retention: { maxAgeDays: optionalNumber(def.maxAgeDays), maxGB: optionalNumber(def.maxGB) },
      startDelayMs: 100,
    });

    let lastError: string | undefined;
    const showIdle = () => {
      if (engine.isPaused) return node.status({ fill: 'grey', shape: 'ring', text: 'paused' });
      if (engine.isRunning()) return;
      const next = engine.sourceIds().map((id) => engine.nextRunAt(id)).filter((d): d is Date => Boolean(d)).sort((a, b) => a.getTime() - b.getTime())[0];
      if (lastError) node.status({ fill: 'red', shape: 'ring', text: `error: ${lastError}`.slice(0, 70) + (next ? ` · retry ${clock(next)}` : '') });
      else if (engine.sourceIds().length === 0) node.status({ fill: 'grey', shape: 'ring', text: 'no sources yet' });
      else node.status({ fill: 'green', shape: 'dot', text: `idle${next ? ` · next ${clock(next)}` : ''}` });
    };

    engine.on('file', (f: FileEvent) => {
      const { cameraId: _c, sourceId: _s, ...payload } = f;
      node.send([{ topic: f.camera, payload: { ...payload, sourceId: f.sourceId } }, null]);
    });
    engine.on('event', (e: SyncEvent) => {
      node.send([null, { topic: e.event, payload: e }]);
      switch (e.event) {
        case 'started':
          lastError = undefined;
          node.status({ fill: 'blue', shape: 'ring', text: `${e.source}: looking for new recordings` });
          break;
        case 'progress':
          node.status({ fill: 'blue', shape: 'dot', text: `${e.camera.replace(/ Camera$/, '')} ${e.index}/${e.total} · ${e.percent}%` });
          break;
        case 'error':
          // A vendor NVR's rejected login says that it locks the account; a lock says until when.
          lastError = e.code === 'auth' && !e.error.includes(WRONG_PASSWORD) ? 'auth failed' : e.error;
          node.warn(`${e.source}${e.camera ? ` / ${e.camera}` : ''}: ${e.error}`);
          break;
        case 'warning':
          node.warn(`${e.source}${e.camera ? ` / ${e.camera}` : ''}: ${e.message}`);
          break;
        case 'finished':
          setImmediate(showIdle);
          break;
        default:
          break;
      }
    });

    const addKnownSources = () => {
      for (const s of catalog.listSources()) engine.addSource(s.id); // a no-op for a known source
      if (!engine.isRunning()) showIdle();
    };
    addKnownSources();
    // Sources saved by an nvr-source that is not wired to us appear within seconds.
    const watch = setInterval(() => {
      try {
        addKnownSources();
      } catch (e) {
        node.warn(`catalog: ${errorMessage(e)}`);
      }
    }, WATCH_MS);

    const pickSource = (sel: unknown): number | undefined => {
      if (sel === undefined || sel === null || sel === '') return undefined;
      const hit = catalog.listSources().find((s) => s.id === Number(sel) || s.name === sel);
      if (!hit) throw new Error(`unknown source ${JSON.stringify(sel)}`);
      return hit.id;
    };

    node.on('input', (msg: NodeMessage & { source?: unknown }, _send, done) => {
      const payload = (typeof msg.payload === 'object' && msg.payload !== null ? msg.payload : {}) as Record<string, unknown>;
      const run = async () => {
        switch (msg.topic) {
          case 'source': {
            // From nvr-source: the saved source (never with credentials).
            const id = Number(payload.id);
            if (!Number.isInteger(id) || !catalog.getSource(id)) throw new Error('topic "source": payload.id is not a saved source');
            engine.addSource(id);
            return;
          }
          case 'pause':
            engine.pause();
            showIdle();
            return;
          case 'resume':
            engine.resume();
            showIdle();
            return;
          case 'backfill': {
            const from = parseDate(payload.from, 'from');
            const to = parseDate(payload.to, 'to');
            const cameras = Array.isArray(payload.cameras) ? payload.cameras.map(String) : undefined;
            addKnownSources();
            const sums = await engine.backfill({ from, to, cameras }, pickSource(payload.source ?? msg.source));
            const errors = sums.flatMap((s) => s.errors);
            if (errors.length) throw new Error(`backfill: ${errors.join('; ')}`);
            return;
          }
          case 'sync':
          case undefined:
          case '': {
            addKnownSources();
            const sums = await engine.syncNow(pickSource(payload.source ?? msg.source));
            const errors = sums.flatMap((s) => s.errors);
            if (errors.length) throw new Error(`sync: ${errors.join('; ')}`);
            return;
          }
          default:
            throw new Error(`unknown topic "${msg.topic}": use sync, backfill, pause, resume or source`);
        }
      };
      run().then(
        () => done(),
        (e: unknown) => {
          const err = asError(e);
          node.status({ fill: 'red', shape: 'ring', text: err.message.slice(0, 70) });
          done(err);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(watch);
      // Abort downloads (their .part files are removed) and wait, but never past Node-RED's limit.
      const guard = setTimeout(finish, 12_000);
      engine.close().then(finish, finish);
      let finished = false;
      function finish() {
        if (finished) return;
        finished = true;
        clearTimeout(guard);
        if (ownerOfDb.get(dbFile) === node.id) ownerOfDb.delete(dbFile);
        try {
          catalog.close();
        } catch {
          // already closed
        }
        node.status({});
        done();
      }
    });
  }

  RED.nodes.registerType('nvr-sync', NvrSyncNode);
};
