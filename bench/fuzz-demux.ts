// `npm run fuzz:vendors`: the PS and DHAV demuxers on mutated and random inputs (default 100,000
// per demuxer; `node dist/bench/fuzz-demux.js N SEED`). Not part of `npm test` (minutes of CPU).
// Fails on: an exception other than the demuxers' declared refusals, a frame that is empty or not
// inside the input's bytes budget, or an input that takes more than 2 s (a hang or blow-up).
import { PsDemuxer } from '../lib/vendors/ps-demux';
import { DhavDemuxer, DhavTimer } from '../lib/vendors/dhav-demux';
import { dhavAudio, dhavFrame, imkhEnvelope, imkhHeader, psFrame } from '../lib/sim/vendor-media';
import { loadClip } from '../lib/sim/clips';

/** Deterministic PRNG (mulberry32) so a failing input can be reproduced from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Errors the demuxers are meant to throw on hostile input. */
const DECLARED = [/no MPEG-PS pack header/, /access unit larger than/];

function seeds(): { ps: Buffer[]; dhav: Buffer[] } {
  const h264 = loadClip('front-door-1080p-h264').frames.slice(0, 20);
  const h265 = loadClip('parking-720p-h265').frames.slice(0, 20);
  // Small frames keep each input small (fast), whole frames keep the structure real.
  const cut = (b: Buffer) => b.subarray(0, Math.min(b.length, 2000));
  const ps = [
    Buffer.concat([imkhHeader('H264'), ...h264.map((f, i) => psFrame(cut(f.data), f.keyframe, 'H264', 1000 + i * 6000))]),
    Buffer.concat([imkhEnvelope('H265'), ...h265.map((f, i) => psFrame(cut(f.data), f.keyframe, 'H265', 2 ** 33 - 30000 + i * 6000))]),
  ];
  const T = Date.UTC(2026, 11, 2, 8, 0, 59);
  const dh = (frames: typeof h264, codec: 'H264' | 'H265') =>
    Buffer.concat(
      frames.flatMap((f, i) => [
        dhavFrame({
          data: cut(f.data),
          keyframe: f.keyframe,
          codec,
          frameNumber: i,
          wallMs: T + (i * 1000) / 15,
          width: 1280,
          height: 720,
          fps: 15,
          channel: 0,
        }),
        ...(i % 5 === 0 ? [dhavAudio(i, T + i * 66, 0)] : []),
      ]),
    );
  return { ps, dhav: [dh(h264, 'H264'), dh(h265, 'H265')] };
}

function mutate(r: () => number, src: Buffer): Buffer {
  const kind = Math.floor(r() * 6);
  const b = Buffer.from(src);
  switch (kind) {
    case 0: {
      // bit flips
      const n = 1 + Math.floor(r() * 16);
      for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      return b;
    }
    case 1:
      // truncation
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: {
      // random bytes overwrite a run (often a length field)
      const at = Math.floor(r() * b.length);
      const n = Math.min(b.length - at, 1 + Math.floor(r() * 12));
      for (let i = 0; i < n; i++) b[at + i] = Math.floor(r() * 256);
      return b;
    }
    case 3: {
      // splice: repeat or drop a slice
      const a = Math.floor(r() * b.length);
      const c = Math.floor(r() * b.length);
      const [x, y] = a < c ? [a, c] : [c, a];
      return r() < 0.5 ? Buffer.concat([b.subarray(0, y), b.subarray(x, y), b.subarray(y)]) : Buffer.concat([b.subarray(0, x), b.subarray(y)]);
    }
    case 4: {
      // pure noise with start codes / magic sprinkled in
      const n = Math.floor(r() * 4096);
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
      for (let i = 0; i + 4 < n; i += 1 + Math.floor(r() * 200)) {
        if (r() < 0.5) out.set([0, 0, 1, [0xba, 0xbc, 0xe0, 0xbd][Math.floor(r() * 4)]], i);
        else out.write(r() < 0.5 ? 'DHAV' : 'dhav', i, 'latin1');
      }
      return out;
    }
    default: {
      // length fields set to extremes
      const at = Math.floor(r() * Math.max(1, b.length - 4));
      b.writeUInt32LE([0, 0xffffffff, 24, 31, 65535][Math.floor(r() * 5)] >>> 0, at);
      return b;
    }
  }
}

interface Totals {
  inputs: number;
  bytes: number;
  frames: number;
  declared: number;
  failures: string[];
  maxMs: number;
}

function run(name: 'ps' | 'dhav', n: number, seed: number, srcs: Buffer[]): Totals {
  const r = rng(seed);
  const t: Totals = { inputs: 0, bytes: 0, frames: 0, declared: 0, failures: [], maxMs: 0 };
  for (let i = 0; i < n; i++) {
    const input = mutate(r, srcs[i % srcs.length]);
    const chunk = 1 + Math.floor(r() * 3000);
    const t0 = performance.now();
    try {
      let frames = 0;
      let out = 0;
      if (name === 'ps') {
        const d = new PsDemuxer();
        const take = (f: { data: Uint8Array }) => {
          frames++;
          out += f.data.length;
        };
        for (let o = 0; o < input.length; o += chunk)
          for (const f of d.push(input.subarray(o, o + chunk))) {
            take(f);
            check(f.data.length > 0, 'empty frame');
          }
        for (const f of d.flush()) take(f);
      } else {
        const d = new DhavDemuxer();
        const timer = new DhavTimer();
        for (let o = 0; o < input.length; o += chunk)
          for (const f of d.push(input.subarray(o, o + chunk))) {
            for (const x of timer.push(f)) check(Number.isFinite(x.wallMs), 'time not finite');
            frames++;
            out += f.data.length;
            check(f.data.length > 0, 'empty frame');
          }
        timer.flush();
      }
      check(out <= input.length, `more payload (${out}) than input (${input.length})`);
      t.frames += frames;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (DECLARED.some((re) => re.test(msg))) t.declared++;
      else if (t.failures.length < 20) t.failures.push(`input ${i} (seed ${seed}): ${msg}`);
      else t.failures.length++;
    }
    const ms = performance.now() - t0;
    t.maxMs = Math.max(t.maxMs, ms);
    if (ms > 2000) t.failures.push(`input ${i} (seed ${seed}) took ${ms.toFixed(0)} ms`);
    t.inputs++;
    t.bytes += input.length;
  }
  return t;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

function main(): void {
  const n = Number(process.argv[2] ?? 100_000);
  const seed = Number(process.argv[3] ?? 20261202);
  const s = seeds();
  let failed = false;
  for (const name of ['ps', 'dhav'] as const) {
    const t0 = performance.now();
    const t = run(name, n, seed, name === 'ps' ? s.ps : s.dhav);
    const sec = (performance.now() - t0) / 1000;
    process.stdout.write(
      `${name}: ${t.inputs} inputs, ${(t.bytes / 1e6).toFixed(1)} MB, ${t.frames} frames out, ${t.declared} declared refusals, ${t.failures.length} failures, slowest input ${t.maxMs.toFixed(1)} ms, ${sec.toFixed(1)} s\n`,
    );
    for (const f of t.failures.slice(0, 20)) process.stdout.write(`  ${f}\n`);
    if (t.failures.length) failed = true;
  }
  process.exitCode = failed ? 1 : 0;
}

main();
