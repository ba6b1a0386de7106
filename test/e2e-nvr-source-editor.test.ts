// End to end in a real browser: a real Node-RED 4 (child process, our package linked into its
// userDir) and headless Chromium. Open the nvr-source editor, press Discover, see the simulator's
// cameras in the grid, tick two, deploy, and find their folders on disk. A second NVR whose cameras
// each have two recordings: the grid shows each camera's recording and how it was mapped, offers a
// choice where that is a guess, and the pick is saved with the camera. A Hikvision recorder with the
// driver set to Hikvision: the grid lists its channels by the NVR's names, and a tick saves that one.
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
const AUTH = { user: 'admin', password: 'e2e-Pw-4471-secret' };
const SOURCE = 'nvr_localhost';

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

/** Starts Node-RED with `userDir`; resolves once it listens. Output is collected in `log`. */
async function startNodeRed(userDir: string, port: number, log: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    cwd: userDir,
    env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (b: Buffer) => log.push(b.toString('utf8'));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start in 30 s:\n${log.join('')}`)), 30_000);
    const check = () => {
      if (log.join('').includes(`Server now running at http://127.0.0.1:${port}/`)) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Node-RED exited (${code}):\n${log.join('')}`));
    });
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('e2e: nvr-source editor in headless Chromium against a real Node-RED', function () {
  this.timeout(180_000);
  let sim: RunningSimulator;
  let sim2: RunningSimulator;
  let hik: RunningSimulator;
  let dir: string;
  let userDir: string;
  let port: number;
  let red: ChildProcess | undefined;
  let browser: Browser | undefined;
  const redLog: string[] = [];

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) this.skip();
    sim = await startSimulator({ preset: 'seed', basePort: 0, auth: AUTH, discovery: false, rtsp: false });
    sim2 = await startSimulator({ preset: 'nvr', channels: 2, basePort: 0, auth: AUTH, discovery: false, rtsp: false, quirks: ['several-recordings'] });
    hik = await startSimulator({ preset: 'hikvision', basePort: 0, auth: AUTH, discovery: false, historyMinutes: 5 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-e2e-'));
    userDir = path.join(dir, 'node-red');
    fs.mkdirSync(path.join(userDir, 'node_modules', '@vtrack'), { recursive: true });
    // Installed the way a user's npm install would place it: a package under userDir/node_modules.
    fs.symlinkSync(ROOT, path.join(userDir, 'node_modules', '@vtrack', 'node-red-onvif'), 'dir');
    port = await freePort();
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = ${JSON.stringify({
        uiHost: '127.0.0.1',
        uiPort: port,
        flowFile: 'flows.json',
        credentialSecret: 'e2e-credential-secret',
        telemetry: { enabled: false, updateNotification: false },
        diagnostics: { enabled: false, ui: false },
        externalModules: { palette: { allowInstall: false } },
        editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
        logging: { console: { level: 'info', metrics: false, audit: false } },
      })};\n`,
    );
    red = await startNodeRed(userDir, port, redLog);
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
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    if (red) await stopChild(red);
    await sim?.stop();
    await sim2?.stop();
    await hik?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Drops an nvr-source on the workspace and opens its editor (the newest node when there are several). */
  async function addNvrSource(page: Page): Promise<void> {
    const paletteNode = page.locator('.red-ui-palette-node[data-palette-type="nvr-source"]');
    await paletteNode.waitFor({ state: 'attached', timeout: 30_000 });
    // Filter the palette the way a user would, so the node is on screen to drag.
    await page.fill('#red-ui-palette-search input', 'nvr source');
    await paletteNode.scrollIntoViewIfNeeded();
    await paletteNode.waitFor({ state: 'visible' });
    const workspace = page.locator('#red-ui-workspace-chart');
    const from = await paletteNode.boundingBox();
    const to = await workspace.boundingBox();
    assert.ok(from && to, 'palette and workspace are visible');
    // jQuery UI drag: press, move in steps, release over the canvas (below the nodes already there).
    const before = await page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group').count();
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(to.x + 200, to.y + 150 + 80 * before, { steps: 12 });
    await page.mouse.move(to.x + 220, to.y + 160 + 80 * before, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction((n) => document.querySelectorAll('#red-ui-workspace-chart g.red-ui-flow-node-group').length > n, before, { timeout: 10_000 });
    const node = page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group').last();
    await node.locator('rect.red-ui-flow-node').first().dblclick();
    await page.locator('#node-input-host').waitFor({ timeout: 10_000 });
  }

  it('discovers the simulated cameras in the grid, saves two ticked ones on deploy and creates their folders', async () => {
    assert.ok(browser);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
    // Every request the page makes stays on this Node-RED (loopback).
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`http://127.0.0.1:${port}/`) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    const discoverBodies: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('vtrack-onvif/discover')) discoverBodies.push(`${r.method()} ${r.url()} ${r.postData() ?? ''}`);
    });

    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded' });
    await addNvrSource(page);

    const ports = sim.devices.map((d) => d.port);
    await page.fill('#node-input-name', SOURCE);
    await page.fill('#node-input-host', '127.0.0.1');
    await page.fill('#node-input-ports', ports.join(','));
    await page.fill('#node-input-user', AUTH.user);
    await page.fill('#node-input-password', AUTH.password);
    await page.selectOption('#node-input-selection', 'chosen');
    await page.click('#nvr-source-discover');

    const rows = page.locator('#nvr-source-grid tbody tr[data-key]');
    await page.waitForFunction(() => document.querySelectorAll('#nvr-source-grid tbody tr[data-key]').length === 3, null, { timeout: 30_000 });
    const names = await rows.locator('.nvr-source-name').allTextContents();
    assert.deepEqual([...names].sort(), ['Front Door Camera', 'Parking Lot Camera', 'Warehouse Camera']);
    const front = rows.filter({ hasText: 'Front Door Camera' });
    assert.match(await front.innerText(), /1920×1080\s+H264\s+15\s+\d+/);
    // One recording per camera, tied by its SourceId: shown, nothing to pick.
    assert.equal((await front.locator('.nvr-source-recording').innerText()).trim(), 'REC_1 · by SourceId');
    assert.equal(await rows.locator('select.nvr-source-recording-pick').count(), 0);

    // Discovery went by POST with the login in the JSON body, not in the URL.
    assert.equal(discoverBodies.length, 1);
    assert.match(discoverBodies[0], /^POST http:\/\/127\.0\.0\.1:\d+\/vtrack-onvif\/discover \{/);
    assert.ok(!discoverBodies[0].split(' {')[0].includes(AUTH.password));

    // Check: the capability check of the same host and ports, its result as text in the dialog.
    await page.click('#nvr-source-check');
    await page.waitForFunction(
      () => /No problems found|problem\(s\)|Check failed/.test(document.querySelector('#nvr-source-check-status')?.textContent ?? ''),
      null,
      { timeout: 60_000 },
    );
    const checkStatus = (await page.locator('#nvr-source-check-status').textContent()) ?? '';
    assert.doesNotMatch(checkStatus, /Check failed/);
    const listed = await page.locator('#nvr-source-check-problems li').count();
    assert.equal(listed > 0, /problem\(s\)/.test(checkStatus), `status "${checkStatus}" and ${listed} listed problems agree`);

    await front.locator('input.nvr-source-pick').check();
    await rows.filter({ hasText: 'Warehouse Camera' }).locator('input.nvr-source-pick').check();
    // The README's picture: refreshed when missing or on request, so test runs leave the tree clean.
    const shot = path.join(dir, 'camera-grid.png');
    await page.locator('.red-ui-tray').first().screenshot({ path: shot });
    assert.ok(fs.statSync(shot).size > 10_000);
    const docsShot = path.join(ROOT, 'docs', 'camera-grid.png');
    if (process.env.VTRACK_UPDATE_DOCS === '1' || !fs.existsSync(docsShot)) {
      fs.mkdirSync(path.dirname(docsShot), { recursive: true });
      fs.copyFileSync(shot, docsShot);
    }

    await page.click('#node-dialog-ok');
    await page.click('#red-ui-header-button-deploy');

    const workdir = path.join(userDir, 'nvr_downloads', SOURCE);
    await waitFor('camera folders', () => fs.existsSync(path.join(workdir, 'Front_Door_Camera')) && fs.existsSync(path.join(workdir, 'Warehouse_Camera')));
    await page.locator('.red-ui-flow-node-status-label', { hasText: '2 cameras · saved' }).waitFor({ timeout: 20_000 });
    assert.deepEqual(fs.readdirSync(workdir).sort(), ['Front_Door_Camera', 'Warehouse_Camera']);

    // Saved with the node; the password only in the encrypted credentials file.
    const flows = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
    const saved = (JSON.parse(flows) as Array<{ type: string; selection?: string; cameras?: Array<{ name: string }> }>).find((n) => n.type === 'nvr-source');
    assert.equal(saved?.selection, 'chosen');
    assert.deepEqual(saved?.cameras?.map((c) => c.name).sort(), ['Front Door Camera', 'Warehouse Camera']);
    assert.ok(!flows.includes(AUTH.password), 'password in flows.json');
    const creds = fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8');
    assert.ok(!creds.includes(AUTH.password), 'password in plain text in flows_cred.json');
    for (const f of fs.readdirSync(userDir).filter((f) => f.startsWith('vtrack-onvif.db'))) {
      assert.ok(!fs.readFileSync(path.join(userDir, f)).toString('latin1').includes(AUTH.password), `password in ${f}`);
    }
    assert.ok(!redLog.join('').includes(AUTH.password), 'password in the Node-RED log');
    assert.deepEqual(foreign, [], 'the editor only talked to Node-RED on loopback');
    await page.close();
  });
  it('shows each camera’s recording and how it was mapped, offers a choice where it is a guess, and saves the pick with the camera', async () => {
    assert.ok(browser);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded' });
    await addNvrSource(page);
    await page.fill('#node-input-name', 'nvr_two_streams');
    await page.fill('#node-input-host', '127.0.0.1');
    await page.fill('#node-input-ports', String(sim2.devices[0].port));
    await page.fill('#node-input-user', AUTH.user);
    await page.fill('#node-input-password', AUTH.password);
    await page.click('#nvr-source-discover');
    const rows = page.locator('#nvr-source-grid tbody tr[data-key]');
    await page.waitForFunction(() => document.querySelectorAll('#nvr-source-grid tbody tr[data-key]').length === 2, null, { timeout: 30_000 });

    // Main and sub-stream recording under one SourceId: the newest is taken, flagged as a guess.
    // By its name cell: the other row's choices name this camera too.
    const ch1 = rows.filter({ has: page.locator('.nvr-source-name', { hasText: 'Channel 1 Front Door' }) });
    const pick = ch1.locator('select.nvr-source-recording-pick');
    assert.equal(await rows.locator('select.nvr-source-recording-pick').count(), 2, 'a choice on both cameras');
    assert.deepEqual(await pick.locator('option').allTextContents(), [
      'automatic: REC_1 (by SourceId)',
      'REC_1 — Recording of Channel 1 Front Door',
      'REC_2 — Recording of Channel 2 Parking Lot',
      'REC_3 — Recording of Channel 1 Front Door (sub stream)',
      'REC_4 — Recording of Channel 2 Parking Lot (sub stream)',
    ]);
    assert.match((await ch1.locator('.nvr-source-guess').textContent()) ?? '', /a guess/);
    assert.match((await ch1.locator('.nvr-source-recording').getAttribute('title')) ?? '', /newest of 2 recordings that match/);
    await pick.selectOption('REC_3');

    await page.locator('#node-input-workdir').scrollIntoViewIfNeeded();
    const shot = path.join(dir, 'camera-grid-recordings.png');
    await page.locator('.red-ui-tray').first().screenshot({ path: shot });
    assert.ok(fs.statSync(shot).size > 10_000);
    const docsShot = path.join(ROOT, 'docs', 'camera-grid-recordings.png');
    if (process.env.VTRACK_UPDATE_DOCS === '1' || !fs.existsSync(docsShot)) fs.copyFileSync(shot, docsShot);

    await page.click('#node-dialog-ok');
    await page.click('#red-ui-header-button-deploy');
    const db = path.join(userDir, 'vtrack-onvif.db');
    const saved = () => {
      if (!fs.existsSync(db)) return [];
      const h = new Database(db, { readonly: true });
      try {
        return h
          .prepare(
            "SELECT c.display_name AS name, c.recording_token AS rec FROM camera_configurations c JOIN video_sources s ON s.id = c.source_id WHERE s.name = 'nvr_two_streams' ORDER BY c.id",
          )
          .all() as Array<{ name: string; rec: string | null }>;
      } finally {
        h.close();
      }
    };
    await waitFor('the second source saved', () => saved().length === 2);
    assert.deepEqual(saved(), [
      { name: 'Channel 1 Front Door', rec: 'REC_3' },
      { name: 'Channel 2 Parking Lot', rec: null },
    ]);
    const flows = JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')) as Array<{
      name?: string;
      cameras?: Array<{ name: string; recording?: string }>;
    }>;
    const node = flows.find((n) => n.name === 'nvr_two_streams');
    assert.deepEqual(
      node?.cameras?.map((c) => [c.name, c.recording ?? null]),
      [
        ['Channel 1 Front Door', 'REC_3'],
        ['Channel 2 Parking Lot', null],
      ],
    );
    await page.close();
  });

  it("with driver Hikvision lists the recorder's channels by their NVR names, and a tick saves that channel", async () => {
    assert.ok(browser);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(20_000);
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded' });
    await addNvrSource(page);
    await page.fill('#node-input-name', 'nvr_hik');
    await page.fill('#node-input-host', '127.0.0.1');
    await page.fill('#node-input-ports', String(hik.devices[0].port));
    await page.selectOption('#node-input-driver', 'hikvision');
    await page.fill('#node-input-user', AUTH.user);
    await page.fill('#node-input-password', AUTH.password);
    await page.selectOption('#node-input-selection', 'chosen');
    await page.click('#nvr-source-discover');
    const rows = page.locator('#nvr-source-grid tbody tr[data-key]');
    await page.waitForFunction(() => document.querySelectorAll('#nvr-source-grid tbody tr[data-key]').length === 3, null, { timeout: 30_000 });
    assert.deepEqual(await rows.locator('.nvr-source-name').allTextContents(), ['Front Door', 'Parking Lot', 'Warehouse']);
    const parking = rows.filter({ has: page.locator('.nvr-source-name', { hasText: 'Parking Lot' }) });
    // The channel's main stream as the NVR describes it; no ONVIF recording to map.
    assert.match(await parking.innerText(), /H265/);
    assert.equal((await parking.locator('.nvr-source-recording').innerText()).trim(), '—');
    assert.match((await page.locator('#nvr-source-discover-status').textContent()) ?? '', /3 camera\(s\) found$/);
    await parking.locator('input.nvr-source-pick').check();

    await page.click('#node-dialog-ok');
    await page.click('#red-ui-header-button-deploy');
    const db = path.join(userDir, 'vtrack-onvif.db');
    const saved = () => {
      if (!fs.existsSync(db)) return [];
      const h = new Database(db, { readonly: true });
      try {
        return h
          .prepare(
            "SELECT s.driver AS driver, c.display_name AS name, c.video_source_token AS token FROM camera_configurations c JOIN video_sources s ON s.id = c.source_id WHERE s.name = 'nvr_hik' AND c.enabled = 1 ORDER BY c.id",
          )
          .all() as Array<{ driver: string; name: string; token: string }>;
      } finally {
        h.close();
      }
    };
    await waitFor('the Hikvision source saved', () => saved().length > 0);
    assert.deepEqual(saved(), [{ driver: 'hikvision', name: 'Parking Lot', token: 'ch2' }]);
    const flows = JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')) as Array<{
      name?: string;
      driver?: string;
      cameras?: Array<{ name: string; token: string }>;
    }>;
    const node = flows.find((n) => n.name === 'nvr_hik');
    assert.equal(node?.driver, 'hikvision');
    assert.deepEqual(
      node?.cameras?.map((c) => [c.name, c.token]),
      [['Parking Lot', 'ch2']],
    );
    await page.close();
  });
});
