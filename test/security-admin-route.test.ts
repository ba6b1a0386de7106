// The Discover admin route (POST /vtrack-onvif/discover) attacked the way issue 11 found it open,
// against a REAL Node-RED 4 (child process, our package linked into its userDir), once with
// adminAuth on and once with Node-RED's default (off). Fake devices are raw servers on loopback
// (127.0.0.1 and 127.0.0.2) that record every connection and request. No multicast is ever asked
// for: a regression must not make this spec probe a real network.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { clockReply, httpReply, soapEnvelope, soapOperation, startHostileServer, type HostileServer } from './support/hostile-peers';

const ROOT = path.resolve(__dirname, '..', '..');
const ROUTE = 'vtrack-onvif/discover';
const NVR_LOGIN = { user: 'nvr-user-7781', password: 'nvr-secret-7781' };
const DISC_LOGIN = { user: 'disc-user-5523', password: 'disc-secret-5523' };
const MQTT_LOGIN = { user: 'mqtt-user-3319', password: 'mqtt-secret-3319' };
const SECRETS = [NVR_LOGIN, DISC_LOGIN, MQTT_LOGIN].flatMap((l) => [l.user, l.password]);
const USERS = { admin: { password: 'admin-pw-1', permissions: '*' }, reader: { password: 'reader-pw-1', permissions: 'read' } };

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

function settingsJs(port: number, adminAuth: boolean): string {
  const base = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'route-spec-secret',
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    externalModules: { palette: { allowInstall: false } },
    editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    vtrackOnvif: { discoverRequestsPerMinute: 40 },
  };
  // Users checked by functions (Node-RED's custom adminAuth), so no password hash is needed here.
  const auth = adminAuth
    ? `s.adminAuth = { type: 'credentials',
        users: (u) => Promise.resolve(U[u] ? { username: u, permissions: U[u].permissions } : null),
        authenticate: (u, p) => Promise.resolve(U[u] && U[u].password === p ? { username: u, permissions: U[u].permissions } : null) };`
    : '';
  return `const U = ${JSON.stringify(USERS)};\nconst s = ${JSON.stringify(base)};\n${auth}\nmodule.exports = s;\n`;
}

async function startNodeRed(userDir: string, port: number, log: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    cwd: userDir,
    env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (b: Buffer) => log.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => log.push(b.toString()));
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited:\n${log.join('')}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/settings`);
      if (r.status === 200 || r.status === 401) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`Node-RED did not start in 30 s:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A fake ONVIF device: answers the clock, refuses everything else as unauthorised. */
function fakeDevice(host = '127.0.0.1'): Promise<HostileServer> {
  return startHostileServer(
    (sock, req) => {
      if (soapOperation(req.body) === 'GetSystemDateAndTime') return void sock.end(httpReply(200, clockReply()));
      sock.end(
        httpReply(
          400,
          soapEnvelope(
            '<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text>no</s:Text></s:Reason></s:Fault>',
          ),
        ),
      );
    },
    undefined,
    host,
  );
}

/** Whatever reached `s` that could carry a login: WS-Security user names, Authorization headers, the secrets. */
function loginsSeen(s: HostileServer): string[] {
  const seen: string[] = [];
  for (const r of s.requests) {
    for (const m of r.body.matchAll(/<(?:\w+:)?Username>([^<]*)</g)) seen.push(m[1]);
    if (r.headers.has('authorization')) seen.push(r.headers.get('authorization') as string);
    for (const x of SECRETS) if (r.body.includes(x)) seen.push(x);
  }
  return seen;
}

