// The runtime texts of the nodes (badges, errors, warnings) come from their en-US locale files:
// every key a node asks RED._ for or makes a message of is in its file, every key lib's status board or the archive
// problems may hand a node is there too (with the same English as lib's fallback), and every key of
// a file's runtime sections ("status", "errors") is used by someone. Read from the sources, so a
// key added in code or in a file alone is caught before a badge shows a raw key.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SOURCE_KEYS, STATUS_EN, SUMMARY_KEYS } from '../lib/archive/status';
import { catalogTranslate, type Catalog } from '../lib/message';
import { ARCHIVE_PROBLEM_EN } from '../nodes/nvr-archive/use-archive';

const root = path.join(__dirname, '..', '..');
const nodesDir = path.join(root, 'nodes');
const TYPES = fs.readdirSync(nodesDir).filter((d) => fs.existsSync(path.join(nodesDir, d, `${d}.ts`)));
const RUNTIME_SECTIONS = ['status', 'errors'];
/** The one place that may call RED._ with a key built at run time (lib's relative keys). */
const WORDING_ADAPTER = path.join('nvr-archive', 'node-words.ts');

function sources(type: string): Array<{ file: string; text: string }> {
  return fs
    .readdirSync(path.join(nodesDir, type))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: path.join(type, f), text: fs.readFileSync(path.join(nodesDir, type, f), 'utf8') }));
}

function catalog(type: string): Catalog {
  const file = path.join(nodesDir, type, 'locales', 'en-US', `${type}.json`);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Catalog>)[type] ?? {};
}

/** Leaf keys of a catalog section, with i18next's plural suffixes folded into the base key. */
function leafKeys(c: Catalog, prefix: string): string[] {
  return Object.entries(c).flatMap(([k, v]) => (typeof v === 'string' ? [`${prefix}${k.replace(/_(one|other)$/, '')}`] : leafKeys(v, `${prefix}${k}.`)));
}

function has(c: Catalog, key: string): boolean {
  const t = catalogTranslate(c);
  return t(key) !== key || t(key, { count: 2 }) !== key;
}

/** The keys lib may hand this node to word, and their English in lib. */
function libKeys(type: string): Array<{ key: string; english: Catalog }> {
  const text = sources(type)
    .filter((s) => s.file !== WORDING_ADAPTER)
    .map((s) => s.text)
    .join('\n');
  const out: Array<{ key: string; english: Catalog }> = [];
  if (/\.summaryStatus\(/.test(text)) out.push(...SUMMARY_KEYS.map((key) => ({ key, english: STATUS_EN })));
  if (/\.(sourceStatus|afterSaveStatus)\(/.test(text)) out.push(...SOURCE_KEYS.map((key) => ({ key, english: STATUS_EN })));
  if (/\bwordProblem\(/.test(text)) out.push(...leafKeys(ARCHIVE_PROBLEM_EN, '').map((key) => ({ key, english: ARCHIVE_PROBLEM_EN })));
  return out;
}

function staticKeys(type: string): string[] {
  return sources(type).flatMap(({ text }) => [...text.matchAll(/RED\._\(\s*'([^']+)'/g)].map((m) => m[1]));
}

/**
 * Keys of the node's own messages (message('status.saved', …) in its <type>.ts), which it words
 * with nodeWords: relative to its section. Other files of a node folder may make messages for
 * other nodes (use-archive.ts's are checked through wordProblem above).
 */
function ownMessageKeys(type: string): string[] {
  const own = sources(type).find((s) => s.file === path.join(type, `${type}.ts`));
  return own ? [...own.text.matchAll(/\bmessage\(\s*'([^']+)'/g)].map((m) => m[1]) : [];
}

describe('node locale files (en-US)', () => {
  it('RED._ is only called with a literal key, except in the one wording adapter', () => {
    for (const type of TYPES) {
      for (const { file, text } of sources(type)) {
        if (file === WORDING_ADAPTER) continue;
        const dynamic = [...text.matchAll(/RED\._\(\s*([^'\s])/g)].map((m) => m.index);
        assert.deepEqual(dynamic, [], `${file}: RED._ with a computed key cannot be checked here; use a literal or lib's message keys`);
      }
    }
  });

  for (const type of TYPES) {
    describe(type, () => {
      const c = catalog(type);

      it('has every key the node asks RED._ for, under its own type', () => {
        for (const key of staticKeys(type)) {
          assert.ok(key.startsWith(`${type}.`), `${key}: a ${type} key starts with "${type}."`);
          assert.ok(has({ [type]: c }, key), `${key} is missing from ${type}.json`);
        }
      });

      it('has every key of its own messages', () => {
        for (const key of ownMessageKeys(type)) assert.ok(has(c, key), `${type}.${key} is missing from ${type}.json`);
      });

      it("has every key lib may hand it, with lib's English", () => {
        const t = catalogTranslate(c);
        for (const { key, english } of libKeys(type)) {
          assert.ok(has(c, key), `${type}.${key} is missing from ${type}.json`);
          const en = catalogTranslate(english);
          for (const count of [1, 2]) assert.equal(t(key, { count }), en(key, { count }), `${type}.${key} differs from lib's English`);
        }
      });

      it('uses every key of its runtime sections', () => {
        const used = new Set([...staticKeys(type).map((k) => k.slice(type.length + 1)), ...ownMessageKeys(type), ...libKeys(type).map((k) => k.key)]);
        const runtime = RUNTIME_SECTIONS.flatMap((s) => (typeof c[s] === 'object' ? leafKeys(c[s] as Catalog, `${s}.`) : []));
        assert.deepEqual(
          runtime.filter((k) => !used.has(k)),
          [],
          `unused keys in ${type}.json`,
        );
      });
    });
  }
});
