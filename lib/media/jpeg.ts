// Baseline JPEG (ITU T.81) structure, as far as Motion-JPEG over RTP (RFC 2435) needs it: cutting
// a stream of concatenated JPEG files into frames, reading a frame's headers (size, sampling,
// quantization tables, restart interval, where the scan data lies), and building a complete JPEG
// from those parts with the standard Huffman tables of T.81 Annex K.3 — RFC 2435 sends no Huffman
// tables, so sender and receiver both assume these.

export interface JpegComponent {
  id: number;
  h: number;
  v: number;
  /** Quantization table id. */
  tq: number;
}

export interface JpegQuantTable {
  /** 0 = 8-bit entries, 1 = 16-bit entries. */
  precision: 0 | 1;
  /** 64 entries in zigzag order, 64 or 128 bytes as in DQT. */
  data: Buffer;
}

export interface JpegInfo {
  width: number;
  height: number;
  components: JpegComponent[];
  /** By table id. */
  quantTables: Map<number, JpegQuantTable>;
  /** DHT segment bodies (without marker and length), in order. */
  huffmanTables: Buffer[];
  /** 0 = no restart markers. */
  restartInterval: number;
  /** Entropy-coded data: from after the SOS header to before EOI. */
  scan: Buffer;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

/** T.81 Annex K.3 tables: [class/id byte, 16 code-length counts, values]. */
const DC_LUMA_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_BITS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMA_VALUES = Buffer.from(
  '01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa',
  'hex',
);
const AC_CHROMA_BITS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMA_VALUES = Buffer.from(
  '000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa',
  'hex',
);

const huffTable = (classId: number, bits: number[], values: ArrayLike<number>) => Buffer.from([classId, ...bits, ...Array.from(values)]);

/** The four standard tables as DHT bodies: DC 0 (luma), AC 0 (luma), DC 1 (chroma), AC 1 (chroma). */
export const STANDARD_HUFFMAN_TABLES: readonly Buffer[] = [
  huffTable(0x00, DC_LUMA_BITS, DC_VALUES),
  huffTable(0x10, AC_LUMA_BITS, AC_LUMA_VALUES),
  huffTable(0x01, DC_CHROMA_BITS, DC_VALUES),
  huffTable(0x11, AC_CHROMA_BITS, AC_CHROMA_VALUES),
];

/** Whether a frame's DHT segments hold exactly the standard tables (in any split and order). */
export function usesStandardHuffmanTables(info: JpegInfo): boolean {
  const byKey = new Map<number, string>();
  for (const body of info.huffmanTables) {
    for (let o = 0; o < body.length;) {
      if (o + 17 > body.length) return false;
      const n = body.subarray(o + 1, o + 17).reduce((a, b) => a + b, 0);
      byKey.set(body[o], body.subarray(o, o + 17 + n).toString('hex'));
      o += 17 + n;
    }
  }
  return STANDARD_HUFFMAN_TABLES.every((t) => byKey.get(t[0]) === t.toString('hex'));
}

/** Where the frame's entropy-coded data ends: the first marker after SOS that is not RSTn or a stuffed 0xFF00. */
function scanEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) {
    if (buf[i] !== 0xff) continue;
    const m = buf[i + 1];
    if (m === 0x00 || (m >= 0xd0 && m <= 0xd7) || m === 0xff) continue;
    return i;
  }
  return buf.length;
}

/** Reads a baseline/extended sequential JPEG; throws on anything else (progressive, truncated). */
export function parseJpeg(buf: Buffer): JpegInfo {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== SOI) throw new Error('not a JPEG (no SOI)');
  const info: JpegInfo = { width: 0, height: 0, components: [], quantTables: new Map(), huffmanTables: [], restartInterval: 0, scan: Buffer.alloc(0) };
  let o = 2;
  while (o + 4 <= buf.length) {
    if (buf[o] !== 0xff) throw new Error(`JPEG: marker expected at ${o}`);
    const marker = buf[o + 1];
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    const len = buf.readUInt16BE(o + 2);
    const body = buf.subarray(o + 4, o + 2 + len);
    if (o + 2 + len > buf.length || len < 2) throw new Error('JPEG: truncated segment');
    if (marker === 0xc0 || marker === 0xc1) {
      info.height = body.readUInt16BE(1);
      info.width = body.readUInt16BE(3);
      for (let c = 0; c < body[5]; c++) {
        const p = 6 + c * 3;
        info.components.push({ id: body[p], h: body[p + 1] >> 4, v: body[p + 1] & 15, tq: body[p + 2] });
      }
    } else if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw new Error(`JPEG: unsupported frame type SOF${marker - 0xc0}`);
    } else if (marker === 0xdb) {
      for (let q = 0; q < body.length;) {
        const precision = (body[q] >> 4) as 0 | 1;
        const size = precision ? 128 : 64;
        info.quantTables.set(body[q] & 15, { precision, data: Buffer.from(body.subarray(q + 1, q + 1 + size)) });
        q += 1 + size;
      }
    } else if (marker === 0xc4) {
      info.huffmanTables.push(body);
    } else if (marker === 0xdd) {
      info.restartInterval = body.readUInt16BE(0);
    } else if (marker === SOS) {
      const start = o + 2 + len;
      const end = scanEnd(buf, start);
      info.scan = buf.subarray(start, end);
      if (!info.width || !info.height) throw new Error('JPEG: SOS before SOF');
      return info;
    }
    o += 2 + len;
  }
  throw new Error('JPEG: no scan (SOS) found');
}

