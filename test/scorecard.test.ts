// The Node-RED scorecard, offline. `node-red-dev validate` fetches the Flow Library catalogue,
// which these machines cannot reach, so its package and node rules are checked here instead:
// each rule is one `it`, named by the scorecard code, failing with a message that says what to fix.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

// semver is in node_modules (Node-RED's dependency) but has no types installed: declare the two calls used.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS package without type declarations
const semver = require('semver') as { validRange(range: string): string | null; satisfies(version: string, range: string): boolean };

const root = path.join(__dirname, '..', '..');

interface PackageJson {
  name: string;
  license?: string;
  repository?: { url?: string } | string;
  bugs?: { url?: string } | string;
  keywords?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  files?: string[];
  'node-red'?: { version?: string; nodes?: Record<string, string> };
}

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;
const nodeEntries = Object.entries(pkg['node-red']?.nodes ?? {});
const readme = fs.existsSync(path.join(root, 'README.md')) ? fs.readFileSync(path.join(root, 'README.md'), 'utf8') : '';

/** The object literal passed to RED.nodes.registerType('<type>', {...}) in an editor .html. */
function registerTypeBlock(html: string, type: string): string | undefined {
  const re = new RegExp(`RED\\.nodes\\.registerType\\(\\s*['"]${type}['"]\\s*,\\s*\\{`);
  const m = re.exec(html);
  if (!m) return undefined;
  // Walk braces to the end of the object literal (strings in these blocks hold no braces we care about).
  let depth = 0;
  for (let i = m.index + m[0].length - 1; i < html.length; i++) {
    if (html[i] === '{') depth++;
    else if (html[i] === '}' && --depth === 0) return html.slice(m.index + m[0].length - 1, i + 1);
  }
  return undefined;
}

/** Top-level `key: value` of the registerType object (depth 1 only), as source text. */
function topLevelProperty(block: string, key: string): string | undefined {
  let depth = 0;
  const re = new RegExp(`^\\s*${key}\\s*:\\s*([^,\\n]+)`);
  let lineStart = 0;
  for (let i = 0; i < block.length; i++) {
    const ch = block[i];
    if (ch === '\n' || i === block.length - 1) {
      const line = block.slice(lineStart, i);
      if (depth === 1) {
        const m = re.exec(line);
        if (m) return m[1].trim();
      }
      lineStart = i + 1;
    }
    if (ch === '{' || ch === '[' || ch === '(') depth++;
    else if (ch === '}' || ch === ']' || ch === ')') depth--;
  }
  return undefined;
}

function exampleFiles(): string[] {
  const dir = path.join(root, 'examples');
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(dir, f))
    : [];
}

