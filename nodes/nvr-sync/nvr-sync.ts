// nvr-sync: the output and control side of an archive. It does not sync by itself: the archive's
// one engine syncs the sources that nvr-source nodes registered. This node turns the engine's
// events into messages (one per file, and sync events) and a summary badge, and takes commands
// (sync now, backfill, pause/resume, forget). Several nvr-sync nodes on one archive all listen to
// the same engine, so importing an example beside a running flow adds no second engine.
import type { Request, Response } from 'express';
import type { NodeAPI, Node, NodeDef, NodeMessage } from 'node-red';
import type { ArchiveConfigInput } from '../../lib/archive/settings';
import type { FileEvent, SyncEvent, SyncRange } from '../../lib/sync/types';
import { asError, errorMessage } from '../../lib/errors';
import { fitBadge, wordBadge } from '../../lib/archive/status';
import { formatVerifyReport } from '../../lib/sync/verify';
import { ArchiveProblem, useArchive, type ArchiveUse } from '../nvr-archive/use-archive';
import { nodeWords, wordProblem } from '../nvr-archive/node-words';

/** `archive` references the nvr-archive node; the rest are only read from flows saved by 0.1.0. */
interface NvrSyncDef extends NodeDef, ArchiveConfigInput {
  archive?: string;
}

/** The engine settings a 0.1.0 nvr-sync carried itself (its implicit archive takes them over). */
const LEGACY_KEYS = ['segmentMinutes', 'concurrency', 'sinceHours', 'maxAgeDays', 'maxGB', 'minFreeGB', 'fastReplay'] as const;

