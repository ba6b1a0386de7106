// An archive: the one Catalog and the one SyncEngine of a database file, and the sources that
// sync into it. nvr-source nodes claim their source with their login (in-process: the login never
// goes to SQLite or a message) and release it on close; the engine syncs exactly the claimed
// sources. A process-wide registry keyed by the resolved database file makes every user of one
// file (nvr-archive config nodes, and the implicit default archive of 0.1.0 flows) share them;
// the last user to leave closes them. No Node-RED import: nodes/nvr-archive adapts this.
import { EventEmitter } from 'node:events';
import { openCatalog, type Catalog, type SyncStatusRow, type VideoSourceRow } from '../catalog';
import type { Credentials } from '../credentials';
import { SyncEngine, type SyncEngineEvents } from '../sync/engine';
import type { RunSummary } from '../sync/types';
import { deleteFiles } from '../storage';
import { StatusBoard } from './status';
import { verifyArchive, type VerifyReport } from '../sync/verify';
import { settingsDiffer, type ArchiveSettings } from './settings';

export interface ArchiveEvents extends SyncEngineEvents {
  /** A source's state changed (claimed, released, forgotten, or an event about it). */
  status: [sourceId: number];
}

/** A source as listed: its row (active = claimed by a deployed nvr-source node: synced; otherwise
 * kept, rows and files, until forgotten), its sync state, and counts. */
export interface SourceListing extends Pick<VideoSourceRow, 'id' | 'name' | 'host' | 'nodeId' | 'active'>, Pick<SyncStatusRow, 'lastSuccessAt' | 'lastError'> {
  cameras: number;
  files: number;
  bytes: number;
}

/**
 * How a source's device is spoken to, beyond the login: per-source opt-ins of its nvr-source node
 * (the Basic opt-in travels inside Credentials). Handed in with the claim like the login rather
 * than kept in the catalog: the node's settings are their one home, and the engine has them from
 * the claim on, before the first pass of a resumed source.
 */
export interface SourceAccess {
  /** https: accept the device's self-signed certificate. */
  acceptSelfSigned?: boolean;
}

interface Claim {
  credentials?: Credentials;
  access: SourceAccess;
  sourceId?: number;
}

export class Archive extends EventEmitter<ArchiveEvents> {
  readonly catalog: Catalog;
  readonly engine: SyncEngine;
  readonly board = new StatusBoard();
  /** nvr-source node id → its login and (once saved) its source. */
  private readonly claims = new Map<string, Claim>();
  private closing?: Promise<void>;

  constructor(
    readonly file: string,
    public settings: ArchiveSettings,
    now: () => Date = () => new Date(),
  ) {
    super();
    // Every nvr-source and nvr-sync node of the archive listens: more than EventEmitter's default 10.
    this.setMaxListeners(0);
    this.catalog = openCatalog(file);
    this.engine = new SyncEngine({ catalog: this.catalog, settings: { ...settings.sync }, retention: settings.retention, startDelayMs: 100, now });
    this.engine.on('file', (f) => this.emit('file', f));
    this.engine.on('event', (e) => {
      this.board.apply(e, now());
      this.emit('event', e);
      this.emit('status', e.sourceId);
    });
  }

  configure(settings: ArchiveSettings): void {
    this.settings = settings;
    this.engine.configure({ ...settings.sync }, settings.retention);
  }

  /**
   * An nvr-source node was deployed: keep its login, and resume the source it saved before (with
   * those last saved settings) at once, before its own save from the NVR finishes or even when
   * the NVR is down. Returns that source, if any.
   */
  claim(nodeId: string, credentials: Credentials | undefined, access: SourceAccess = {}): VideoSourceRow | undefined {
    this.claims.set(nodeId, { credentials, access });
    const row = this.catalog.getSourceByNodeId(nodeId);
    if (row) this.attach(nodeId, row.id);
    return row;
  }

