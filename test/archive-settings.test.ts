// Settings rules: one set in lib/archive/settings.ts for the runtime, repeated in the editors'
// `validate` functions. These specs check the runtime refuses what it cannot honour (never reads
// "24h" as 0 or "lots" as no limit), and that each editor validator accepts and refuses exactly
// what the runtime does, with the same message.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import {
  ARCHIVE_NUMBERS,
  DISCOVER_NUMBERS,
  SOURCE_NUMBERS,
  checkFlag,
  checkNumber,
  parseArchiveSettings,
  resolveDbFile,
  SettingsError,
  type NumberRule,
} from '../lib/archive/settings';

const root = path.join(__dirname, '..', '..');

/** The defaults of a node type as its editor .html registers them (run in a sandbox). */
function editorDefaults(type: string): Record<string, { value: unknown; validate?: (v: unknown) => unknown }> {
  const html = fs.readFileSync(path.join(root, 'nodes', type, `${type}.html`), 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)?.[1];
  assert.ok(script, `${type}.html has no editor script`);
  let defaults: Record<string, { value: unknown; validate?: (v: unknown) => unknown }> | undefined;
  const RED = {
    nodes: { registerType: (t: string, def: { defaults: typeof defaults }) => t === type && (defaults = def.defaults) },
    validators: { number: () => () => true },
    _: (k: string) => k,
  };
  vm.runInNewContext(script, { RED, $: () => undefined });
  assert.ok(defaults, `${type}.html registers no ${type}`);
  return defaults;
}

const SAMPLES = [
  '',
  ' ',
  '0',
  '1',
  '2',
  '2.5',
  '16',
  '17',
  '-1',
  '0.5',
  '1e3',
  '24h',
  'lots',
  '0x10',
  'NaN',
  'Infinity',
  '1440',
  '1441',
  '+3',
  '.5',
  10,
  0,
  24,
  87600,
  87601,
  100000,
];

describe('archive and source settings', () => {
  it('take the default when empty and refuse text that is not a plain number in range', () => {
    assert.deepEqual(checkNumber('parallel', '', ARCHIVE_NUMBERS.concurrency), { value: 2 });
    assert.deepEqual(checkNumber('keep at most', '', ARCHIVE_NUMBERS.maxGB), { value: undefined });
    assert.equal(checkNumber('first sync', '0', ARCHIVE_NUMBERS.sinceHours).value, 0, '0 = everything, when typed');
    assert.match(checkNumber('first sync', '24h', ARCHIVE_NUMBERS.sinceHours).problem ?? '', /^first sync: "24h" is not a number/);
    assert.match(checkNumber('keep at most', 'lots', ARCHIVE_NUMBERS.maxGB).problem ?? '', /"lots" is not a number/);
    assert.match(checkNumber('parallel', '0', ARCHIVE_NUMBERS.concurrency).problem ?? '', /0 is outside 1 to 16/);
    assert.match(checkNumber('parallel', '2.5', ARCHIVE_NUMBERS.concurrency).problem ?? '', /whole number/);
    assert.match(checkNumber('keep days', '0', ARCHIVE_NUMBERS.maxAgeDays).problem ?? '', /outside more than 0/);
    assert.match(checkNumber('interval', '0x10', SOURCE_NUMBERS.interval).problem ?? '', /not a number/);
  });

  it('parse into engine settings, or a SettingsError listing every problem', () => {
    const s = parseArchiveSettings({ dbPath: 'data/a.db', downloadRoot: 'media', maxGB: '2', minFreeGB: '', fastReplay: false }, '/u');
    assert.equal(s.dbFile, '/u/data/a.db');
    assert.equal(s.downloadRoot, '/u/media');
    assert.deepEqual(s.sync, { segmentMinutes: 10, concurrency: 2, initialBackfillHours: 24, minFreeBytes: 0.5 * 1024 ** 3, fastReplay: false });
    assert.deepEqual(s.retention, { maxAgeDays: undefined, maxGB: 2 });
    assert.equal(resolveDbFile('', '/u'), '/u/vtrack-onvif.db');
    assert.equal(resolveDbFile('/abs/x.db', '/u'), '/abs/x.db');
    assert.throws(
      () => parseArchiveSettings({ concurrency: 0, sinceHours: '24h', maxGB: 'lots' }, '/u'),
      (e: unknown) => e instanceof SettingsError && e.problems.length === 3,
    );
  });

  it('nvr-source: the editor takes the on/off settings (self-signed, Basic) exactly as the runtime does', () => {
    const defaults = editorDefaults('nvr-source');
    for (const key of ['acceptSelfSigned', 'allowBasicAuth']) {
      const validate = defaults[key]?.validate;
      assert.ok(validate, `nvr-source.${key} has no validate in the editor`);
      assert.equal(defaults[key].value, false, `nvr-source.${key} is off by default`);
      for (const v of [undefined, null, true, false, 'true', 'false', 1, 0, '', {}]) {
        const runtime = checkFlag(key, v);
        assert.equal(validate(v) === true, runtime.problem === undefined, `nvr-source.${key} = ${JSON.stringify(v)}`);
        if (!runtime.problem) assert.equal(runtime.value, v === true);
      }
    }
  });

  for (const [type, rules] of [
    ['nvr-archive', ARCHIVE_NUMBERS],
    ['nvr-source', SOURCE_NUMBERS],
    ['onvif-discover', DISCOVER_NUMBERS],
  ] as Array<[string, Record<string, NumberRule>]>) {
    it(`${type}: the editor validates every number exactly as the runtime does`, () => {
      const defaults = editorDefaults(type);
      for (const [key, rule] of Object.entries(rules)) {
        const validate = defaults[key]?.validate;
        assert.ok(validate, `${type}.${key} has no validate in the editor`);
        assert.equal(validate(defaults[key].value), true, `${type}.${key}: its default value is valid`);
        for (const v of SAMPLES) {
          const runtime = checkNumber(key, v, rule).problem;
          const editor = validate(v);
          if (runtime === undefined)
            assert.equal(editor, true, `${type}.${key} = ${JSON.stringify(v)}: the runtime accepts it, the editor says ${String(editor)}`);
          else assert.equal(`${key}: ${String(editor)}`, runtime, `${type}.${key} = ${JSON.stringify(v)}`);
        }
      }
    });
  }
});
