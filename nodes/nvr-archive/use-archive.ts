// How nvr-source and nvr-sync reach their archive: the nvr-archive config node they reference,
// or, for nodes saved by 0.1.0 (or dropped from the palette) without one, the implicit default
// archive of their own database path. Either way they count as users of the shared Archive (so
// it stays open while they close) and never open a second catalog or engine for one file.
import type { Node, NodeAPI } from 'node-red';
import { acquireArchive, releaseArchive, type Archive } from '../../lib/archive/archive';
import { parseArchiveSettings, type ArchiveConfigInput, type ArchiveSettings } from '../../lib/archive/settings';
import { errorMessage } from '../../lib/errors';
import { catalogTranslate, message, say, type Message } from '../../lib/message';

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

/**
 * The English of ArchiveProblem's texts: its Error message, for a caller that does not word it.
 * The nodes word `error` and `badge` with their locale files (wordProblem), which hold the same
 * texts under their type (a spec compares).
 */
export const ARCHIVE_PROBLEM_EN = {
  status: { archive: { missing: 'archive missing', problem: 'archive: __problem__', invalid: 'invalid setting', database: 'database: __error__' } },
  errors: {
    archive: {
      missing: 'the nvr-archive node __id__ is not deployed (deleted or disabled?)',
      problem: 'archive: __problem__',
      notConfigured: 'not configured',
      invalid: 'invalid setting: __problem__',
      database: 'cannot open the catalog __file__: __error__',
    },
  },
} as const;
const english = catalogTranslate(ARCHIVE_PROBLEM_EN);

/** Why a node cannot use its archive: `error` for the log and Catch, `badge` for the status. */
export class ArchiveProblem extends Error {
  constructor(
    readonly error: Message,
    readonly badge: Message,
  ) {
    super(say(error, english));
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
    if (!config) throw new ArchiveProblem(message('errors.archive.missing', { id: def.archive }), message('status.archive.missing'));
    if (config.problem || !config.settings) {
      const problem = config.problem ?? message('errors.archive.notConfigured');
      throw new ArchiveProblem(message('errors.archive.problem', { problem }), message('status.archive.problem', { problem }));
    }
    settings = config.settings;
  } else {
    implicit = true;
    try {
      settings = parseArchiveSettings({ ...legacy, dbPath: def.dbPath }, userDir);
    } catch (e) {
      throw new ArchiveProblem(message('errors.archive.invalid', { problem: errorMessage(e) }), message('status.archive.invalid'));
    }
  }
  try {
    const { archive, warning } = acquireArchive(node.id, settings, implicit && legacy ? 'legacy-node' : 'none');
    if (warning) node.warn(warning);
    return { archive, settings, implicit, release: () => releaseArchive(node.id, settings.dbFile) };
  } catch (e) {
    const error = errorMessage(e);
    throw new ArchiveProblem(message('errors.archive.database', { file: settings.dbFile, error }), message('status.archive.database', { error }));
  }
}