  /** The node saved its source (new, or again): sync it with the node's login. */
  attach(nodeId: string, sourceId: number): void {
    const claim = this.claims.get(nodeId);
    if (!claim) return; // released meanwhile (the node closed during its save)
    if (claim.sourceId !== undefined && claim.sourceId !== sourceId) void this.engine.removeSource(claim.sourceId);
    claim.sourceId = sourceId;
    const row = this.catalog.getSource(sourceId);
    if (!row) return;
    if (!row.active) this.catalog.setSourceActive(sourceId, true);
    this.board.track(sourceId, row.name, this.catalog.getSyncStatus(sourceId));
    this.engine.addSource(sourceId, { credentials: claim.credentials, acceptSelfSigned: claim.access.acceptSelfSigned });
    this.emit('status', sourceId);
  }

  sourceOf(nodeId: string): number | undefined {
    return this.claims.get(nodeId)?.sourceId;
  }

  isClaimed(sourceId: number): boolean {
    return [...this.claims.values()].some((c) => c.sourceId === sourceId);
  }

  /**
   * The node closed. Its source stops syncing (a running download is aborted). When the node was
   * removed (deleted, or disabled) the source is kept as inactive; on a redeploy or restart
   * (`removed` false) the node claims it again right away.
   */
  async release(nodeId: string, removed: boolean): Promise<void> {
    const claim = this.claims.get(nodeId);
    this.claims.delete(nodeId);
    if (claim?.sourceId === undefined) return;
    const id = claim.sourceId;
    await this.engine.removeSource(id);
    if (removed && !this.isClaimed(id) && this.catalog.isOpen) {
      this.catalog.setSourceActive(id, false);
      this.board.forget(id);
      this.emit('status', id);
    }
  }

  /**
   * After a deploy or start: a source no deployed node claims (its node was deleted while
   * Node-RED was stopped, or the source came from elsewhere) is marked inactive. Returns their ids.
   */
  reconcile(): number[] {
    const claimed = new Set([...this.claims.values()].map((c) => c.sourceId));
    const idle: number[] = [];
    for (const s of this.catalog.listSources()) {
      if (s.active && !claimed.has(s.id)) {
        this.catalog.setSourceActive(s.id, false);
        idle.push(s.id);
      }
    }
    return idle;
  }

  /** Find a source by id or name (number-like text counts as an id). */
  /**
   * Compare catalog, disk and (with the login its nvr-source node handed in) each NVR, for one
   * source or all; `fix` marks missing files for the next pass, removes stale .part files and
   * catalogues orphans (see lib/sync/verify).
   */
  async verify(sel: unknown, options: { fix?: boolean } = {}): Promise<VerifyReport> {
    const one = sel === undefined || sel === null || sel === '' ? undefined : this.findSource(sel);
    if (sel !== undefined && sel !== null && sel !== '' && !one) throw new Error(`verify: no source ${JSON.stringify(sel)} in ${this.file}`);
    const claimed = new Map([...this.claims.values()].flatMap((c) => (c.sourceId !== undefined ? [[c.sourceId, c] as const] : [])));
    return verifyArchive(this.catalog, {
      sourceId: one?.id,
      credentialsFor: (s) => claimed.get(s.id)?.credentials,
      accessFor: (s) => claimed.get(s.id)?.access,
      fix: options.fix === true,
    });
  }

  findSource(sel: unknown): VideoSourceRow | undefined {
    if (sel === undefined || sel === null || sel === '') return undefined;
    return this.catalog.listSources().find((s) => s.id === Number(sel) || s.name === sel);
  }

  listSources(): SourceListing[] {
    return this.catalog.listSources().map((s) => {
      const cams = this.catalog.listCameras(s.id);
      const files = cams.flatMap((c) => this.catalog.listDownloads(c.id, { status: 'done' }));
      const sync = this.catalog.getSyncStatus(s.id);
      return {
        id: s.id,
        name: s.name,
        host: s.host,
        nodeId: s.nodeId,
        active: this.isClaimed(s.id),
        cameras: cams.filter((c) => c.enabled).length,
        files: files.length,
        bytes: files.reduce((n, f) => n + f.bytes, 0),
        lastSuccessAt: sync?.lastSuccessAt ?? null,
        lastError: sync?.lastError ?? null,
      };
    });
  }

