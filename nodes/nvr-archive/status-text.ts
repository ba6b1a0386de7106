// How a node words what lib says: a lib message key ("status.synced") lives in the node's own
// locale file under its type ("nvr-sync.status.synced"), because Node-RED gives each node file its
// own catalog. Use with lib's say() and wordBadge(). A spec checks that every key lib may use is in
// the file of each node that shows it.
import type { NodeAPI } from 'node-red';
import type { Translate } from '../../lib/message';

/** RED._ over the node's own section of its catalog. */
export function nodeWords(RED: NodeAPI, type: string): Translate {
  return (key, params) => RED._(`${type}.${key}`, params);
}
