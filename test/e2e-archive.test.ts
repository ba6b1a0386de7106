// The archive end to end, in headless Chromium against a real Node-RED 4 (child process, our
// package linked into its userDir, started from another working directory): an nvr-archive with a
// relative database path, two nvr-source nodes (one whose NVR is down at deploy) and an nvr-sync.
// Shows: the relative path syncs (against the user directory); the source whose NVR was down saves
// by itself once the NVR starts; deleting a source node in the editor and deploying stops its sync
// within one interval, keeps its files and logs no error about it; Forget in the archive editor
// removes its rows; an example imported beside it works on the same archive. Saves the editor
// screenshots under docs/ (when missing, or with VTRACK_UPDATE_DOCS=1).
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSimulator, type RunningSimulator } from '../lib/sim';

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const AUTH = { user: 'admin', password: 'e2e-Archive-9931-secret' };
const INTERVAL_MIN = 0.25; // a pass every 15 s, so "within one interval" is observable
const IDS = {
  tab: 'e2e0tab000000001',
  archive: 'e2e0arc000000001',
  alpha: 'e2e0src000000001',
  late: 'e2e0src000000002',
  sync: 'e2e0syn000000001',
  files: 'e2e0dbg000000001',
  events: 'e2e0dbg000000002',
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function query(dbFile: string, sql: string, ...params: unknown[]): Array<Record<string, unknown>> {
  if (!fs.existsSync(dbFile)) return [];
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}

/** A screenshot for docs/: rewritten only when missing or asked for, so test runs leave the tree clean. */
async function docsShot(name: string, target: { screenshot(o: { path: string }): Promise<unknown> }, scratch: string): Promise<void> {
  const file = path.join(scratch, name);
  await target.screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 5_000, `${name} is empty`);
  const docs = path.join(ROOT, 'docs', name);
  if (process.env.VTRACK_UPDATE_DOCS === '1' || !fs.existsSync(docs)) {
    fs.mkdirSync(path.dirname(docs), { recursive: true });
    fs.copyFileSync(file, docs);
  }
}

