// nvr-archive: the config node (like mqtt-broker) that owns one archive — the catalog database
// and the sync engine of that file, with the settings every source in it shares. nvr-source and
// nvr-sync nodes reference it. Also serves the editor's source list and its Forget button.
import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { acquireArchive, archiveFor, openArchives, releaseArchive, type Archive } from '../../lib/archive/archive';
import { parseArchiveSettings, resolveDbFile, type ArchiveConfigInput } from '../../lib/archive/settings';
import { errorMessage } from '../../lib/errors';
import type { ArchiveConfigNode } from './use-archive';

interface NvrArchiveDef extends NodeDef, ArchiveConfigInput {}

let reconcileListener: { events: NodeAPI['events']; fn: () => void } | undefined;

export = function register(RED: NodeAPI): void {
  function NvrArchive(this: ArchiveConfigNode, def: NvrArchiveDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const userDir = RED.settings.userDir ?? process.cwd();
    try {
      node.settings = parseArchiveSettings(def, userDir);
    } catch (e) {
      // Refused, never read as another value: the nodes using this archive show the problem.
      node.problem = errorMessage(e);
      node.error(RED._('nvr-archive.errors.invalid', { problem: node.problem }));
      return;
    }
    const settings = node.settings;
    try {
      const { warning } = acquireArchive(node.id, settings, 'archive-node');
      if (warning) node.warn(warning);
    } catch (e) {
      node.problem = RED._('nvr-archive.errors.database', { file: settings.dbFile, error: errorMessage(e) });
      node.error(node.problem);
      return;
    }
    node.on('close', (_removed: boolean, done: () => void) => {
      releaseArchive(node.id, settings.dbFile).then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType('nvr-archive', NvrArchive);

  // After every deploy and start, every node that claims a source has been created: a source no
  // node claims (deleted while Node-RED was stopped, or disabled) is marked inactive.
  // (Registered once per runtime: a test harness may load this module again into the same one.)
  if (reconcileListener) reconcileListener.events.removeListener('flows:started', reconcileListener.fn);
  const fn = () => {
    for (const a of openArchives()) {
      try {
        a.reconcile();
      } catch (e) {
        RED.log.warn(RED._('nvr-archive.errors.reconcile', { file: a.file, error: errorMessage(e) }));
      }
    }
  };
  RED.events.on('flows:started', fn);
  reconcileListener = { events: RED.events, fn };

  /** The archive of a deployed nvr-archive node, or "default" for <userDir>/vtrack-onvif.db. */
  function archiveOf(id: string): Archive | undefined {
    if (id === 'default') return archiveFor(resolveDbFile('', RED.settings.userDir ?? process.cwd()));
    const config = RED.nodes.getNode(id) as ArchiveConfigNode | null;
    return config?.settings ? archiveFor(config.settings.dbFile) : undefined;
  }

  RED.httpAdmin.get('/vtrack-onvif/archive/:id/sources', RED.auth.needsPermission('nvr-archive.read'), (req: Request, res: Response) => {
    const archive = archiveOf(String(req.params.id));
    if (!archive) return void res.status(404).json({ error: RED._('nvr-archive.errors.notDeployed') });
    try {
      res.json({ file: archive.file, sources: archive.listSources() });
    } catch (e) {
      res.status(500).json({ error: errorMessage(e) });
    }
  });

  RED.httpAdmin.post('/vtrack-onvif/archive/:id/forget', RED.auth.needsPermission('nvr-archive.write'), (req: Request, res: Response) => {
    const archive = archiveOf(String(req.params.id));
    if (!archive) return void res.status(404).json({ error: RED._('nvr-archive.errors.notDeployed') });
    const body = (req.body ?? {}) as { source?: unknown; deleteFiles?: unknown };
    archive.forget(body.source, { deleteFiles: body.deleteFiles === true }).then(
      (r) => res.json(r),
      (e: unknown) => res.status(400).json({ error: errorMessage(e) }),
    );
  });
};