/** Splits concatenated JPEG files (an .mjpeg stream) into one buffer per frame, SOI to EOI. */
export function splitJpegs(buf: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let o = 0;
  while (o + 1 < buf.length) {
    if (buf[o] !== 0xff || buf[o + 1] !== SOI) throw new Error(`JPEG stream: SOI expected at ${o}`);
    // Walk the header segments to SOS, then the scan to its end marker (EOI).
    let p = o + 2;
    for (;;) {
      if (p + 4 > buf.length) throw new Error('JPEG stream: truncated frame');
      const marker = buf[p + 1];
      const len = buf.readUInt16BE(p + 2);
      p += 2 + len;
      if (marker === SOS) break;
    }
    p = scanEnd(buf, p);
    if (buf[p] !== 0xff || buf[p + 1] !== EOI) throw new Error('JPEG stream: frame without EOI');
    frames.push(buf.subarray(o, p + 2));
    o = p + 2;
  }
  return frames;
}

function segment(marker: number, ...parts: Buffer[]): Buffer {
  const len = 2 + parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([Buffer.from([0xff, marker, len >> 8, len & 0xff]), ...parts]);
}

export interface JpegBuildParams {
  width: number;
  height: number;
  /** Components with their sampling and quantization table ids; each one gets its own scan entry. */
  components: JpegComponent[];
  /** Quantization tables by id. */
  quantTables: Map<number, JpegQuantTable>;
  /** MCUs between restart markers; 0 = none. */
  restartInterval: number;
  /** Entropy-coded data; an EOI at its end is kept, else one is appended. */
  scan: Buffer[];
}

/** A complete JPEG file: SOI, DQT, SOF0 (SOF1 with 16-bit tables), DHT (standard), DRI, SOS, scan, EOI.
 * The scan uses Huffman tables 0 for the first (luma) component and 1 for the others. */
export function buildJpeg(p: JpegBuildParams): Buffer {
  const dqt: Buffer[] = [];
  let sixteenBit = false;
  for (const [id, t] of [...p.quantTables].sort((a, b) => a[0] - b[0])) {
    dqt.push(Buffer.from([(t.precision << 4) | id]), t.data);
    if (t.precision) sixteenBit = true;
  }
  const sof = Buffer.alloc(6 + 3 * p.components.length);
  sof[0] = 8;
  sof.writeUInt16BE(p.height, 1);
  sof.writeUInt16BE(p.width, 3);
  sof[5] = p.components.length;
  p.components.forEach((c, i) => sof.set([c.id, (c.h << 4) | c.v, c.tq], 6 + i * 3));
  const sos = Buffer.alloc(4 + 2 * p.components.length);
  sos[0] = p.components.length;
  p.components.forEach((c, i) => sos.set([c.id, i === 0 ? 0x00 : 0x11], 1 + i * 2));
  sos.set([0, 63, 0], 1 + 2 * p.components.length);
  const dri = Buffer.alloc(2);
  dri.writeUInt16BE(p.restartInterval);
  const last = p.scan[p.scan.length - 1];
  const hasEoi = !!last && last.length >= 2 && last[last.length - 2] === 0xff && last[last.length - 1] === EOI;
  return Buffer.concat([
    Buffer.from([0xff, SOI]),
    segment(0xdb, ...dqt),
    segment(sixteenBit ? 0xc1 : 0xc0, sof),
    segment(0xc4, ...STANDARD_HUFFMAN_TABLES),
    ...(p.restartInterval ? [segment(0xdd, dri)] : []),
    segment(SOS, sos),
    ...p.scan,
    ...(hasEoi ? [] : [Buffer.from([0xff, EOI])]),
  ]);
}