describe('e2e: nvr-archive, sources that follow their nodes (headless Chromium, real Node-RED)', function () {
  this.timeout(240_000);
  let alphaSim: RunningSimulator;
  let lateSim: RunningSimulator | undefined;
  let latePort: number;
  let dir: string;
  let userDir: string;
  let port: number;
  let red: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const redLog: string[] = [];
  const consoleErrors: string[] = [];
  const dbFile = () => path.join(userDir, 'vtrack-onvif.db');
  const sourceId = (name: string) => query(dbFile(), 'SELECT id FROM video_sources WHERE name = ?', name)[0]?.id as number | undefined;
  const fileRows = (name: string) =>
    query(
      dbFile(),
      `SELECT f.path FROM downloaded_files f JOIN camera_configurations c ON c.id = f.camera_id JOIN video_sources s ON s.id = c.source_id WHERE s.name = ?`,
      name,
    );

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) this.skip();
    alphaSim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 4 });
    latePort = await freePort(); // nothing listens here until the "late" NVR starts
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-e2e-archive-'));
    userDir = path.join(dir, 'node-red');
    fs.mkdirSync(path.join(userDir, 'node_modules', '@vtrack'), { recursive: true });
    fs.symlinkSync(ROOT, path.join(userDir, 'node_modules', '@vtrack', 'node-red-onvif'), 'dir');
    port = await freePort();
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = ${JSON.stringify({
        uiHost: '127.0.0.1',
        uiPort: port,
        flowFile: 'flows.json',
        credentialSecret: false,
        telemetry: { enabled: false, updateNotification: false },
        diagnostics: { enabled: false, ui: false },
        externalModules: { palette: { allowInstall: false } },
        editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
        logging: { console: { level: 'info', metrics: false, audit: false } },
      })};\n`,
    );
    const source = (id: string, name: string, ports: string, y: number) => ({
      id,
      type: 'nvr-source',
      z: IDS.tab,
      name,
      archive: IDS.archive,
      host: '127.0.0.1',
      ports,
      selection: 'all',
      cameras: [],
      workdir: '',
      interval: INTERVAL_MIN,
      dbPath: '',
      timeout: 2000,
      x: 200,
      y,
      wires: [[]],
    });
    const flows = [
      { id: IDS.tab, type: 'tab', label: 'Archive e2e' },
      // Relative paths: against the user directory, not Node-RED's working directory (dir).
      {
        id: IDS.archive,
        type: 'nvr-archive',
        name: 'e2e archive',
        dbPath: 'vtrack-onvif.db',
        downloadRoot: 'media',
        segmentMinutes: 1,
        concurrency: 2,
        sinceHours: 0.05,
        maxAgeDays: '',
        maxGB: '',
        minFreeGB: 0.1,
        fastReplay: true,
      },
      source(IDS.alpha, 'Alpha', alphaSim.devices.map((d) => d.port).join(','), 100),
      source(IDS.late, 'Late', String(latePort), 180),
      {
        id: IDS.sync,
        type: 'nvr-sync',
        z: IDS.tab,
        name: 'sync recordings',
        archive: IDS.archive,
        dbPath: '',
        segmentMinutes: '',
        concurrency: '',
        sinceHours: '',
        maxAgeDays: '',
        maxGB: '',
        minFreeGB: '',
        fastReplay: '',
        x: 470,
        y: 140,
        wires: [[IDS.files], [IDS.events]],
      },
      {
        id: IDS.files,
        type: 'debug',
        z: IDS.tab,
        name: 'new file',
        active: true,
        tosidebar: true,
        console: false,
        tostatus: false,
        complete: 'payload.path',
        targetType: 'msg',
        x: 700,
        y: 120,
        wires: [],
      },
      {
        id: IDS.events,
        type: 'debug',
        z: IDS.tab,
        name: 'sync events',
        active: true,
        tosidebar: false,
        console: false,
        tostatus: true,
        complete: 'payload',
        targetType: 'msg',
        statusVal: 'topic',
        statusType: 'msg',
        x: 710,
        y: 170,
        wires: [],
      },
    ];
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
    fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ [IDS.alpha]: AUTH, [IDS.late]: AUTH }), { mode: 0o600 });

    red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
      cwd: dir,
      env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    red.stdout?.on('data', (b: Buffer) => redLog.push(b.toString('utf8')));
    red.stderr?.on('data', (b: Buffer) => redLog.push(b.toString('utf8')));
    await waitFor('Node-RED to listen', () => {
      if (red?.exitCode !== null) throw new Error(`Node-RED exited:\n${redLog.join('')}`);
      return redLog.join('').includes(`Server now running at http://127.0.0.1:${port}/`);
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      return url.hostname === '127.0.0.1' || url.protocol === 'data:' ? route.continue() : route.abort();
    });
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded' });
    await page.locator('.red-ui-flow-node-label', { hasText: 'sync recordings' }).first().waitFor({ timeout: 30_000 });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (red && red.exitCode === null && red.signalCode === null) {
      const exited = new Promise<void>((resolve) => red?.once('exit', () => resolve()));
      red.kill('SIGTERM');
      const t = setTimeout(() => red?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    await lateSim?.stop();
    await alphaSim?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('syncs into the relative database path, resolved against the user directory', async () => {
    const rows = await waitFor('files of Alpha in <userDir>/vtrack-onvif.db', () => (fileRows('Alpha').length >= 3 ? fileRows('Alpha') : undefined), 60_000);
    for (const r of rows) {
      assert.ok(String(r.path).startsWith(path.join(userDir, 'media', 'Alpha') + path.sep), String(r.path));
      assert.ok(fs.existsSync(String(r.path)));
    }
    assert.ok(!fs.existsSync(path.join(dir, 'vtrack-onvif.db')), 'nothing resolved against the working directory');
    // nvr-sync's summary and Alpha's own badge.
    await page
      .locator('.red-ui-flow-node-status-label', { hasText: /\d ok|syncing|\d+\/\d+/ })
      .first()
      .waitFor();
  });

  it('saves a source whose NVR was unreachable at deploy by itself once the NVR starts', async () => {
    assert.equal(sourceId('Late'), undefined, 'not saved while its NVR is down');
    await page
      .locator('.red-ui-flow-node-status-label', { hasText: /NVR unreachable.*(retry|…)/ })
      .first()
      .waitFor();
    lateSim = await startSimulator({ preset: 'nvr', channels: 1, basePort: latePort, auth: AUTH, discovery: false, historyMinutes: 4 });
    await waitFor('Late saved', () => sourceId('Late'), 60_000);
    await waitFor('files of Late', () => fileRows('Late').length > 0, 60_000);
    // Its file messages reach the debug sidebar (the editor was open by then).
    await page.locator(`.red-ui-debug-msg-node-${IDS.files}`, { hasText: 'Late' }).first().waitFor({ state: 'attached', timeout: 30_000 });
  });

  it('shows per-source badges, the nvr-sync summary, the sync-now buttons and the archive editor (screenshots)', async () => {
    await page.locator('.red-ui-flow-node-status-label', { hasText: /^2 ok/ }).first().waitFor({ timeout: 60_000 });
    const labels = await page.$$eval('.red-ui-flow-node-status-label', (els) => els.map((e) => e.textContent ?? ''));
    assert.ok(labels.filter((l) => /^synced \d\d:\d\d/.test(l)).length >= 1, `per-source badges: ${labels.join(' | ')}`);
    // Sync-now buttons are drawn on nvr-source and nvr-sync, like inject's.
    assert.ok((await page.locator('.red-ui-flow-node-button').count()) >= 3, 'buttons on the two sources and nvr-sync');
    await page.evaluate(() => (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED.actions.invoke('core:toggle-palette'));
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    assert.ok(chart);
    await docsShot('archive-flow.png', { screenshot: (o) => page.screenshot({ ...o, clip: { x: chart.x, y: chart.y, width: 840, height: 240 } }) }, dir);
    await page.evaluate(() => (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED.actions.invoke('core:toggle-palette'));

    // The archive editor, opened the way a user does: nvr-sync's dialog, then the archive's pencil.
    await page.evaluate((id) => {
      const RED = (window as unknown as { RED: { nodes: { node(id: string): unknown }; editor: { edit(n: unknown): void } } }).RED;
      RED.editor.edit(RED.nodes.node(id));
    }, IDS.sync);
    await page.locator('#node-input-btn-archive-edit').click();
    await page.locator('#nvr-archive-sources tbody tr').nth(1).waitFor();
    const rows = await page.locator('#nvr-archive-sources tbody tr').allInnerTexts();
    assert.deepEqual(rows.map((r) => r.split('\t')[0]).sort(), ['Alpha', 'Late']);
    assert.ok(
      rows.every((r) => r.includes('synced')),
      rows.join('\n'),
    );
    await docsShot('nvr-archive-editor.png', page.locator('.red-ui-tray').last(), dir);
    await page.locator('.red-ui-tray').last().locator('button', { hasText: 'Cancel' }).click();
    await page.locator('#node-dialog-cancel').click();
  });

  it('stops syncing a deleted source node within one interval of the deploy, keeps its files, and logs nothing about it', async () => {
    const alpha = sourceId('Alpha') as number;
    await page.evaluate((id) => {
      const RED = (
        window as unknown as { RED: { nodes: { node(id: string): unknown }; view: { select(s: unknown): void }; actions: { invoke(a: string): void } } }
      ).RED;
      RED.view.select({ nodes: [RED.nodes.node(id)] });
      RED.actions.invoke('core:delete-selection');
    }, IDS.alpha);
    const logBefore = redLog.join('').length;
    await page.click('#red-ui-header-button-deploy');
    await waitFor('Alpha inactive', () => query(dbFile(), 'SELECT active FROM video_sources WHERE id = ?', alpha)[0]?.active === 0);
    const files = fileRows('Alpha').map((r) => String(r.path));
    const lastRun = () => query(dbFile(), 'SELECT last_run_at FROM sync_status WHERE source_id = ? AND camera_id IS NULL', alpha)[0]?.last_run_at;
    const lateRun = () => query(dbFile(), 'SELECT last_run_at FROM sync_status WHERE source_id = ? AND camera_id IS NULL', sourceId('Late'))[0]?.last_run_at;
    const alphaAt = lastRun();
    const lateAt = lateRun();
    // One interval and a margin: Late runs again meanwhile, Alpha does not.
    await new Promise((r) => setTimeout(r, INTERVAL_MIN * 60_000 + 8_000));
    assert.notEqual(lateRun(), lateAt, 'the other source kept syncing');
    assert.equal(lastRun(), alphaAt, 'no pass of the deleted source after the deploy');
    assert.deepEqual(
      fileRows('Alpha').map((r) => String(r.path)),
      files,
      'no new files for it',
    );
    for (const f of files) assert.ok(fs.existsSync(f), `${f} kept`);
    const after = redLog.join('').slice(logBefore);
    assert.doesNotMatch(after, /Alpha[^\n]*(auth|user name|password|error)/i, 'an error about the deleted source');
    assert.doesNotMatch(after, /needs a user name/i);
  });

  it('forgets the inactive source from the archive editor: its rows go, its files stay', async () => {
    await page.evaluate(
      (id) => (window as unknown as { RED: { editor: { editConfig(n: string, t: string, id: string): void } } }).RED.editor.editConfig('', 'nvr-archive', id),
      IDS.archive,
    );
    const row = page.locator('#nvr-archive-sources tbody tr', { hasText: 'Alpha' });
    await row.locator('.nvr-archive-forget').waitFor();
    assert.match(await row.innerText(), /inactive/);
    assert.equal(
      await page.locator('#nvr-archive-sources tbody tr', { hasText: 'Late' }).locator('.nvr-archive-forget').count(),
      0,
      'no Forget for a synced source',
    );
    await docsShot('nvr-archive-forget.png', page.locator('.red-ui-tray').last(), dir);
    const files = fileRows('Alpha').map((r) => String(r.path));
    await row.locator('.nvr-archive-forget').click();
    await page.locator('#nvr-archive-sources-note', { hasText: 'Forgot "Alpha"' }).waitFor();
    assert.equal(sourceId('Alpha'), undefined);
    assert.deepEqual(query(dbFile(), 'SELECT COUNT(*) AS n FROM video_sources'), [{ n: 1 }]);
    for (const f of files) assert.ok(fs.existsSync(f), `${f} kept`);
    await page.locator('.red-ui-tray').last().locator('button', { hasText: 'Cancel' }).click();
  });

  it("imports an example beside the flow; its nvr-sync gets the same archive's files (no second engine)", async () => {
    await waitFor('the editor trays to close', async () => (await page.locator('.red-ui-tray').count()) === 0);
    const tree0 = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await waitFor('the examples dialog', async () => {
      if (await tree0.isVisible()) return true;
      await page.evaluate(() =>
        (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED.actions.invoke('core:show-examples-import-dialog'),
      );
      await new Promise((r) => setTimeout(r, 500));
      return false;
    });
    const tree = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await tree
      .getByText('@vtrack/node-red-onvif', { exact: true })
      .click()
      .catch(async (e: unknown) => {
        await page.screenshot({ path: '/tmp/e2e-archive-import.png' });
        throw e;
      });
    await tree.getByText('03 Act on each new recording', { exact: true }).click();
    await page.locator('#red-ui-clipboard-dialog-ok').click();
    await page.mouse.click(600, 400);
    await page.click('#red-ui-header-button-deploy');
    // Its CSV node appends one line per new file (relative to Node-RED's working directory).
    const csv = path.join(dir, 'vtrack-recordings.csv');
    await waitFor('a CSV line from the example', () => fs.existsSync(csv) && fs.readFileSync(csv, 'utf8').includes('Late'), 90_000);
    // The default archive of the example's nodes is the same file, so the same Archive.
    const r = await page.evaluate(
      async () => (await fetch('vtrack-onvif/archive/default/sources')).json() as Promise<{ file: string; sources: Array<{ name: string }> }>,
    );
    const ours = await page.evaluate(async (id) => (await fetch(`vtrack-onvif/archive/${id}/sources`)).json() as Promise<{ file: string }>, IDS.archive);
    assert.equal(r.file, ours.file);
    assert.deepEqual(
      r.sources.map((s) => s.name),
      ['Late'],
    );
    assert.doesNotMatch(redLog.join(''), /already syncs|whose settings apply/);
    assert.deepEqual(consoleErrors, [], 'console errors in the editor');
    assert.ok(!redLog.join('').includes(AUTH.password), 'password in the Node-RED log');
  });
});
