// The file naming rule as data (FileNaming): what a worker is given so it names each file itself.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { fileNamer, parseSegmentName, segmentPath } from '../lib/sync/naming';

describe('file naming rule (lib/sync/naming)', () => {
  const start = new Date('2026-03-29T00:59:58.400Z');
  const end = new Date('2026-03-29T01:09:58.000Z');

  it('camera-folder: <folder>/<UTC day>/<camera>_<start>_<end>.mp4, read back to whole seconds', () => {
    const folder = join('/archive', 'Front Door');
    const name = fileNamer({ kind: 'camera-folder', folder });
    assert.equal(name(start, end), segmentPath(folder, start, end));
    assert.equal(name(start, end), join(folder, '2026-03-29', 'Front Door_2026-03-29T00-59-58Z_2026-03-29T01-09-58Z.mp4'));
    assert.deepEqual(parseSegmentName(name(start, end)), { start: new Date('2026-03-29T00:59:58Z'), end });
  });

  it('numbered: the first file gets the asked name, later ones -1, -2 …; a start keeps its name (.part and final agree)', () => {
    const name = fileNamer({ kind: 'numbered', file: '/tmp/out.mp4' });
    const later = new Date(start.getTime() + 60_000);
    assert.equal(name(start, end), '/tmp/out.mp4');
    assert.equal(name(later, end), '/tmp/out-1.mp4');
    assert.equal(name(start, new Date(end.getTime() + 5000)), '/tmp/out.mp4', 'the same start, another end: the same file');
    assert.equal(name(new Date(later.getTime() + 1), end), '/tmp/out-2.mp4');
  });

  it('a rule that names no folder or file is refused with what is wrong', () => {
    assert.throws(() => fileNamer({ kind: 'camera-folder', folder: '' }), /not a camera folder/);
    assert.throws(() => fileNamer({ kind: 'camera-folder', folder: '/' }), /not a camera folder/);
    assert.throws(() => fileNamer({ kind: 'numbered', file: '' }), /no output file/);
  });
});
