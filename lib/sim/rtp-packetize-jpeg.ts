// Motion-JPEG RTP payloads (RFC 2435): the JPEG file's headers are replaced by an 8-byte main
// header (type from the sampling factors, Q, size / 8), a restart marker header when the frame
// has restart markers, and — in the first packet, for Q ≥ 128 — the quantization tables; then the
// entropy-coded scan data, cut at the MTU with its byte offset in every packet.
import { parseJpeg, usesStandardHuffmanTables } from '../media/jpeg';
import { MAX_PAYLOAD } from './rtp-packetize';

export interface JpegPacketizeOptions {
  /** Payload size limit, headers included. */
  max?: number;
  /** RFC 2435 Q: 255 (default) = tables in-band, may change per frame; 128..254 = in-band, static; 1..99 = receiver computes tables from this factor. */
  q?: number;
  /** For Q 128..254: whether this frame carries the tables (false = Length 0, the receiver reuses them). */
  sendTables?: boolean;
}

/** RFC 2435 type: 0 = 4:2:2 (luma 2x1), 1 = 4:2:0 (luma 2x2); the caller adds 64 for restart markers. */
function typeOf(c: Array<{ h: number; v: number }>): number {
  if (c.length !== 3 || c[1].h !== 1 || c[1].v !== 1 || c[2].h !== 1 || c[2].v !== 1 || c[0].h !== 2) {
    throw new Error('RFC 2435 carries only YCbCr with luma 2x1 or 2x2 and chroma 1x1 sampling');
  }
  if (c[0].v === 1) return 0;
  if (c[0].v === 2) return 1;
  throw new Error(`RFC 2435: luma sampling 2x${c[0].v} has no type`);
}

export function packetizeJpeg(frame: Uint8Array, o: JpegPacketizeOptions = {}): Buffer[] {
  const max = o.max ?? MAX_PAYLOAD;
  const q = o.q ?? 255;
  const info = parseJpeg(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
  const type = typeOf(info.components) + (info.restartInterval ? 64 : 0);
  if (!usesStandardHuffmanTables(info)) throw new Error('RFC 2435 needs the standard Huffman tables (encode with -huffman default)');
  if (info.width % 8 || info.height % 8 || info.width > 2040 || info.height > 2040)
    throw new Error(`RFC 2435 cannot describe ${info.width}x${info.height} (multiples of 8 up to 2040)`);
  const [y, cb, cr] = info.components;
  if (cb.tq !== cr.tq) throw new Error('RFC 2435: Cb and Cr must share a quantization table');
  const luma = info.quantTables.get(y.tq);
  const chroma = info.quantTables.get(cb.tq);
  if (!luma || !chroma) throw new Error('JPEG without the quantization tables its components use');

  let qHeader = Buffer.alloc(0);
  if (q >= 128) {
    const send = o.sendTables ?? true;
    const tables = send ? Buffer.concat([luma.data, chroma.data]) : Buffer.alloc(0);
    qHeader = Buffer.alloc(4 + tables.length);
    qHeader[1] = send ? luma.precision | (chroma.precision << 1) : 0;
    qHeader.writeUInt16BE(tables.length, 2);
    tables.copy(qHeader, 4);
  }
  const restart = Buffer.alloc(info.restartInterval ? 4 : 0);
  if (info.restartInterval) {
    restart.writeUInt16BE(info.restartInterval, 0);
    restart.writeUInt16BE(0xffff, 2); // F=1 L=1 count=0x3FFF: packets not aligned to restart intervals
  }

  const scan = info.scan;
  const out: Buffer[] = [];
  for (let off = 0; off < scan.length || off === 0;) {
    const extra = off === 0 ? qHeader : Buffer.alloc(0);
    const headerLen = 8 + restart.length + extra.length;
    if (headerLen >= max) throw new Error('RTP payload limit smaller than the JPEG headers');
    const n = Math.min(max - headerLen, scan.length - off);
    const p = Buffer.allocUnsafe(headerLen + n);
    p[0] = 0; // type-specific
    p.writeUIntBE(off, 1, 3);
    p[4] = type;
    p[5] = q;
    p[6] = info.width / 8;
    p[7] = info.height / 8;
    restart.copy(p, 8);
    extra.copy(p, 8 + restart.length);
    scan.copy(p, headerLen, off, off + n);
    out.push(p);
    off += n;
    if (n === 0) break;
  }
  return out;
}
