// Decoder configuration records for MP4 sample entries (ISO 14496-15): avcC (§5.3.3.1) and hvcC
// (§8.3.3.1), built from the stream's parameter sets. Given one, the muxer takes our
// length-prefixed frames as they are (without one it would convert and copy every frame).
import { unescapeRbsp, type PictureInfo } from './codec-params';

// Every profile but Baseline, Main and Extended adds chroma format and bit depths to avcC.
const NO_AVCC_EXTENSION = new Set([66, 77, 88]);

class ByteWriter {
  private readonly bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  data(d: Uint8Array): this {
    for (const b of d) this.bytes.push(b);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** AVCDecoderConfigurationRecord with 4-byte NAL lengths; `pic` is the parsed first SPS. */
export function avcDecoderConfig(sps: Uint8Array[], pps: Uint8Array[], pic: PictureInfo): Uint8Array {
  if (sps.length === 0 || sps[0].length < 4) throw new Error('H.264: no SPS for the decoder configuration');
  const [, profile, compat, level] = sps[0];
  const w = new ByteWriter().u8(1).u8(profile).u8(compat).u8(level);
  w.u8(0xfc | 3); // lengthSizeMinusOne = 3
  w.u8(0xe0 | sps.length);
  for (const s of sps) w.u16(s.length).data(s);
  w.u8(pps.length);
  for (const p of pps) w.u16(p.length).data(p);
  if (!NO_AVCC_EXTENSION.has(profile)) {
    w.u8(0xfc | (pic.chromaFormat ?? 1));
    w.u8(0xf8 | ((pic.bitDepthLuma ?? 8) - 8));
    w.u8(0xf8 | ((pic.bitDepthChroma ?? 8) - 8));
    w.u8(0); // no SPS extensions
  }
  return w.done();
}

/** HEVCDecoderConfigurationRecord with 4-byte NAL lengths; `pic` is the parsed first SPS. */
export function hevcDecoderConfig(vps: Uint8Array[], sps: Uint8Array[], pps: Uint8Array[], pic: PictureInfo): Uint8Array {
  if (sps.length === 0) throw new Error('H.265: no SPS for the decoder configuration');
  // SPS RBSP after the 2-byte NAL header: 4 bits VPS id, 3 bits max_sub_layers_minus1, 1 bit
  // temporal_id_nesting, then the 12-byte general profile_tier_level, which hvcC repeats verbatim.
  const rbsp = unescapeRbsp(sps[0].subarray(2));
  if (rbsp.length < 13) throw new Error('H.265: SPS too short');
  const maxSubLayers = ((rbsp[0] >> 1) & 7) + 1;
  const temporalIdNested = rbsp[0] & 1;
  const w = new ByteWriter().u8(1).data(rbsp.subarray(1, 13));
  w.u16(0xf000); // min_spatial_segmentation_idc = 0
  w.u8(0xfc); // parallelismType = 0 (unknown)
  w.u8(0xfc | (pic.chromaFormat ?? 1));
  w.u8(0xf8 | ((pic.bitDepthLuma ?? 8) - 8));
  w.u8(0xf8 | ((pic.bitDepthChroma ?? 8) - 8));
  w.u16(0); // avgFrameRate unknown
  w.u8((maxSubLayers << 3) | (temporalIdNested << 2) | 3); // constantFrameRate 0, lengthSizeMinusOne 3
  const arrays = [
    { type: 32, nals: vps },
    { type: 33, nals: sps },
    { type: 34, nals: pps },
  ].filter((a) => a.nals.length > 0);
  w.u8(arrays.length);
  for (const a of arrays) {
    w.u8(0x80 | a.type); // array_completeness = 1: the sets are all here (frames may repeat them)
    w.u16(a.nals.length);
    for (const n of a.nals) w.u16(n.length).data(n);
  }
  return w.done();
}
