// Badges and progress: texts cut at a word with "…", causes named from the error kind, one badge
// per source and a summary for nvr-sync, progress at most once a second plus each file's first.
// Times are passed in: no clock, no waiting.
import { strict as assert } from 'node:assert';
import { StatusBoard, causeOf, clock, fitBadge, wordBadge, BADGE_MAX, STATUS_EN } from '../lib/archive/status';
import { catalogTranslate, message, say } from '../lib/message';
import { ProgressThrottle } from '../lib/sync/progress-throttle';
import type { SyncEvent } from '../lib/sync/types';

const at = (iso: string) => new Date(iso);
const english = catalogTranslate(STATUS_EN);

/** One source's badge on the board, in lib's English (as nvr-source words it with its en-US file). */
function sourceBadge(b: StatusBoard, id: number) {
  const s = b.sourceStatus(id);
  return s && wordBadge(s, english);
}

describe('status badges', () => {
  it('cut long texts at a word boundary and end them with "…"', () => {
    assert.equal(fitBadge('short'), 'short');
    const long = 'NVR unreachable at 192.168.100.200:8000 while replaying Front Door Camera';
    const cut = fitBadge(long);
    assert.ok(cut.length <= BADGE_MAX, cut);
    assert.ok(cut.endsWith('…'));
    assert.ok(long.startsWith(cut.slice(0, -1)), 'a prefix of the text');
    assert.match(cut, /\S…$/);
    assert.ok(!/ Fr…$/.test(cut) && long.split(' ').includes(cut.slice(0, -1).split(' ').at(-1) ?? ''), `not cut mid-word: ${cut}`);
    assert.equal(fitBadge('x'.repeat(100), 10), `${'x'.repeat(9)}…`);
  });

  it('name the cause from the error kind, not from the text', () => {
    assert.deepEqual(causeOf('auth', 'rtsp://127.0.0.1:40155/ 401'), { key: 'status.cause.auth' });
    assert.equal(say(causeOf('auth', 'rtsp://127.0.0.1:40155/ 401'), english), 'auth failed');
    assert.equal(say(causeOf('unreachable', 'x'), english), 'NVR unreachable');
    assert.equal(say(causeOf('disk-full', 'x'), english), 'disk full');
    assert.equal(say(causeOf(undefined, 'something else'), english), 'something else');
  });

  it('are messages (key and parameters) worded by the caller, nested messages first, plurals by count', () => {
    const t = catalogTranslate({
      s: { oneError: 'error: __cause__', errors_one: '__count__ error', errors_other: '__count__ errors', cause: { disk: 'disk full' } },
    });
    assert.equal(say(message('s.oneError', { cause: message('s.cause.disk') }), t), 'error: disk full');
    assert.equal(say(message('s.errors', { count: 1 }), t), '1 error');
    assert.equal(say(message('s.errors', { count: 2 }), t), '2 errors');
    assert.equal(say(message('s.missing'), t), 's.missing', 'a missing key shows as the key, as in i18next');
    const long = { fill: 'red', shape: 'ring', parts: [message('s.cause.disk'), message('s.oneError', { cause: 'x'.repeat(60) })] } as const;
    const text = wordBadge(long, t).text;
    assert.ok(text.startsWith('disk full · error: ') && text.endsWith('…') && text.length <= BADGE_MAX, `worded, joined, then cut: ${text}`);
  });

  it('show each source its own state and summarise them for nvr-sync', () => {
    const b = new StatusBoard();
    const next = at('2026-12-02T14:20:00Z');
    const ev = (e: SyncEvent) => b.apply(e, at('2026-12-02T14:10:00Z'));
    for (const [id, name] of [
      [1, 'A'],
      [2, 'B'],
      [3, 'C'],
    ] as const) {
      ev({ event: 'started', source: name, sourceId: id, reason: 'timer', at: '' });
    }
    ev({ event: 'progress', source: 'A', sourceId: 1, camera: 'Front Door Camera', index: 3, total: 12, percent: 45 });
    assert.deepEqual(sourceBadge(b, 1), { fill: 'blue', shape: 'dot', text: 'Front Door 3/12 · 45%' });
    assert.equal(wordBadge(b.summaryStatus(false), english).text, '3 syncing');
    ev({ event: 'finished', source: 'A', sourceId: 1, reason: 'timer', files: 2, bytes: 1, failed: 0, durationMs: 1, nextRunAt: next.toISOString() });
    ev({ event: 'finished', source: 'B', sourceId: 2, reason: 'timer', files: 1, bytes: 1, failed: 2, durationMs: 1, nextRunAt: next.toISOString() });
    ev({ event: 'error', source: 'C', sourceId: 3, error: 'the device said 401', code: 'auth' });
    ev({ event: 'finished', source: 'C', sourceId: 3, reason: 'timer', files: 0, bytes: 0, failed: 0, durationMs: 1, nextRunAt: next.toISOString() });
    assert.deepEqual(sourceBadge(b, 1), { fill: 'green', shape: 'dot', text: `synced ${clock(at('2026-12-02T14:10:00Z'))} · next ${clock(next)}` });
    assert.match(sourceBadge(b, 2)?.text ?? '', / · 2 left · next /, 'backlog shown');
    assert.deepEqual(sourceBadge(b, 3), { fill: 'red', shape: 'ring', text: `auth failed · retry ${clock(next)}` });
    assert.deepEqual(wordBadge(b.summaryStatus(false), english), { fill: 'yellow', shape: 'ring', text: `2 ok · 1 error · next ${clock(next)}` });
    assert.equal(wordBadge(b.summaryStatus(true), english).text, 'paused');
    b.forget(3);
    assert.equal(wordBadge(b.summaryStatus(false), english).text, `2 ok · next ${clock(next)}`);
  });
});

