// node-red-node-test-helper set-up shared by the node specs: one Node-RED runtime from the
// node-red devDependency, started per spec file.
//
// The helper gives nodes a RED._ that returns the key itself, so a badge would read
// "nvr-sync.status.paused" and a missing key would go unnoticed. nodeModule() therefore hands each
// node Node-RED's own i18n with that node's en-US catalog, as the runtime's loader does, and any
// key the catalog lacks fails the spec that asked for it (see the afterEach below).
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type { NodeAPI } from 'node-red';
import helper from 'node-red-node-test-helper';

helper.init(require.resolve('node-red'));

export { helper };

interface NodeRedI18n {
  init(settings: { lang?: string }): void;
  registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
  _(key: string, params?: Record<string, string | number>): string;
  i: { exists(key: string, options?: Record<string, unknown>): boolean };
}

// Node-RED's i18n (i18next with its settings), from the node-red devDependency's own packages.
const i18n = (createRequire(require.resolve('node-red'))('@node-red/util') as { i18n: NodeRedI18n }).i18n;
i18n.init({ lang: 'en-US' });

/** Keys a node asked for that its catalog lacks, since the last check. */
const missing: string[] = [];

afterEach(() => {
  const keys = missing.splice(0);
  if (keys.length) throw new Error(`message keys missing from the en-US locale files: ${[...new Set(keys)].join(', ')}`);
});

type NodeModule = (RED: NodeAPI) => unknown;

/** The compiled node module (dist/nodes/<type>/<type>.js), as Node-RED would load it, with its catalog. */
export function nodeModule(type: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED node modules are CommonJS by contract
  const mod = require(`../../nodes/${type}/${type}`) as NodeModule;
  const namespace = `test/${type}`;
  const dir = path.join(__dirname, '..', '..', 'nodes', type, 'locales');
  return async (RED: NodeAPI) => {
    await i18n.registerMessageCatalog(namespace, dir, `${type}.json`);
    // The helper's RED for everything else; only RED._ is the real catalog lookup.
    const red = Object.create(RED) as NodeAPI;
    red._ = (key: string, params?: Record<string, string | number>) => {
      const full = key.includes(':') ? key : `${namespace}:${key}`;
      if (!i18n.i.exists(full, params)) missing.push(key);
      return i18n._(full, params);
    };
    return mod(red);
  };
}
