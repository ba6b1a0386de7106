// Motion-JPEG depacketizer (RFC 2435). A frame arrives as scan-data fragments, each with its byte
// offset and the same main header (type, Q, width/8, height/8); the first one (offset 0) may carry
// the quantization tables. finish() puts the fragments in offset order, refuses a frame with a
// hole (a lost packet: the frame is dropped, the next one is whole again since every JPEG frame is
// a keyframe) and rebuilds a complete JPEG file: SOI, DQT (in-band tables, cached ones, or tables
// scaled from Q per RFC 2435 Appendix A), SOF, the standard DHT, DRI, SOS, scan, EOI.
import { buildJpeg, type JpegQuantTable } from '../media/jpeg';
import type { AccessUnit, Depacketizer } from './depacketize';

interface MainHeader {
  type: number;
  q: number;
  width: number;
  height: number;
  restartInterval: number;
  /** Quantization table header of the offset-0 packet (Q ≥ 128). */
  qTables?: { precision: number; data: Buffer };
}

interface Fragment {
  offset: number;
  data: Buffer;
}

// T.81 Annex K.1 example tables in natural (row-major) order; RFC 2435 Appendix A scales these.
const LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103,
  77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** ZIGZAG[k] = natural index of the k-th coefficient in zigzag order (DQT stores tables this way). */
const ZIGZAG: number[] = (() => {
  const out: number[] = [];
  for (let s = 0; s < 15; s++) {
    const cells: number[] = [];
    for (let r = Math.max(0, s - 7); r <= Math.min(7, s); r++) cells.push(r * 8 + (s - r));
    // Even diagonals run bottom-left → top-right, odd ones the other way.
    out.push(...(s % 2 === 0 ? cells.reverse() : cells));
  }
  return out;
})();

/** RFC 2435 Appendix A: luma and chroma tables (zigzag order, 8-bit) for a Q factor 1..99. */
export function tablesForQ(q: number): [JpegQuantTable, JpegQuantTable] {
  const f = Math.min(99, Math.max(1, q));
  const scale = f < 50 ? Math.floor(5000 / f) : 200 - f * 2;
  const make = (base: number[]) => Buffer.from(ZIGZAG.map((n) => Math.min(255, Math.max(1, Math.floor((base[n] * scale + 50) / 100)))));
  return [
    { precision: 0, data: make(LUMA) },
    { precision: 0, data: make(CHROMA) },
  ];
}

export class JpegDepacketizer implements Depacketizer {
  private frags: Fragment[] = [];
  private header?: MainHeader;
  /** Q 128..254 tables are static: a sender may send them once (Length 0 afterwards). */
  private readonly staticTables = new Map<number, [JpegQuantTable, JpegQuantTable]>();

  push(p: Buffer): void {
    if (p.length < 8) throw new Error('short JPEG payload');
    const offset = p.readUIntBE(1, 3);
    const h: MainHeader = { type: p[4], q: p[5], width: p[6] * 8, height: p[7] * 8, restartInterval: 0 };
    let pos = 8;
    if (h.type >= 64 && h.type <= 127) {
      if (p.length < 12) throw new Error('JPEG payload without its restart marker header');
      h.restartInterval = p.readUInt16BE(8);
      pos = 12;
    }
    if (offset === 0 && h.q >= 128) {
      if (p.length < pos + 4) throw new Error('JPEG payload without its quantization table header');
      const len = p.readUInt16BE(pos + 2);
      if (p.length < pos + 4 + len) throw new Error('truncated JPEG quantization tables');
      if (len > 0) h.qTables = { precision: p[pos + 1], data: p.subarray(pos + 4, pos + 4 + len) };
      pos += 4 + len;
    }
    if (offset === 0) this.header = h;
    else if (this.header && (this.header.type !== h.type || this.header.q !== h.q || this.header.width !== h.width || this.header.height !== h.height)) {
      throw new Error('JPEG fragments of one frame disagree on type, Q or size');
    }
    this.frags.push({ offset, data: p.subarray(pos) });
  }

  finish(): AccessUnit | null {
    const frags = this.frags;
    const h = this.header;
    this.frags = [];
    this.header = undefined;
    if (frags.length === 0) return null;
    if (!h) throw new Error('JPEG frame without its first fragment (offset 0)');
    frags.sort((a, b) => a.offset - b.offset);
    const scan: Buffer[] = [];
    let next = 0;
    for (const f of frags) {
      if (f.offset < next && f.offset + f.data.length <= next) continue; // a duplicate
      if (f.offset !== next) throw new Error(`JPEG frame has a hole at byte ${next} (lost fragment)`);
      scan.push(f.data);
      next += f.data.length;
    }
    const base = h.type & 63;
    if (h.type > 127 || base > 1) throw new Error(`unsupported RFC 2435 type ${h.type}`);
    if (h.width === 0 || h.height === 0) throw new Error('JPEG frame without a size (width/height 0)');
    const [luma, chroma] = this.tables(h);
    return {
      data: buildJpeg({
        width: h.width,
        height: h.height,
        components: [
          { id: 1, h: 2, v: base === 0 ? 1 : 2, tq: 0 },
          { id: 2, h: 1, v: 1, tq: 1 },
          { id: 3, h: 1, v: 1, tq: 1 },
        ],
        quantTables: new Map([
          [0, luma],
          [1, chroma],
        ]),
        restartInterval: h.restartInterval,
        scan,
      }),
      keyframe: true,
    };
  }

  reset(): void {
    this.frags = [];
    this.header = undefined;
  }

  private tables(h: MainHeader): [JpegQuantTable, JpegQuantTable] {
    if (h.q >= 1 && h.q <= 99) return tablesForQ(h.q);
    if (h.q < 128) throw new Error(`reserved JPEG Q value ${h.q}`);
    if (!h.qTables) {
      const cached = h.q < 255 ? this.staticTables.get(h.q) : undefined;
      if (!cached) throw new Error(`JPEG frame with Q=${h.q} but no quantization tables`);
      return cached;
    }
    // Luma first, then chroma; precision bit i set = table i has 16-bit entries.
    const { precision, data } = h.qTables;
    const size = (i: number) => ((precision >> i) & 1 ? 128 : 64);
    const luma: JpegQuantTable = { precision: (precision & 1) as 0 | 1, data: Buffer.from(data.subarray(0, size(0))) };
    if (data.length < size(0)) throw new Error('JPEG quantization table header too short');
    // A single table serves both (some senders do that for grey or shared-table streams).
    const chroma: JpegQuantTable =
      data.length >= size(0) + size(1) ? { precision: ((precision >> 1) & 1) as 0 | 1, data: Buffer.from(data.subarray(size(0), size(0) + size(1))) } : luma;
    const tables: [JpegQuantTable, JpegQuantTable] = [luma, chroma];
    if (h.q < 255) this.staticTables.set(h.q, tables);
    return tables;
  }
}
