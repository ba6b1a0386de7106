// WAL checkpoints on a worker thread, for a long run of writes (a retention pass over thousands of
// files). SQLite checkpoints in the committing call once the WAL passes 1000 pages: it copies them
// into the database and fsyncs it, on the event loop. At 1 M rows those checkpoints were the
// longest blocks of a size-cap pass (14-64 ms on the shared 2-core machine, against 2-6 ms for the
// commit itself). In WAL mode a checkpoint from another connection runs beside the writer.
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** The worker: its own connection, a PASSIVE checkpoint per request (never waits for a writer). */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage('done');
  } catch (e) {
    parentPort.postMessage('failed: ' + (e && e.message));
  }
});
`;

/** How long stop() waits for the worker to close its connection before terminating it. */
const STOP_BOUND_MS = 5_000;
/** SQLite's default, restored when the worker stops. */
const DEFAULT_AUTOCHECKPOINT = 1000;

export interface BackgroundCheckpoints {
  /** After a commit: asks for a checkpoint unless one is running. */
  written(): void;
  /** Stops the worker and gives checkpoints back to the connection. Never rejects. */
  stop(): Promise<void>;
}

export function startBackgroundCheckpoints(db: Database.Database, file: string): BackgroundCheckpoints {
  const worker = new Worker(WORKER_CODE, { eval: true, workerData: { driver: require.resolve('better-sqlite3'), file } });
  worker.unref();
  let busy = false;
  let broken = false;
  const restore = () => {
    if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
  };
  // A worker that cannot run: the connection checkpoints again by itself (as without the worker).
  const fail = () => {
    broken = true;
    restore();
  };
  worker.on('message', (m: string) => {
    busy = false;
    if (m !== 'done') fail();
  });
  worker.on('error', fail);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  db.pragma('wal_autocheckpoint = 0');
  return {
    written() {
      if (busy || broken) return;
      busy = true;
      worker.postMessage('check');
    },
    async stop() {
      restore();
      if (!broken) worker.postMessage('close');
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(() => void worker.terminate().then(() => resolve()), broken ? 0 : STOP_BOUND_MS);
      });
      await Promise.race([exited, bound]);
      clearTimeout(timer);
    },
  };
}
