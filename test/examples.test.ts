// The example flows under examples/ (Import › Examples in the editor): each parses, uses only node
// types that exist with the settings they need, wires only to nodes in the same file, carries no
// credentials, contacts no LAN address and multicasts nothing until the user fills it in, shares
// one archive, is laid out without overlapping nodes, and loads into a real Node-RED runtime with
// every node created — also beside the npm start flow, without a second sync engine.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { helper, nodeModule } from './support/node-red';
import { openArchives } from '../lib/archive/archive';

const root = path.join(__dirname, '..', '..');
const examplesDir = path.join(root, 'examples');
const OUR_TYPES = ['nvr-archive', 'onvif-discover', 'nvr-source', 'nvr-sync'] as const;
const OUR_OUTPUTS: Record<string, number> = { 'onvif-discover': 1, 'nvr-source': 1, 'nvr-sync': 2 };
/** Config nodes live outside tabs (no z), shared by every flow. */
const CONFIG_TYPES = new Set(['nvr-archive']);

/** Roughly the width Node-RED draws a node with this label (its font is ~7 px per character). */
function drawnWidth(n: FlowNode): number {
  const label = String(n.name || n.type);
  return Math.max(100, 20 * Math.ceil((label.length * 7.2 + 50) / 20));
}
const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)(:|$)/.test(host.trim());

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  outputs?: number;
  [key: string]: unknown;
}

