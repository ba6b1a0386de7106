// How nvr-source and nvr-sync reach their archive: the nvr-archive config node they reference,
// or, for nodes saved by 0.1.0 (or dropped from the palette) without one, the implicit default
// archive of their own database path. Either way they count as users of the shared Archive (so
// it stays open while they close) and never open a second catalog or engine for one file.
import type { Node, NodeAPI } from 'node-red';
import { acquireArchive, releaseArchive, type Archive } from '../../lib/archive/archive';
import { parseArchiveSettings, type ArchiveConfigInput, type ArchiveSettings } from '../../lib/archive/settings';
import { errorMessage } from '../../lib/errors';

/** The runtime side of an nvr-archive config node, as other nodes see it. */
export interface ArchiveConfigNode extends Node {
  settings?: ArchiveSettings;
  /** Why the archive is not usable (bad setting, database refused); undefined when it is. */
  problem?: string;
}

export interface ArchiveUse {
  archive: Archive;
  settings: ArchiveSettings;
  /** True when no nvr-archive node is referenced (a 0.1.0 flow, or none chosen yet). */
  implicit: boolean;
  release(): Promise<void>;
}

export class ArchiveProblem extends Error {
  constructor(
    message: string,
    readonly status: string,
  ) {
    super(message);
  }
}

/**
 * @param legacy a 0.1.0 nvr-sync's own engine settings (segment, retention ...), used for the
 *   implicit archive when no nvr-archive node sets them; nvr-source passes only its dbPath.
 */
export function useArchive(RED: NodeAPI, node: Node, def: { archive?: string; dbPath?: string }, legacy?: ArchiveConfigInput): ArchiveUse {
  const userDir = RED.settings.userDir ?? process.cwd();
  let settings: ArchiveSettings;
  let implicit = false;
  if (def.archive) {
    const config = RED.nodes.getNode(def.archive) as ArchiveConfigNode | null;
    if (!config) throw new ArchiveProblem(`the nvr-archive node ${def.archive} is not deployed (deleted or disabled?)`, 'archive missing');
    if (config.problem || !config.settings)
      throw new ArchiveProblem(`archive: ${config.problem ?? 'not configured'}`, `archive: ${config.problem ?? 'not configured'}`);
    settings = config.settings;
  } else {
    implicit = true;
    try {
      settings = parseArchiveSettings({ ...legacy, dbPath: def.dbPath }, userDir);
    } catch (e) {
      throw new ArchiveProblem(errorMessage(e), 'invalid setting');
    }
  }
  try {
    const { archive, warning } = acquireArchive(node.id, settings, implicit && legacy ? 'legacy-node' : 'none');
    if (warning) node.warn(warning);
    return { archive, settings, implicit, release: () => releaseArchive(node.id, settings.dbFile) };
  } catch (e) {
    throw new ArchiveProblem(`cannot open the catalog ${settings.dbFile}: ${errorMessage(e)}`, `database: ${errorMessage(e)}`);
  }
}
