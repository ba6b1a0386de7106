// node-red-node-test-helper set-up shared by the node specs: one Node-RED runtime from the
// node-red devDependency, started per spec file.
import helper from 'node-red-node-test-helper';

helper.init(require.resolve('node-red'));

export { helper };

/** The compiled node module (dist/nodes/<type>/<type>.js), as Node-RED would load it. */
export function nodeModule(type: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED node modules are CommonJS by contract
  return require(`../../nodes/${type}/${type}`);
}