/** Core node types → the module file that registers them, from the installed @node-red/nodes. */
function coreNodeFiles(): Map<string, string> {
  const coreDir = path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core');
  const out = new Map<string, string>();
  for (const group of fs.readdirSync(coreDir)) {
    const dir = path.join(coreDir, group);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.html'))) {
      const html = fs.readFileSync(path.join(dir, f), 'utf8');
      for (const m of html.matchAll(/RED\.nodes\.registerType\(\s*['"]([\w-]+)['"]/g)) out.set(m[1], path.join(dir, f.replace(/\.html$/, '.js')));
    }
  }
  return out;
}

/** The `defaults` keys an editor .html declares for a type of ours. */
function declaredDefaults(type: string): string[] {
  const html = fs.readFileSync(path.join(root, 'nodes', type, `${type}.html`), 'utf8');
  const start = html.search(/defaults\s*:\s*\{/);
  assert.ok(start >= 0, `${type}.html declares no defaults`);
  let depth = 0;
  let body = '';
  for (let i = html.indexOf('{', start); i < html.length; i++) {
    if (html[i] === '{') depth++;
    if (html[i] === '}' && --depth === 0) {
      body = html.slice(html.indexOf('{', start) + 1, i);
      break;
    }
  }
  const keys: string[] = [];
  depth = 0;
  for (const line of body.split('\n')) {
    const m = /^\s*(\w+)\s*:/.exec(line);
    if (depth === 0 && m) keys.push(m[1]);
    for (const ch of line) {
      if (ch === '{' || ch === '[' || ch === '(') depth++;
      else if (ch === '}' || ch === ']' || ch === ')') depth--;
    }
  }
  return keys;
}

const files = fs.existsSync(examplesDir)
  ? fs
      .readdirSync(examplesDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];
const read = (f: string) => JSON.parse(fs.readFileSync(path.join(examplesDir, f), 'utf8')) as FlowNode[];
const core = coreNodeFiles();

describe('example flows (examples/*.json)', function () {
  this.timeout(30_000);

  it('include the full pipeline and the four named examples Node-RED lists under Import › Examples', () => {
    for (const f of [
      'flows.json',
      '01 Discover cameras.json',
      '02 Sync an NVR to folders.json',
      '03 Act on each new recording.json',
      '04 Backfill a time range.json',
    ]) {
      assert.ok(files.includes(f), `examples/${f} is missing (have: ${files.join(', ')})`);
    }
  });

  it('flows.json is the design card pipeline: inject → onvif-discover → nvr-source → nvr-sync → two debug nodes', () => {
    const flow = read('flows.json');
    const byId = new Map(flow.map((n) => [n.id, n]));
    const next = (n: FlowNode, port = 0) => (n.wires?.[port] ?? []).map((id) => byId.get(id) as FlowNode);
    const inject = flow.find((n) => n.type === 'inject');
    assert.ok(inject, 'no inject node');
    const [disc] = next(inject);
    assert.equal(disc?.type, 'onvif-discover', 'inject is not wired to onvif-discover');
    const [src] = next(disc);
    assert.equal(src?.type, 'nvr-source', 'onvif-discover is not wired to nvr-source');
    const [sync] = next(src);
    assert.equal(sync?.type, 'nvr-sync', 'nvr-source is not wired to nvr-sync');
    assert.deepEqual([next(sync, 0)[0]?.type, next(sync, 1)[0]?.type], ['debug', 'debug'], 'nvr-sync outputs are not each wired to a debug node');
    assert.ok(flow.filter((n) => n.type === 'comment').length >= 1, 'no comment node explains the flow');
  });

  for (const f of files) {
    describe(f, () => {
      const flow = read(f);

      it('is an array of nodes with unique ids, all on a tab of the same file', () => {
        assert.ok(Array.isArray(flow) && flow.length > 0, 'not a non-empty JSON array');
        const ids = flow.map((n) => n.id);
        assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${ids.filter((id, i) => ids.indexOf(id) !== i).join(', ')}`);
        const tabs = new Set(flow.filter((n) => n.type === 'tab').map((n) => n.id));
        assert.equal(tabs.size, 1, 'expected exactly one tab, so the import lands on a tab of its own');
        const stray = flow.filter((n) => n.type !== 'tab' && !CONFIG_TYPES.has(n.type) && !tabs.has(String(n.z)));
        assert.deepEqual(
          stray.map((n) => n.id),
          [],
          "nodes not on the file's tab",
        );
      });

      it('uses only node types that exist (ours or Node-RED core)', () => {
        const unknown = flow.filter((n) => n.type !== 'tab' && !core.has(n.type) && !(OUR_TYPES as readonly string[]).includes(n.type));
        assert.deepEqual(
          unknown.map((n) => n.type),
          [],
          'unknown node types',
        );
      });

      it('wires only to nodes in the same file, with one wire list per output', () => {
        const ids = new Set(flow.map((n) => n.id));
        for (const n of flow) {
          for (const target of (n.wires ?? []).flat()) assert.ok(ids.has(target), `${n.type} ${n.id} wires to missing node ${target}`);
          const outputs = OUR_OUTPUTS[n.type] ?? (typeof n.outputs === 'number' ? n.outputs : undefined);
          if (outputs !== undefined && n.type !== 'function')
            assert.equal(n.wires?.length, outputs, `${n.type} ${n.id}: ${n.wires?.length} wire lists for ${outputs} outputs`);
        }
        for (const c of flow.filter((n) => n.type === 'catch' && Array.isArray(n.scope))) {
          for (const s of c.scope as string[]) assert.ok(ids.has(s), `catch ${c.id} watches missing node ${s}`);
        }
      });

      it('gives our nodes every setting their editor declares (and nvr-source a name)', () => {
        for (const n of flow.filter((x) => (OUR_TYPES as readonly string[]).includes(x.type))) {
          const missing = declaredDefaults(n.type).filter((k) => !(k in n));
          assert.deepEqual(missing, [], `${n.type} ${n.id} lacks settings`);
          if (n.type === 'nvr-source') assert.ok(String(n.name ?? '').trim(), `nvr-source ${n.id} has no name (required)`);
        }
      });

      it('contacts no LAN address and multicasts nothing until the user fills in an address', () => {
        for (const n of flow) {
          if (n.type === 'onvif-discover') {
            assert.equal(n.wsdMode, 'off', `${n.id}: WS-Discovery multicast on by default`);
            for (const t of String(n.targets ?? '')
              .split(/[\s,;]+/)
              .filter(Boolean))
              assert.ok(isLoopback(t), `${n.id}: target ${t}`);
          }
          if (n.type === 'nvr-source' && n.host) assert.ok(isLoopback(String(n.host)), `${n.id}: host ${String(n.host)}`);
        }
      });

      it('uses one archive: the default one, or an nvr-archive on the default database', () => {
        const archives = flow.filter((n) => n.type === 'nvr-archive');
        assert.ok(archives.length <= 1, 'more than one nvr-archive');
        for (const a of archives) assert.equal(a.dbPath, '', `${a.id}: not the default database, so it would not share the default archive`);
        for (const n of flow.filter((x) => x.type === 'nvr-source' || x.type === 'nvr-sync')) {
          assert.ok(n.archive === '' || archives.some((a) => a.id === n.archive), `${n.type} ${n.id} references archive ${String(n.archive)}`);
        }
      });

      it('is laid out without overlapping nodes', () => {
        const placed = flow.filter((n) => typeof n.x === 'number' && typeof n.y === 'number');
        const box = (n: FlowNode) => ({
          l: (n.x as number) - drawnWidth(n) / 2,
          r: (n.x as number) + drawnWidth(n) / 2,
          t: (n.y as number) - 15,
          b: (n.y as number) + 15,
        });
        for (let i = 0; i < placed.length; i++) {
          for (let j = i + 1; j < placed.length; j++) {
            const a = box(placed[i]);
            const b = box(placed[j]);
            const overlap = a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;
            assert.ok(!overlap, `"${String(placed[i].name || placed[i].type)}" overlaps "${String(placed[j].name || placed[j].type)}"`);
          }
        }
      });

      it('carries no credentials', () => {
        const text = JSON.stringify(flow);
        assert.doesNotMatch(text, /"credentials"\s*:/, 'a node carries a credentials object');
        assert.doesNotMatch(text, /"(password|user)"\s*:/, 'a node carries a user/password field');
      });
    });
  }
});

describe('example flows loaded into Node-RED', function () {
  this.timeout(60_000);
  let userDir: string;
  let closedPort: number;

  before(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vtrack-examples-'));
    // A loopback port with nothing listening: the examples' NVR addresses are pointed here so
    // loading them sends nothing beyond this machine.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    helper.settings({ userDir });
    await new Promise<void>((r) => helper.startServer(() => r()));
  });
  afterEach(async () => {
    await helper.unload();
  });
  after(async () => {
    helper.settings({});
    await new Promise<void>((r) => helper.stopServer(() => r()));
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** An example with its NVR addresses pointed at a closed loopback port and no timers. */
  const prepared = (f: string) =>
    read(f).map((n) => {
      const copy: FlowNode = { ...n };
      if (copy.type === 'onvif-discover') Object.assign(copy, { targets: `127.0.0.1:${closedPort}`, wsdMode: 'off' });
      if (copy.type === 'nvr-source') Object.assign(copy, { host: '127.0.0.1', ports: String(closedPort), timeout: 1000 });
      if (copy.type === 'inject') Object.assign(copy, { once: false, repeat: '', crontab: '' }); // nothing fires by itself
      if (copy.type === 'file') Object.assign(copy, { filename: path.join(userDir, 'out.csv') });
      return copy;
    });
  const modulesFor = (flow: FlowNode[]) => {
    const modules: unknown[] = OUR_TYPES.map((t) => nodeModule(t));
    for (const t of new Set(flow.map((n) => n.type))) {
      const file = core.get(t);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's core node files, found at run time
      if (file) modules.push(require(file));
    }
    return modules;
  };

  for (const f of files) {
    it(`${f}: every node is created`, async () => {
      const flow = prepared(f);
      await helper.load(modulesFor(flow) as never, flow as never);
      const missing = flow.filter((n) => n.type !== 'tab' && !helper.getNode(n.id)).map((n) => `${n.type} ${n.id}`);
      assert.deepEqual(missing, [], 'nodes Node-RED did not create');
    });
  }

  for (const f of files.filter((x) => x !== 'flows.json' && read(x).some((n) => n.type === 'nvr-sync'))) {
    it(`${f} imported beside the npm start flow shares its archive (no second engine)`, async () => {
      const flow = [...prepared('flows.json'), ...prepared(f)];
      await helper.load(modulesFor(flow) as never, flow as never);
      const syncs = flow.filter((n) => n.type === 'nvr-sync');
      assert.ok(syncs.length >= 2);
      for (const n of syncs) assert.ok(helper.getNode(n.id), `nvr-sync ${n.id} created`);
      assert.equal(openArchives().length, 1, 'one archive (catalog + engine) for both flows');
      const warnings = (helper.log().args as unknown[][]).map((a) => JSON.stringify(a[0])).filter((l) => /already syncs|second/.test(l));
      assert.deepEqual(warnings, []);
    });
  }
});
