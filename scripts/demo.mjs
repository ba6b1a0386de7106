// `npm start`: Node-RED 4 with this package installed in a demo user directory, the ONVIF
// simulator (seed preset) in this process, and the example flow deployed on first start, so MP4
// files appear under <demo dir>/nvr_downloads/ within a minute. Loopback only, no multicast.
//
// Environment: VTRACK_DEMO_DIR (default <project>/.demo), PORT (editor, default 1880),
// VTRACK_SIM_BASE_PORT (first simulator port, default 18000), VTRACK_SIM_HISTORY_MIN (default 12).
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFlow, readTemplate, settingsSource } from './demo-flow.mjs';

const t0 = Date.now();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const HOST = '127.0.0.1';
const USER = 'admin';
const PASSWORD = 'pw';
const demoDir = resolve(process.env.VTRACK_DEMO_DIR || join(root, '.demo'));
const uiPort = intFromEnv('PORT', 1880);
const simBasePort = intFromEnv('VTRACK_SIM_BASE_PORT', 18000);
const historyMinutes = intFromEnv('VTRACK_SIM_HISTORY_MIN', 12);
const DEMO_MAX_GB = '0.3';

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`demo: ${name}="${raw}" is not a number between 0 and 65535`);
    process.exit(2);
  }
  return n;
}

const say = (line) => console.log(`[demo] ${line}`);

/** Install this package into the demo user dir the way npm would: node_modules entry + package.json. */
function installPackage() {
  mkdirSync(demoDir, { recursive: true });
  const [scope, name] = pkg.name.split('/');
  const scopeDir = join(demoDir, 'node_modules', scope);
  mkdirSync(scopeDir, { recursive: true });
  const link = join(scopeDir, name);
  const target = relative(scopeDir, root) || '.';
  let current;
  try {
    current = lstatSync(link);
  } catch {
    current = undefined;
  }
  if (current && !(current.isSymbolicLink() && resolve(scopeDir, readlinkSafe(link)) === root)) rmSync(link, { recursive: true, force: true });
  if (!current || !existsSync(link)) symlinkSync(target, link, 'dir');

  const userPkgFile = join(demoDir, 'package.json');
  const userPkg = existsSync(userPkgFile)
    ? JSON.parse(readFileSync(userPkgFile, 'utf8'))
    : { name: 'vtrack-onvif-demo', description: 'Node-RED user directory of the VTrack ONVIF demo', version: '0.0.0', private: true };
  userPkg.dependencies = { ...userPkg.dependencies, [pkg.name]: `file:${relative(demoDir, root) || '.'}` };
  writeFileSync(userPkgFile, JSON.stringify(userPkg, null, 2) + '\n');
}

function readlinkSafe(p) {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

/** First start only: the example flow pointed at the simulator, with its login as credentials. */
function deployExampleFlow(sim) {
  const flowFile = join(demoDir, 'flows.json');
  if (existsSync(flowFile)) {
    say(`keeping your flows in ${flowFile} (delete it to start again from examples/flows.json)`);
    return;
  }
  const { flows, credentials } = demoFlow(readTemplate(join(root, 'examples', 'flows.json')), {
    host: HOST,
    ports: sim.devices.map((d) => d.port),
    user: USER,
    password: PASSWORD,
    maxGB: DEMO_MAX_GB,
    demoPace: true,
  });
  writeFileSync(flowFile, JSON.stringify(flows, null, 2) + '\n');
  writeFileSync(join(demoDir, 'flows_cred.json'), JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  say(
    `deployed examples/flows.json (simulator ports ${sim.devices.map((d) => d.port).join(', ')}, 1-minute files synced every minute, retention capped at ${DEMO_MAX_GB} GB)`,
  );
}

/** Prints the first MP4 that lands under nvr_downloads, with the time since the demo started. */
function watchForFirstFile() {
  const base = join(demoDir, 'nvr_downloads');
  const find = (dir, depth) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isFile() && e.name.endsWith('.mp4')) return p;
      if (e.isDirectory() && depth < 5) {
        const hit = find(p, depth + 1);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  const timer = setInterval(() => {
    const hit = find(base, 0);
    if (!hit) return;
    clearInterval(timer);
    say(`first recording on disk ${((Date.now() - t0) / 1000).toFixed(1)} s after start: ${hit} (${(statSync(hit).size / 1e6).toFixed(1)} MB)`);
  }, 500);
  timer.unref();
  return timer;
}

async function main() {
  const distSim = join(root, 'dist', 'lib', 'sim', 'index.js');
  if (!existsSync(distSim)) {
    console.error('demo: dist/ is missing; run "npm start" (it builds first) or "npm run build"');
    process.exit(1);
  }
  const { startSimulator } = require(distSim);
  installPackage();

  let sim;
  try {
    sim = await startSimulator({
      preset: 'seed',
      host: HOST,
      basePort: simBasePort,
      historyMinutes,
      auth: { user: USER, password: PASSWORD },
      discovery: false, // the demo finds its cameras by target list: no WS-Discovery, no multicast
    });
  } catch (err) {
    const inUse = err && err.code === 'EADDRINUSE';
    console.error(
      `demo: could not start the simulator on ${HOST}:${simBasePort}+: ${err && err.message}${inUse ? ' — set VTRACK_SIM_BASE_PORT to a free port' : ''}`,
    );
    process.exit(1);
  }
  for (const d of sim.devices) say(`simulated camera "${d.spec.name}" at ${HOST}:${d.port} (ONVIF), RTSP ${d.rtspPort}`);

  deployExampleFlow(sim);
  const settingsFile = join(demoDir, 'settings.js');
  writeFileSync(settingsFile, settingsSource({ userDir: demoDir, port: uiPort }));

  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  const red = spawn(process.execPath, [redJs, '-u', demoDir, '-s', settingsFile], { cwd: demoDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (stream, out) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        out.write(line + '\n');
        if (/Server now running at/.test(line)) banner();
      }
    });
  };
  forward(red.stdout, process.stdout);
  forward(red.stderr, process.stderr);

  const watcher = watchForFirstFile();
  let stopping = false;
  let redExited = false;
  const redExit = new Promise((res) =>
    red.on('exit', (code, signal) => {
      redExited = true;
      res({ code, signal });
    }),
  );

  async function stop(reason, exitCode) {
    if (stopping) return;
    stopping = true;
    clearInterval(watcher);
    say(`${reason}: stopping Node-RED and the simulator…`);
    if (!redExited) {
      red.kill('SIGINT');
      const kill = setTimeout(() => red.kill('SIGKILL'), 20_000);
      await redExit;
      clearTimeout(kill);
    }
    await sim.stop();
    say('stopped');
    process.exit(exitCode);
  }

  process.on('SIGINT', () => void stop('Ctrl-C', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  redExit.then(({ code, signal }) => {
    if (!stopping) void stop(`Node-RED exited (${signal ?? `code ${code}`})`, code === 0 ? 0 : 1);
  });
}

function banner() {
  const lines = [
    '',
    `  VTrack ONVIF demo — Node-RED editor: http://${HOST}:${uiPort}/`,
    `  demo user directory: ${demoDir}`,
    `  recordings (MP4):    ${join(demoDir, 'nvr_downloads')}/<source>/<camera>/<date>/`,
    `  catalog (SQLite):    ${join(demoDir, 'vtrack-onvif.db')}`,
    `  simulator login:     user "${USER}" (password in ${join(demoDir, 'flows_cred.json')})`,
    '  Ctrl-C stops Node-RED and the simulator.',
    '',
  ];
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(`demo: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
