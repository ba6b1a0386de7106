// How a node words what lib says. A lib message key ("status.synced") lives in the node's own
// locale file under its type ("nvr-sync.status.synced"), because Node-RED gives each node file its
// own catalog. test/locales.test.ts checks that every key lib may hand a node is in that node's
// file: the status board's keys for a node calling summaryStatus / sourceStatus, and
// ArchiveProblem's for a node calling wordProblem.
import type { NodeAPI } from 'node-red';
import { say, type Translate } from '../../lib/message';
import { wordBadge, type Badge } from '../../lib/archive/status';
import type { ArchiveProblem } from './use-archive';

/** RED._ over the node's own section of its catalog. */
export function nodeWords(RED: NodeAPI, type: string): Translate {
  return (key, params) => RED._(`${type}.${key}`, params);
}

/** Why the node cannot use its archive, in its words: the error for the log and Catch, and the badge. */
export function wordProblem(p: ArchiveProblem, words: Translate): { error: Error; badge: Badge } {
  return { error: new Error(say(p.error, words)), badge: wordBadge({ fill: 'red', shape: 'ring', parts: [p.badge] }, words) };
}