export = function register(RED: NodeAPI): void {
  const words = nodeWords(RED, 'nvr-sync');

  function parseDate(v: unknown, what: string): Date {
    const d = v instanceof Date ? v : typeof v === 'string' || typeof v === 'number' ? new Date(v) : undefined;
    if (!d || Number.isNaN(d.getTime())) throw new Error(RED._('nvr-sync.errors.badDate', { what, value: JSON.stringify(v) ?? String(v) }));
    return d;
  }

  function NvrSyncNode(this: Node, def: NvrSyncDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    // New nodes carry these keys empty (the editor keeps them for 0.1.0 flows): not settings.
    const legacy = !def.archive && LEGACY_KEYS.some((k) => def[k] !== undefined && def[k] !== '') ? def : undefined;
    let use: ArchiveUse;
    try {
      use = useArchive(RED, node, def, legacy);
    } catch (e) {
      // The archive's problem in this node's words; anything else as lib worded it.
      const worded = e instanceof ArchiveProblem ? wordProblem(e, words) : undefined;
      const err = worded?.error ?? asError(e);
      node.status(worded?.badge ?? { fill: 'red', shape: 'ring', text: fitBadge(err.message) });
      node.error(err.message);
      node.on('input', (_msg, _send, done) => done(err));
      return;
    }
    const archive = use.archive;
    let closed = false;

    const showSummary = () => {
      if (!closed) node.status(wordBadge(archive.board.summaryStatus(archive.engine.isPaused), words));
    };
    const onFile = (f: FileEvent) => {
      const { cameraId: _c, ...payload } = f;
      node.send([{ topic: f.camera, payload }, null]);
    };
    const onEvent = (e: SyncEvent) => {
      node.send([null, { topic: e.event, payload: e }]);
      if (e.event === 'error') node.warn(`${e.source}${e.camera ? ` / ${e.camera}` : ''}: ${e.error}`);
      else if (e.event === 'warning') node.warn(`${e.source}${e.camera ? ` / ${e.camera}` : ''}: ${e.message}`);
    };
    archive.on('file', onFile);
    archive.on('event', onEvent);
    archive.on('status', showSummary);
    // Sources registered before this node existed (nvr-source nodes start in flow order).
    setImmediate(showSummary);

    /** One source by name or id, which must be synced (claimed by a deployed nvr-source). */
    const pickSource = (sel: unknown): number | undefined => {
      if (sel === undefined || sel === null || sel === '') return undefined;
      const hit = archive.findSource(sel);
      if (!hit) throw new Error(RED._('nvr-sync.errors.unknownSource', { source: JSON.stringify(sel) }));
      if (!archive.engine.hasSource(hit.id)) throw new Error(RED._('nvr-sync.errors.inactiveSource', { source: hit.name }));
      return hit.id;
    };

    node.on('input', (msg: NodeMessage & { source?: unknown }, send, done) => {
      const payload = (typeof msg.payload === 'object' && msg.payload !== null ? msg.payload : {}) as Record<string, unknown>;
      const run = async () => {
        switch (msg.topic) {
          case 'source':
            // From nvr-source (0.1.0 wiring): its node already registered the source on save.
            return;
          case 'pause':
            archive.engine.pause();
            showSummary();
            return;
          case 'resume':
            archive.engine.resume();
            showSummary();
            return;
          case 'forget': {
            const sel = payload.source ?? msg.source;
            if (sel === undefined || sel === '') throw new Error(RED._('nvr-sync.errors.forgetWhich'));
            const r = await archive.forget(sel, { deleteFiles: payload.deleteFiles === true });
            send([null, { ...msg, topic: 'forgotten', payload: r }]);
            showSummary();
            return;
          }
          case 'verify': {
            // Catalog vs disk vs the NVR, per camera; the report goes out on the events output.
            const report = await archive.verify(payload.source ?? msg.source, { fix: payload.fix === true });
            send([null, { ...msg, topic: 'verify', payload: report }]);
            if (!report.clean) node.warn(RED._('nvr-sync.errors.verify', { report: formatVerifyReport(report) }));
            return;
          }
          case 'backfill': {
            const range: SyncRange = {
              from: parseDate(payload.from, 'from'),
              to: parseDate(payload.to, 'to'),
              cameras: Array.isArray(payload.cameras) ? payload.cameras.map(String) : undefined,
            };
            const sums = await archive.engine.backfill(range, pickSource(payload.source ?? msg.source));
            const errors = sums.flatMap((s) => s.errors);
            if (errors.length) throw new Error(RED._('nvr-sync.errors.backfill', { errors: errors.join('; ') }));
            return;
          }
          case 'sync':
          case undefined:
          case '': {
            const sums = await archive.syncNow(pickSource(payload.source ?? msg.source));
            const errors = sums.flatMap((s) => s.errors);
            if (errors.length) throw new Error(RED._('nvr-sync.errors.sync', { errors: errors.join('; ') }));
            return;
          }
          default:
            throw new Error(RED._('nvr-sync.errors.unknownTopic', { topic: String(msg.topic) }));
        }
      };
      run().then(
        () => done(),
        (e: unknown) => {
          const err = asError(e);
          node.status({ fill: 'red', shape: 'ring', text: fitBadge(err.message) });
          done(err);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      archive.removeListener('file', onFile);
      archive.removeListener('event', onEvent);
      archive.removeListener('status', showSummary);
      node.status({});
      // The last user of the archive closes its engine (aborting downloads; .part files removed).
      const guard = setTimeout(done, 12_000);
      use.release().then(
        () => {
          clearTimeout(guard);
          done();
        },
        (e: unknown) => {
          clearTimeout(guard);
          node.warn(errorMessage(e));
          done();
        },
      );
    });
  }

  RED.nodes.registerType('nvr-sync', NvrSyncNode);

  // The editor's "sync now" button (like inject's): the same as a message with topic "sync".
  RED.httpAdmin.post('/vtrack-onvif/sync/:id', RED.auth.needsPermission('nvr-sync.write'), (req: Request, res: Response) => {
    const n = RED.nodes.getNode(String(req.params.id));
    if (!n || (n as { type?: string }).type !== 'nvr-sync') return void res.status(404).json({ error: RED._('nvr-sync.errors.notDeployed') });
    n.receive({ topic: 'sync' });
    res.sendStatus(200);
  });
};
