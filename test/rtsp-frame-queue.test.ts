// The replay's frame queue: bounded in frames and bytes, it pauses its source when either bound is
// passed and resumes it once the consumer has taken everything. The consumer here is driven by hand
// (each frame waits for a promise the spec resolves), so every step is observed, not timed.
import { strict as assert } from 'node:assert';
import { FrameQueue } from '../lib/rtsp/frame-queue';

interface F {
  n: number;
  data: Uint8Array;
}

function setup(o: { maxFrames?: number; maxBytes?: number; consume?: (f: F) => void | Promise<void> } = {}) {
  const log: string[] = [];
  const waiting: (() => void)[] = [];
  const failures: unknown[] = [];
  const q = new FrameQueue<F>({
    maxFrames: o.maxFrames ?? 8,
    maxBytes: o.maxBytes ?? 1024 * 1024,
    consume:
      o.consume ??
      ((f) => {
        log.push(`consume ${f.n}`);
        return new Promise<void>((r) => waiting.push(r));
      }),
    pause: () => void log.push('pause'),
    resume: () => void log.push('resume'),
    drained: () => void log.push('drained'),
    failed: (e) => void failures.push(e),
  });
  /** Lets the consumer finish its frame, then lets the queue move on. */
  const consumeOne = async () => {
    const r = waiting.shift();
    assert.ok(r, 'the consumer holds a frame');
    r();
    await new Promise((s) => setImmediate(s));
  };
  return { q, log, failures, consumeOne };
}

const frame = (n: number, bytes = 10): F => ({ n, data: new Uint8Array(bytes) });

describe('frame queue: bounded, with backpressure on its source', () => {
  it('pauses the source once more than maxFrames wait, resumes only when the consumer has taken them all, in order', async () => {
    const { q, log, consumeOne } = setup({ maxFrames: 3 });
    for (let n = 1; n <= 5; n++) q.push(frame(n));
    // Frame 1 is with the consumer; 2..5 wait: four waiting > 3.
    assert.deepEqual(log, ['consume 1', 'pause']);
    assert.equal(q.length, 4);
    assert.equal(q.busy, true);
    for (let i = 0; i < 4; i++) await consumeOne();
    assert.deepEqual(log, ['consume 1', 'pause', 'consume 2', 'consume 3', 'consume 4', 'consume 5']);
    await consumeOne();
    assert.deepEqual(log.slice(-2), ['resume', 'drained']);
    assert.deepEqual(q.delivered, { frames: 5, bytes: 50 });
    assert.equal(q.busy, false);
  });

  it('pauses on the byte bound too: one large frame waiting is enough', () => {
    const { q, log } = setup({ maxBytes: 100 });
    q.push(frame(1));
    q.push(frame(2, 101));
    assert.deepEqual(log, ['consume 1', 'pause']);
  });

  it('does not pause while within both bounds', async () => {
    const { q, log, consumeOne } = setup({ maxFrames: 3, maxBytes: 100 });
    for (let n = 1; n <= 4; n++) q.push(frame(n, 25)); // three wait, 75 bytes
    assert.equal(log.includes('pause'), false);
    for (let i = 0; i < 4; i++) await consumeOne();
    assert.deepEqual(log.slice(-1), ['drained']);
  });

  it('release() resumes a paused source at once (e.g. to read a TEARDOWN reply) and the frames still arrive', async () => {
    const { q, log, consumeOne } = setup({ maxFrames: 1 });
    for (let n = 1; n <= 3; n++) q.push(frame(n));
    q.release();
    assert.deepEqual(log, ['consume 1', 'pause', 'resume']);
    for (let i = 0; i < 3; i++) await consumeOne();
    assert.deepEqual(log.slice(-2), ['consume 3', 'drained'], 'no second resume');
  });

  it('a consumer that throws closes the queue: failed() once, nothing more delivered, no resume', async () => {
    let calls = 0;
    const { q, log, failures } = setup({
      maxFrames: 1,
      consume: async (f) => {
        calls++;
        if (f.n === 2) throw new Error('disk full');
      },
    });
    for (let n = 1; n <= 4; n++) q.push(frame(n));
    await new Promise((s) => setImmediate(s));
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]), /disk full/);
    assert.equal(calls, 2);
    q.push(frame(5));
    await new Promise((s) => setImmediate(s));
    assert.equal(calls, 2, 'a closed queue takes nothing');
    assert.deepEqual(log, ['pause']);
    assert.deepEqual(q.delivered, { frames: 1, bytes: 10 });
  });

  it('close() drops what waits: the consumer finishes the frame it holds and gets no more', async () => {
    const { q, log, consumeOne } = setup();
    for (let n = 1; n <= 3; n++) q.push(frame(n));
    q.close();
    assert.equal(q.length, 0);
    await consumeOne();
    assert.deepEqual(log, ['consume 1'], 'no frame 2, no drained');
  });
});