describe('nvr-sync summary of one failing source', () => {
  it("names its cause (the engine's own words when the kind has no name), nested in the summary", () => {
    const b = new StatusBoard();
    const now = at('2026-12-02T14:10:00Z');
    b.apply({ event: 'started', source: 'A', sourceId: 1, reason: 'timer', at: '' }, now);
    b.apply({ event: 'error', source: 'A', sourceId: 1, error: 'the device said 401', code: 'auth' }, now);
    b.apply({ event: 'finished', source: 'A', sourceId: 1, reason: 'timer', files: 0, bytes: 0, failed: 0, durationMs: 1 }, now);
    assert.deepEqual(b.summaryStatus(false), {
      fill: 'red',
      shape: 'ring',
      parts: [{ key: 'status.oneError', params: { cause: { key: 'status.cause.auth' } } }],
    });
    assert.equal(wordBadge(b.summaryStatus(false), english).text, 'error: auth failed');
    b.apply({ event: 'started', source: 'A', sourceId: 1, reason: 'timer', at: '' }, now);
    b.apply({ event: 'error', source: 'A', sourceId: 1, error: 'account locked until 14:40', code: 'locked' }, now);
    b.apply({ event: 'finished', source: 'A', sourceId: 1, reason: 'timer', files: 0, bytes: 0, failed: 0, durationMs: 1 }, now);
    assert.equal(wordBadge(b.summaryStatus(false), english).text, 'error: account locked until 14:40');
  });
});

describe('progress throttle', () => {
  const p = (index: number, percent: number): Extract<SyncEvent, { event: 'progress' }> => ({
    event: 'progress',
    source: 'A',
    sourceId: 1,
    camera: 'Cam',
    index,
    total: 3,
    percent,
  });

  it('lets through the first event of each file and then at most one a second', () => {
    const t = new ProgressThrottle();
    const passed = [
      [p(1, 0), 0],
      [p(1, 10), 100],
      [p(1, 50), 900],
      [p(1, 60), 1000],
      [p(2, 0), 1100],
      [p(1, 90), 1500],
      [p(1, 99), 2100],
    ].filter(([e, ms]) => t.pass(e as ReturnType<typeof p>, ms as number));
    assert.deepEqual(
      passed.map(([e]) => `${(e as ReturnType<typeof p>).index}:${(e as ReturnType<typeof p>).percent}`),
      ['1:0', '1:60', '2:0', '1:99'],
    );
  });

  it('starts over with a new pass', () => {
    const t = new ProgressThrottle();
    assert.equal(t.pass(p(1, 0), 0), true);
    assert.equal(t.pass(p(1, 5), 10), false);
    t.reset(1);
    assert.equal(t.pass(p(1, 0), 20), true, 'file 1 of the next pass is new again');
  });
});

describe('nvr-source badge after a save', () => {
  it('after a save, show the sync state the source already reached, whichever finished first', () => {
    const b = new StatusBoard();
    // nvr-source's own save result; the board only decides whether it or the sync state shows.
    const saved = { fill: 'green', shape: 'dot', parts: [message('status.unchanged', { count: 3 })] } as const;
    const afterSave = (id: number) => wordBadge(b.afterSaveStatus(id, saved), english);
    const now = at('2026-12-02T08:14:00Z');
    const next = at('2026-12-02T08:15:00Z');
    b.track(7, 'Demo NVR');
    assert.deepEqual(b.afterSaveStatus(7, saved), saved, 'nothing run yet: the save result');
    assert.deepEqual(b.afterSaveStatus(8, saved), saved, 'a source the board does not know');
    b.apply({ event: 'started', source: 'Demo NVR', sourceId: 7, reason: 'timer', at: '' }, now);
    assert.deepEqual(b.afterSaveStatus(7, saved), saved, '"looking for new recordings" says less than the save');
    b.apply({ event: 'progress', source: 'Demo NVR', sourceId: 7, camera: 'Front Door Camera', index: 1, total: 3, percent: 20 }, now);
    assert.equal(afterSave(7).text, 'Front Door 1/3 · 20%');
    // The demo's race: the pass from the last saved settings ended before the deploy's save did.
    b.apply(
      { event: 'finished', source: 'Demo NVR', sourceId: 7, reason: 'timer', files: 3, bytes: 1, failed: 0, durationMs: 1, nextRunAt: next.toISOString() },
      now,
    );
    assert.deepEqual(afterSave(7), { fill: 'green', shape: 'dot', text: `synced ${clock(now)} · next ${clock(next)}` });
  });
});