  /**
   * Remove an inactive source's rows (cameras, sync state, file records), and with `deleteFiles`
   * its files too. A source a deployed node still claims is refused: delete or disable that node
   * and deploy first (otherwise its next save would bring the source straight back).
   */
  async forget(sel: unknown, options: { deleteFiles?: boolean } = {}): Promise<{ source: string; rows: number; filesDeleted: number; filesKept: number }> {
    const source = this.findSource(sel);
    if (!source) throw new Error(`forget: no source ${JSON.stringify(sel)} in ${this.file}`);
    if (this.isClaimed(source.id)) {
      throw new Error(`forget: "${source.name}" is still synced by a deployed nvr-source node; delete or disable that node and deploy first`);
    }
    await this.engine.removeSource(source.id);
    const { paths, rows } = this.catalog.forgetSource(source.id);
    let filesDeleted = 0;
    if (options.deleteFiles && paths.length) {
      const r = await deleteFiles(paths);
      filesDeleted = paths.length - r.failed.length;
    }
    this.board.forget(source.id);
    this.emit('status', source.id);
    return { source: source.name, rows, filesDeleted, filesKept: paths.length - filesDeleted };
  }

  syncNow(sourceId?: number): Promise<RunSummary[]> {
    return this.engine.syncNow(sourceId);
  }

  /** Stop the engine (aborting downloads, .part files removed) and close the catalog. */
  close(): Promise<void> {
    this.closing ??= this.engine.close().finally(() => this.catalog.close());
    return this.closing;
  }
}

// ---- registry: one Archive per database file in this process ----------------------------------

/** How much a user's settings count: an nvr-archive node's over a 0.1.0 nvr-sync's over none. */
export type SettingsRank = 'archive-node' | 'legacy-node' | 'none';
const RANK: Record<SettingsRank, number> = { 'archive-node': 2, 'legacy-node': 1, none: 0 };

interface Entry {
  archive: Archive;
  users: Map<string, { settings: ArchiveSettings; rank: SettingsRank }>;
}

const entries = new Map<string, Entry>();

function effective(entry: Entry): { settings: ArchiveSettings; owner: string } | undefined {
  let best: { settings: ArchiveSettings; owner: string; rank: number } | undefined;
  for (const [owner, u] of entry.users) if (!best || RANK[u.rank] > best.rank) best = { settings: u.settings, owner, rank: RANK[u.rank] };
  return best;
}

export interface Acquired {
  archive: Archive;
  /** Set when this user's settings differ from those in force (another archive node was first). */
  warning?: string;
}

/**
 * Use the archive of `settings.dbFile` as `userId` (a node id), opening it on first use. Of several
 * users, the first nvr-archive node's settings apply; a second one on the same file gets a warning.
 * Throws when the catalog cannot be opened.
 */
export function acquireArchive(userId: string, settings: ArchiveSettings, rank: SettingsRank): Acquired {
  let entry = entries.get(settings.dbFile);
  if (!entry) {
    entry = { archive: new Archive(settings.dbFile, settings), users: new Map() };
    entries.set(settings.dbFile, entry);
  }
  entry.users.set(userId, { settings, rank });
  const eff = effective(entry) as { settings: ArchiveSettings; owner: string };
  entry.archive.configure(eff.settings);
  const differs = eff.owner === userId || rank === 'none' ? [] : settingsDiffer(eff.settings, settings);
  return {
    archive: entry.archive,
    warning: differs.length ? `shares ${settings.dbFile} with node ${eff.owner}, whose settings apply (differs in ${differs.join(', ')})` : undefined,
  };
}

/** `userId` stops using the archive of `dbFile`; the last user closes it. */
export async function releaseArchive(userId: string, dbFile: string): Promise<void> {
  const entry = entries.get(dbFile);
  if (!entry || !entry.users.delete(userId)) return;
  if (entry.users.size > 0) {
    const eff = effective(entry);
    if (eff) entry.archive.configure(eff.settings);
    return;
  }
  entries.delete(dbFile);
  await entry.archive.close();
}

/** Every open archive (for the after-deploy reconcile and the admin routes). */
export function openArchives(): Archive[] {
  return [...entries.values()].map((e) => e.archive);
}

export function archiveFor(dbFile: string): Archive | undefined {
  return entries.get(dbFile)?.archive;
}
