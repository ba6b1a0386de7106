// The segment writer keeps its memory flat whatever the file's length: once a fragment is on disk,
// it keeps one record for it (the mfra index entry), not one per frame; the file stays complete
// and decodable.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../lib/sim/clips';
import { splitAnnexB } from '../lib/media/annexb';
import { joinLengthPrefixed } from '../lib/media/length-prefixed';
import { avcDecoderConfig } from '../lib/media/decoder-config';
import { parseH264Sps } from '../lib/media/codec-params';
import { openSegmentWriter, retainedSampleRecords } from '../lib/media/segment-writer';

describe('segment writer memory', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vtrack-segwriter-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds about one record per written fragment, not one per frame (1500 frames, 1 s fragments)', async () => {
    const clip = loadClip('front-door-1080p-h264');
    const sps = clip.config.sps;
    const pps = clip.config.pps;
    assert.ok(sps && pps);
    const pic = parseH264Sps(sps);
    const w = openSegmentWriter(join(dir, 'a.mp4.part'), {
      codec: 'H264',
      width: clip.width,
      height: clip.height,
      codecString: clip.codecString,
      description: avcDecoderConfig([sps], [pps], pic),
    });
    const frames = 1500; // 100 s at 15 fps; the clip's 150 frames looped (keyframe every 15)
    for (let i = 0; i < frames; i++) {
      const f = clip.frames[i % clip.frames.length];
      await w.add(joinLengthPrefixed(splitAnnexB(f.data)), f.keyframe, i / 15, 1 / 15);
    }
    const retained = retainedSampleRecords(w);
    assert.notEqual(retained, undefined, 'the writer no longer reports what it holds');
    // ~100 fragments (one per keyframe second) + at most 64 frames not yet trimmed.
    assert.ok((retained ?? 0) < 200, `${retained} records retained for ${frames} frames`);
    await w.finish(join(dir, 'a.mp4'));
    const out = execFileSync('ffprobe', [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames:format=duration',
      '-of',
      'json',
      join(dir, 'a.mp4'),
    ]).toString();
    const j = JSON.parse(out) as { streams: Array<{ nb_read_frames: string }>; format: { duration: string } };
    assert.equal(Number(j.streams[0].nb_read_frames), frames);
    assert.ok(Math.abs(Number(j.format.duration) - 100) < 0.1, `duration ${j.format.duration}`);
  });
});