for (const adminAuth of [true, false]) {
  describe(`Discover admin route in a real Node-RED, adminAuth ${adminAuth ? 'on' : 'off'}`, function () {
    this.timeout(120_000);
    let dir: string;
    let port: number;
    let red: ChildProcess | undefined;
    const log: string[] = [];
    let own: HostileServer; // the nvr-source's and onvif-discover's saved device
    let trap: HostileServer; // another port on 127.0.0.1
    let trap2: HostileServer; // a device on 127.0.0.2
    let big: HostileServer; // sends a 50 MB reply
    let bigWritten = 0;
    let token: string | undefined;

    const url = (p: string) => `http://127.0.0.1:${port}/${p}`;
    const headers = (extra: Record<string, string> = {}): Record<string, string> => ({ ...(token ? { Authorization: `Bearer ${token}` } : {}), ...extra });
    async function post(
      body: unknown,
      o: { type?: string; raw?: string; bearer?: string | null } = {},
    ): Promise<{ status: number; body: unknown; ms: number }> {
      const h = headers({ 'Content-Type': o.type ?? 'application/json' });
      if (o.bearer === null) delete h.Authorization;
      else if (o.bearer) h.Authorization = `Bearer ${o.bearer}`;
      const t0 = process.hrtime.bigint();
      const r = await fetch(url(ROUTE), { method: 'POST', headers: h, body: o.raw ?? JSON.stringify(body) });
      const text = await r.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (e.g. Node-RED's own 401 text)
      }
      return { status: r.status, body: parsed, ms };
    }
    async function login(user: keyof typeof USERS): Promise<string> {
      const r = await fetch(url('auth/token'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: 'node-red-admin',
          grant_type: 'password',
          scope: USERS[user].permissions,
          username: user,
          password: USERS[user].password,
        }).toString(),
      });
      assert.equal(r.status, 200, `login as ${user}`);
      return ((await r.json()) as { access_token: string }).access_token;
    }
    const untouched = (...servers: HostileServer[]) => {
      for (const s of servers) {
        assert.equal(s.connections, 0, `port ${s.port} must receive nothing`);
        assert.deepEqual(loginsSeen(s), []);
      }
    };

    before(async () => {
      own = await fakeDevice();
      trap = await fakeDevice();
      trap2 = await fakeDevice('127.0.0.2');
      big = await startHostileServer((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'x'), Buffer.from('\r\n')]);
        const pump = () => {
          while (bigWritten < 50 * 1024 * 1024 && !sock.destroyed) {
            bigWritten += 0x10000;
            if (!sock.write(chunk)) return void sock.once('drain', pump);
          }
          if (!sock.destroyed) sock.end('0\r\n\r\n');
        };
        pump();
      });
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-route-'));
      fs.mkdirSync(path.join(dir, 'node_modules', '@vtrack'), { recursive: true });
      fs.symlinkSync(ROOT, path.join(dir, 'node_modules', '@vtrack', 'node-red-onvif'), 'dir');
      port = await freePort();
      fs.writeFileSync(path.join(dir, 'settings.js'), settingsJs(port, adminAuth));
      red = await startNodeRed(dir, port, log);
      if (adminAuth) token = await login('admin');
      const ownTarget = `127.0.0.1:${own.port}`;
      const flows = [
        { id: 'tab1', type: 'tab', label: 'route spec' },
        {
          id: 'nvr1',
          type: 'nvr-source',
          z: 'tab1',
          name: 'Route NVR',
          host: '127.0.0.1',
          ports: String(own.port),
          selection: 'all',
          cameras: [],
          workdir: '',
          interval: 10,
          dbPath: '',
          timeout: 2000,
          wires: [[]],
          credentials: NVR_LOGIN,
        },
        {
          id: 'disc1',
          type: 'onvif-discover',
          z: 'tab1',
          name: '',
          targets: ownTarget,
          wsdMode: 'off',
          wsdTarget: '',
          timeout: 2000,
          output: 'array',
          onDeploy: false,
          wires: [[]],
          credentials: DISC_LOGIN,
        },
        // A config node nobody uses: it never connects, but its login is stored like any other.
        {
          id: 'mq1',
          type: 'mqtt-broker',
          name: 'broker',
          broker: '127.0.0.1',
          port: '1',
          clientid: '',
          autoConnect: false,
          usetls: false,
          protocolVersion: '4',
          keepalive: '60',
          cleansession: true,
          credentials: MQTT_LOGIN,
        },
      ];
      const r = await fetch(url('flows'), {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' }),
        body: JSON.stringify(flows),
      });
      assert.ok(r.status === 200 || r.status === 204, `deploy: ${r.status} ${await r.text()}`);
      // nvr-source lists its own device on deploy (with its login, as it should); wait for that.
      const until = Date.now() + 15_000;
      while (own.requests.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
      await new Promise((res) => setTimeout(res, 500));
      own.requests.length = 0;
    });

    after(async () => {
      await stopChild(red);
      await Promise.all([own, trap, trap2, big].map((s) => s?.close()));
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    if (adminAuth) {
      it('needs a login, and a user with only read permission is refused', async () => {
        assert.equal((await post({ targets: `127.0.0.1:${trap.port}`, user: 'a', password: 'b' }, { bearer: null })).status, 401);
        const reader = await login('reader');
        // Node-RED answers a missing permission with 401 too; the route never ran (trap untouched).
        assert.equal((await post({ targets: `127.0.0.1:${trap.port}`, user: 'a', password: 'b' }, { bearer: reader })).status, 401);
        untouched(trap);
      });
    }

    it('refuses an mqtt-broker id and an unknown id with the same 403, and no credential reaches the device', async () => {
      const target = `127.0.0.1:${trap.port}`;
      const mqtt = await post({ nodeId: 'mq1', targets: target });
      const unknown = await post({ nodeId: 'no-such-node-42', targets: target });
      assert.equal(mqtt.status, 403);
      assert.deepEqual(mqtt, { ...unknown, ms: mqtt.ms }, 'the same answer whether the id exists or not');
      assert.equal((await post({ nodeId: 'tab1', targets: target })).status, 403, 'a flow tab id neither');
      untouched(trap);
      assert.ok(!log.join('').includes(MQTT_LOGIN.password));
    });

    it("uses an nvr-source's stored login only against its own host and port: 127.0.0.2 and another port receive nothing", async () => {
      const elsewhere = await post({ nodeId: 'nvr1', targets: `127.0.0.2:${trap2.port}` });
      assert.equal(elsewhere.status, 403);
      assert.match((elsewhere.body as { error: string }).error, /only used with the host and ports saved in that node/);
      assert.equal((await post({ nodeId: 'nvr1', targets: `127.0.0.1:${trap.port}` })).status, 403, 'same host, other port');
      assert.equal((await post({ nodeId: 'nvr1', targets: [`127.0.0.1:${own.port}`, `127.0.0.2:${trap2.port}`] })).status, 403, 'own target plus another');
      assert.equal(
        (await post({ nodeId: 'nvr1', targets: `127.0.0.1:${own.port}`, wsDiscovery: `127.0.0.1:${own.port}` })).status,
        403,
        'not with WS-Discovery',
      );
      assert.equal((await post({ nodeId: 'disc1', targets: `127.0.0.2:${trap2.port}` })).status, 403, 'onvif-discover: same rule');
      untouched(trap, trap2);
      assert.equal(own.requests.length, 0, 'the refused requests sent nothing to the own device either');

      const home = await post({ nodeId: 'nvr1' });
      assert.equal(home.status, 200, JSON.stringify(home.body));
      assert.deepEqual(
        (home.body as Array<{ port: number }>).map((d) => d.port),
        [own.port],
        "no targets: the node's own",
      );
      assert.deepEqual([...new Set(loginsSeen(own))], [NVR_LOGIN.user], 'its own device got its user name (in WS-Security digests)');
      assert.ok(!JSON.stringify(home.body).includes(NVR_LOGIN.password));
      const explicit = await post({ nodeId: 'disc1', targets: `127.0.0.1:${own.port}` });
      assert.equal(explicit.status, 200);
      assert.ok(loginsSeen(own).includes(DISC_LOGIN.user));
      untouched(trap, trap2);
    });

    it('refuses a form-encoded POST (and text/plain) before doing anything', async () => {
      const form = await post(undefined, { type: 'application/x-www-form-urlencoded', raw: `targets=127.0.0.1:${trap.port}&user=a&password=b&nodeId=nvr1` });
      assert.equal(form.status, 415);
      const plain = await post(undefined, { type: 'text/plain', raw: JSON.stringify({ targets: `127.0.0.1:${trap.port}`, nodeId: 'nvr1' }) });
      assert.equal(plain.status, 415);
      untouched(trap);
    });

    it('refuses a /8 at once, sized before expansion (1024 targets per request)', async () => {
      // Baseline: the cheapest refusal there is (wrong Content-Type), same connection and auth.
      const baseline = await post(undefined, { type: 'text/plain', raw: '{}' });
      const r = await post({ targets: '10.0.0.0/8:80', user: 'a', password: 'b' });
      assert.equal(r.status, 400);
      assert.match((r.body as { error: string }).error, /more than 1024 host:port pairs/);
      console.log(`        (/8 refused: ${r.ms.toFixed(1)} ms round trip through Node-RED; a 415 refusal: ${baseline.ms.toFixed(1)} ms)`);
      // Generous bound: the work is one regex and a multiplication; 4 s and ~900 MB before the fix.
      assert.ok(r.ms < 1000, `${r.ms} ms`);
      assert.equal((await post({ targets: '10.1.0.0/21:80', user: 'a', password: 'b' })).status, 400, 'a /21 is two /22s');
      assert.equal(
        (await post({ targets: `127.0.0.1:${trap.port}`, wsDiscovery: '127.0.0.2:3702', user: 'a', password: 'b' })).status,
        400,
        'directed UDP only to a listed address',
      );
      untouched(trap);
    });

    it('cuts a 50 MB SOAP reply at the limit and says "unreachable" for refused and silent ports alike', async () => {
      const closed = await freePort();
      const r = await post({ targets: [`127.0.0.1:${big.port}`, `127.0.0.1:${closed}`], user: 'a', password: 'b', timeoutMs: 3000 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const devices = r.body as Array<{ port: number; error?: string; errorCode?: string }>;
      const bigDev = devices.find((d) => d.port === big.port);
      assert.match(bigDev?.error ?? '', /reply larger than 2097152 bytes/);
      assert.ok(bigWritten < 20 * 1024 * 1024, `the server wrote ${bigWritten} bytes before being cut off`);
      const refused = devices.find((d) => d.port === closed);
      assert.equal(refused?.errorCode, 'unreachable');
      assert.equal(refused?.error, `127.0.0.1:${closed}: unreachable`);
    });

    it('limits requests per user per minute (429 with Retry-After)', async () => {
      let limited: { status: number } | undefined;
      for (let i = 0; i < 45 && !limited; i++) {
        const r = await post({ targets: 'bad host!', user: 'a', password: 'b' });
        if (r.status === 429) limited = r;
        else assert.equal(r.status, 400);
      }
      assert.ok(limited, 'the 41st request in a minute is refused');
    });
  });
}
