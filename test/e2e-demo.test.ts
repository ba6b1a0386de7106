// `npm start`'s demo, end to end: scripts/demo.mjs as a child process (its own temp user dir and
// free ports), the editor driven in headless Chromium, MP4 files on disk, and Ctrl-C stopping it.
// Also saves docs/demo-flow.png, the README's screenshot of the running flow.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = path.join(__dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with `count` consecutive free ports (the seed preset uses three). */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portIsFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range on 127.0.0.1');
}

async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

function findMp4(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.mp4')).map((f) => path.join(dir, f));
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('npm start demo (headless Chromium against the running demo)', function () {
  this.timeout(180_000);
  let demoDir: string;
  let uiPort: number;
  let simPort: number;
  let demo: ChildProcess;
  let output = '';
  let exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let startedAt: number;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const offMachine: string[] = [];

  before(async () => {
    demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-demo-e2e-'));
    simPort = await freePortRange(3);
    uiPort = await freePortRange(1);
    startedAt = Date.now();
    // Its own process group, so the test can send SIGINT the way a terminal's Ctrl-C does.
    demo = spawn(process.execPath, [path.join(root, 'scripts', 'demo.mjs')], {
      cwd: root,
      env: { ...process.env, VTRACK_DEMO_DIR: demoDir, PORT: String(uiPort), VTRACK_SIM_BASE_PORT: String(simPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    demo.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    exit = new Promise((resolve) => demo.on('exit', (code, signal) => resolve({ code, signal })));
    await waitFor('"Server now running" from Node-RED', 30_000, () => {
      if (demo.exitCode !== null) throw new Error(`demo exited early:\n${output}`);
      return /Server now running at/.test(output);
    });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1300, height: 560 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    // Nothing the editor loads may leave this machine; block and record anything that tries.
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1' || url.protocol === 'data:') return route.continue();
      offMachine.push(url.href);
      return route.abort();
    });
    await page.goto(`http://127.0.0.1:${uiPort}/`, { timeout: 20_000 });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      try {
        process.kill(-(demo.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      await exit;
    }
    if (demoDir) fs.rmSync(demoDir, { recursive: true, force: true });
  });

  it('installs the package into the demo user dir (node_modules entry + package.json dependency)', () => {
    const userPkg = JSON.parse(fs.readFileSync(path.join(demoDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.ok(userPkg.dependencies['@vtrack/node-red-onvif'], 'package.json of the demo user dir does not list @vtrack/node-red-onvif');
    assert.equal(fs.realpathSync(path.join(demoDir, 'node_modules', '@vtrack', 'node-red-onvif')), fs.realpathSync(root));
  });

  it('keeps credentials out of flows.json and in a plain flows_cred.json', () => {
    const flows = fs.readFileSync(path.join(demoDir, 'flows.json'), 'utf8');
    assert.doesNotMatch(flows, /"password"/, 'flows.json holds a password');
    const creds = JSON.parse(fs.readFileSync(path.join(demoDir, 'flows_cred.json'), 'utf8')) as Record<string, { user: string }>;
    assert.ok(
      Object.values(creds).some((c) => c.user === 'admin'),
      'flows_cred.json has no login for the simulator',
    );
  });

  it('loads the editor without console errors, with the three nodes in the palette', async () => {
    for (const type of ['onvif-discover', 'nvr-source', 'nvr-sync']) {
      await page.waitForSelector(`.red-ui-palette-node[data-palette-type="${type}"]`, { timeout: 20_000 });
    }
    assert.deepEqual(consoleErrors, [], 'console errors in the editor');
  });

  it('shows the deployed pipeline with our nodes on the canvas', async () => {
    // The palette can be drawn before the flows arrive over the comms link.
    await page.waitForFunction(
      () => (window as unknown as { RED: { nodes: { filterNodes(f: object): unknown[] } } }).RED.nodes.filterNodes({ type: 'nvr-sync' }).length > 0,
      null,
      { timeout: 20_000 },
    );
    const types = await page.evaluate(() => {
      const red = (window as unknown as { RED: { nodes: { filterNodes(f: object): Array<{ type: string }> } } }).RED;
      return red.nodes.filterNodes({}).map((n) => n.type);
    });
    for (const t of ['inject', 'onvif-discover', 'nvr-source', 'nvr-sync', 'debug'])
      assert.ok(types.includes(t), `no ${t} node in the deployed flow (have ${types.join(', ')})`);
    const labels = await page.$$eval('.red-ui-flow-node-label', (els) => els.map((e) => e.textContent ?? ''));
    for (const l of ['find cameras', 'Demo NVR', 'sync recordings'])
      assert.ok(
        labels.some((x) => x.includes(l)),
        `node "${l}" not drawn on the canvas (labels: ${labels.join(' | ')})`,
      );
  });

  it('writes MP4 files under <demo dir>/nvr_downloads within 60 s, and the status badges show it', async () => {
    const files = await waitFor('an MP4 under nvr_downloads', 60_000, () => {
      const f = findMp4(path.join(demoDir, 'nvr_downloads'));
      return f.length ? f : undefined;
    });
    const seconds = (Date.now() - startedAt) / 1000;
    assert.ok(seconds < 60, `first MP4 after ${seconds.toFixed(1)} s`);
    assert.match(files[0], /nvr_downloads[\\/]Demo_NVR[\\/][^\\/]+[\\/]\d{4}-\d{2}-\d{2}[\\/][^\\/]+\.mp4$/);
    assert.ok(fs.statSync(files[0]).size > 100_000, `${files[0]} is suspiciously small`);
    console.log(`      first MP4 ${seconds.toFixed(1)} s after the demo started`);

    // Badges: discovery count, the source's own sync state, nvr-sync between passes. Each node's
    // badge reaches the editor in its own comms message: wait for all three, then say which is off.
    const sourceSynced = (x: string) => /^synced \d\d:\d\d/.test(x) || /\d+\/\d+ · \d+%/.test(x);
    let statuses: string[] = [];
    await waitFor('status badges of the three nodes', 30_000, async () => {
      statuses = await page.$$eval('.red-ui-flow-node-status-label', (els) => els.map((e) => e.textContent ?? ''));
      return statuses.some((x) => /devices?, \d+ cameras?/.test(x)) && statuses.some((x) => /^1 ok · next \d\d:\d\d/.test(x)) && statuses.some(sourceSynced);
    }).catch(() => undefined);
    assert.ok(
      statuses.some((x) => /3 devices, 3 cameras/.test(x)),
      `discover badge: ${statuses.join(' | ')}`,
    );
    assert.ok(
      statuses.some((x) => /^1 ok · next \d\d:\d\d/.test(x)),
      `nvr-sync badge: ${statuses.join(' | ')}`,
    );
    // Activity as the editor opens: file messages in the debug sidebar (a pass every minute on the
    // growing simulator), and the source's own badge.
    assert.ok(statuses.some(sourceSynced), `nvr-source badge: ${statuses.join(' | ')}`);
    // (Only nvr-sync's file output goes to the sidebar in the demo flow.)
    await page.locator('.red-ui-debug-msg').first().waitFor({ state: 'attached', timeout: 100_000 });

    // Screenshot for the README: canvas only, at the flow.
    await page.evaluate(() => {
      const red = (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED;
      red.actions.invoke('core:toggle-sidebar');
      red.actions.invoke('core:toggle-palette');
    });
    await page.waitForTimeout(500);
    // The committed screenshot is rewritten only when missing or asked for (its badges show the time).
    const committed = path.join(root, 'docs', 'demo-flow.png');
    const target = !fs.existsSync(committed) || process.env.VTRACK_UPDATE_DOCS === '1' ? committed : path.join(demoDir, 'demo-flow.png');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    await page.screenshot({ path: target });
    assert.ok(fs.statSync(target).size > 10_000, 'the screenshot is empty');
    await page.evaluate(() => {
      const red = (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED;
      red.actions.invoke('core:toggle-sidebar');
      red.actions.invoke('core:toggle-palette');
    });
  });

  it('imports a named example through Import › Examples › @vtrack/node-red-onvif', async () => {
    await page.evaluate(() => {
      const red = (window as unknown as { RED: { actions: { invoke(a: string): void } } }).RED;
      red.actions.invoke('core:show-examples-import-dialog');
    });
    const tree = page.locator('.red-ui-clipboard-dialog-tab-library');
    await tree.getByText('@vtrack/node-red-onvif', { exact: true }).click({ timeout: 10_000 });
    for (const title of ['01 Discover cameras', '02 Sync an NVR to folders', '03 Act on each new recording', '04 Backfill a time range']) {
      await tree.getByText(title, { exact: true }).waitFor({ timeout: 10_000 });
    }
    await tree.getByText('01 Discover cameras', { exact: true }).click();
    await page.locator('#red-ui-clipboard-dialog-ok').click({ timeout: 10_000 });
    // Placing the imported nodes: a click on the canvas drops them.
    await page.mouse.click(600, 400);
    const tabs = await waitFor('the imported tab', 10_000, () =>
      page.evaluate(() => {
        const red = (window as unknown as { RED: { nodes: { eachWorkspace(cb: (ws: { label: string }) => void): void } } }).RED;
        const labels: string[] = [];
        red.nodes.eachWorkspace((ws) => labels.push(ws.label));
        return labels.includes('01 Discover cameras') ? labels : undefined;
      }),
    );
    assert.ok(tabs.includes('01 Discover cameras'));
    assert.deepEqual(consoleErrors, [], 'console errors in the editor');
    assert.deepEqual(offMachine, [], 'the editor tried to reach another machine');
  });

  it('stops Node-RED and the simulator on Ctrl-C (SIGINT to the process group)', async () => {
    process.kill(-(demo.pid as number), 'SIGINT');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 25_000).unref());
    const result = await Promise.race([exit, timeout]);
    assert.notEqual(result, 'timeout', `demo did not exit within 25 s of SIGINT:\n${output.slice(-2000)}`);
    assert.deepEqual(result, { code: 0, signal: null }, `demo exit:\n${output.slice(-2000)}`);
    assert.match(output, /\[demo\] stopped/);
    assert.ok(await refused(uiPort), `editor port ${uiPort} still answers`);
    assert.ok(await refused(simPort), `simulator port ${simPort} still answers`);
    assert.equal(
      fs.readdirSync(path.join(demoDir, 'nvr_downloads'), { recursive: true }).filter((f) => String(f).endsWith('.part')).length,
      0,
      'a .part file was left behind',
    );
    assert.ok(!output.includes(':pw@') && !/password\W{1,4}pw\b/i.test(output), 'the simulator password appears in the demo output');
  });
});