describe('Node-RED scorecard (offline node-red-dev validate rules)', () => {
  it('P01: the package has a licence, and the LICENSE file ships', () => {
    assert.ok(pkg.license && pkg.license !== 'UNLICENSED', 'package.json "license" is missing');
    assert.ok(fs.existsSync(path.join(root, 'LICENSE')), 'LICENSE file is missing at the package root');
    assert.ok(pkg.files?.includes('LICENSE'), 'package.json "files" does not include LICENSE');
    const text = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
    if (pkg.license === 'Apache-2.0') assert.match(text, /Apache License\s+Version 2\.0/, 'LICENSE is not the Apache-2.0 text package.json names');
  });

  it('P03: the package links its repository and where to report bugs', () => {
    const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
    const bugs = typeof pkg.bugs === 'string' ? pkg.bugs : pkg.bugs?.url;
    assert.ok(repo && /github\.com|gitlab|bitbucket|https?:/.test(repo), `package.json "repository" url missing or not a link: ${repo}`);
    assert.ok(bugs && /^https?:\/\//.test(bugs), `package.json "bugs" url missing or not a link: ${bugs}`);
  });

  it('P04: the package name is scoped (@scope/name), as new Flow Library packages must be', () => {
    assert.match(pkg.name, /^@[a-z0-9-~][a-z0-9-._~]*\/[a-z0-9-~][a-z0-9-._~]*$/, `package name "${pkg.name}" is not a scoped npm name`);
  });

  it('P05: the package has the "node-red" keyword (the Flow Library indexes by it)', () => {
    assert.ok(pkg.keywords?.includes('node-red'), `keywords ${JSON.stringify(pkg.keywords)} lack "node-red"`);
  });

  it('P06: node-red.version is declared and accepts the current Node-RED 4.x and 5.x', () => {
    const range = pkg['node-red']?.version;
    assert.ok(range, 'package.json "node-red.version" is missing');
    assert.ok(semver.validRange(range), `node-red.version "${range}" is not a semver range`);
    const installed = (JSON.parse(fs.readFileSync(require.resolve('node-red/package.json'), 'utf8')) as { version: string }).version;
    for (const v of [installed, '4.1.0', '5.0.0']) {
      assert.ok(semver.satisfies(v, range), `node-red.version "${range}" does not accept Node-RED ${v}`);
    }
  });

  it('P07: engines.node is declared and accepts the Node.js running these tests', () => {
    const range = pkg.engines?.node;
    assert.ok(range, 'package.json "engines.node" is missing');
    assert.ok(semver.satisfies(process.version, range), `engines.node "${range}" does not accept ${process.version}`);
  });

  it('N02: every non-config node appears in at least one example flow', () => {
    const used = new Set<string>();
    for (const f of exampleFiles()) {
      const flow = JSON.parse(fs.readFileSync(f, 'utf8')) as Array<{ type?: string }>;
      for (const n of flow) if (n.type) used.add(n.type);
    }
    const missing: string[] = [];
    for (const [type, js] of nodeEntries) {
      const htmlFile = path.join(root, js.replace(/\.js$/, '.html'));
      const html = fs.existsSync(htmlFile) ? fs.readFileSync(htmlFile, 'utf8') : ''; // a missing .html fails its own rule below
      const category = topLevelProperty(registerTypeBlock(html, type) ?? '', 'category');
      if (category && /['"]config['"]/.test(category)) continue;
      if (!used.has(type)) missing.push(type);
    }
    assert.deepEqual(missing, [], `nodes used in no example under examples/: ${missing.join(', ')}`);
  });

  it('D01: at most 6 runtime dependencies, or the README says why each is needed', () => {
    const deps = Object.keys(pkg.dependencies ?? {});
    if (deps.length <= 6) return;
    const unexplained = deps.filter((d) => !readme.includes(d));
    assert.deepEqual(unexplained, [], `${deps.length} dependencies (> 6) and the README does not mention: ${unexplained.join(', ')}`);
  });

  it('lists every node in package.json "node-red.nodes", and the built files exist (run the build first)', () => {
    assert.ok(nodeEntries.length > 0, 'package.json "node-red.nodes" is empty');
    for (const [type, js] of nodeEntries) {
      assert.ok(fs.existsSync(path.join(root, js)), `${type}: ${js} does not exist`);
    }
  });

  for (const [type, js] of nodeEntries) {
    describe(`node ${type}`, () => {
      const dir = path.dirname(path.join(root, js));
      const htmlFile = path.join(root, js.replace(/\.js$/, '.html'));

      it('has its editor .html beside the compiled .js (Node-RED loads them as a pair)', () => {
        assert.ok(fs.existsSync(htmlFile), `${path.relative(root, htmlFile)} is missing beside ${js}`);
      });

      it('registers the same type in the runtime .js and in the editor .html', () => {
        const runtime = fs.readFileSync(path.join(root, js), 'utf8');
        assert.match(runtime, new RegExp(`registerType\\(\\s*['"]${type}['"]`), `${js} does not call registerType('${type}', …)`);
        assert.ok(registerTypeBlock(fs.readFileSync(htmlFile, 'utf8'), type), `${path.relative(root, htmlFile)} has no RED.nodes.registerType('${type}', {…})`);
      });

      it('gives category, color, icon, inputs and outputs as literals in registerType', function () {
        const block = registerTypeBlock(fs.readFileSync(htmlFile, 'utf8'), type) ?? '';
        // A config node (nvr-archive) has no palette entry, ports, colour or icon.
        if (/^['"]config['"]/.test(topLevelProperty(block, 'category') ?? '')) return this.skip();
        const literal: Record<string, RegExp> = {
          category: /^['"][^'"]+['"]$/,
          color: /^['"]#[0-9a-fA-F]{3,8}['"]$/,
          icon: /^['"][^'"]+['"]$/,
          inputs: /^[01]$/,
          outputs: /^\d+$/,
        };
        const problems: string[] = [];
        for (const [key, re] of Object.entries(literal)) {
          const v = topLevelProperty(block, key);
          if (v === undefined) problems.push(`${key} missing`);
          else if (!re.test(v.replace(/,$/, ''))) problems.push(`${key} is not a literal: ${v}`);
        }
        assert.deepEqual(problems, [], `${type}: ${problems.join('; ')}`);
      });

      it('takes its editor strings from locales/en-US/<type>.json', () => {
        const file = path.join(dir, 'locales', 'en-US', `${type}.json`);
        assert.ok(fs.existsSync(file), `${path.relative(root, file)} is missing`);
        const strings = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
        assert.ok(strings[type], `${path.relative(root, file)} has no top-level "${type}" key`);
        const html = fs.readFileSync(htmlFile, 'utf8');
        const template = new RegExp(`data-template-name=["']${type}["'][^>]*>([\\s\\S]*?)</script>`).exec(html)?.[1] ?? '';
        assert.match(template, new RegExp(`data-i18n=["'][^"']*${type}\\.`), `${type}: the edit form uses no data-i18n="${type}.…" strings`);
        // Every key the form and label refer to exists in the catalogue.
        const keyOf = (k: string) =>
          k.split('.').reduce<unknown>((o, part) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[part] : undefined), strings);
        const refs = [...html.matchAll(new RegExp(`(?:data-i18n=["'](?:\\[[a-z]+\\])?|this\\._\\(['"])(${type}\\.[\\w.]+)`, 'g'))].map((m) => m[1]);
        const unknown = refs.filter((k) => typeof keyOf(k) !== 'string');
        assert.deepEqual(unknown, [], `${type}: strings missing from locales/en-US/${type}.json: ${unknown.join(', ')}`);
      });

      it('has help text in locales/en-US/<type>.html with Inputs, Outputs and Details', () => {
        const file = path.join(dir, 'locales', 'en-US', `${type}.html`);
        assert.ok(fs.existsSync(file), `${path.relative(root, file)} is missing`);
        const help = fs.readFileSync(file, 'utf8');
        assert.match(help, new RegExp(`data-help-name=["']${type}["']`), `${type}: help file has no data-help-name="${type}"`);
        const editor = fs.readFileSync(htmlFile, 'utf8');
        const isConfig = /category:\s*['"]config['"]/.test(editor);
        const needed = isConfig ? ['Details'] : editor.match(/inputs:\s*0\b/) ? ['Outputs', 'Details'] : ['Inputs', 'Outputs', 'Details'];
        const missing = needed.filter((h) => !new RegExp(`<h3>\\s*${h}\\s*</h3>`).test(help));
        assert.deepEqual(missing, [], `${type}: help lacks the sections ${missing.join(', ')}`);
      });
    });
  }
});
