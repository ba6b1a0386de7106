// Reads what a muxer and an SDP need from codec parameter sets: picture size and the RFC 6381
// codec string. Only the fields up to the picture size are parsed; the rest is not needed.

/** Removes H.264/H.265 emulation-prevention bytes (00 00 03 → 00 00). */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

export class BitReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  u(bits: number): number {
    let v = 0;
    for (let i = 0; i < bits; i++) {
      const byte = this.buf[this.pos >> 3];
      if (byte === undefined) throw new Error('bitstream ended early');
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }

  skip(bits: number): void {
    this.pos += bits;
  }

  /** Unsigned Exp-Golomb. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      zeros++;
      if (zeros > 31) throw new Error('bad exp-golomb code');
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }

  /** Signed Exp-Golomb. */
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

export interface PictureInfo {
  width: number;
  height: number;
  /** RFC 6381 codec string, e.g. avc1.640028 / hvc1.1.6.L93.B0 / mp4v.20.8. */
  codecString: string;
  /** H.264/H.265 (for the avcC/hvcC record): chroma_format_idc and bit depths. */
  chromaFormat?: number;
  bitDepthLuma?: number;
  bitDepthChroma?: number;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** H.264 SPS NAL unit (with its 1-byte header, without start code). */
export function parseH264Sps(nal: Uint8Array): PictureInfo {
  const r = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profile = r.u(8);
  const constraints = r.u(8);
  const level = r.u(8);
  r.ue(); // seq_parameter_set_id
  let chroma = 1;
  let depthLuma = 8;
  let depthChroma = 8;
  if (HIGH_PROFILES.has(profile)) {
    chroma = r.ue();
    if (chroma === 3) r.skip(1);
    depthLuma = 8 + r.ue();
    depthChroma = 8 + r.ue();
    r.skip(1);
    if (r.u(1)) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
        if (!r.u(1)) continue;
        const size = i < 6 ? 16 : 64;
        let last = 8;
        let next = 8;
        for (let j = 0; j < size; j++) {
          if (next !== 0) next = (last + r.se() + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.skip(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.skip(1);
  const wMbs = r.ue() + 1;
  const hMapUnits = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.skip(1);
  r.skip(1);
  let crop = [0, 0, 0, 0];
  if (r.u(1)) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  const subW = chroma === 1 || chroma === 2 ? 2 : 1;
  const subH = chroma === 1 ? 2 : 1;
  const cropX = chroma === 0 ? 1 : subW;
  const cropY = (chroma === 0 ? 1 : subH) * (2 - frameMbsOnly);
  const hex = (v: number) => v.toString(16).padStart(2, '0');
  return {
    width: wMbs * 16 - cropX * (crop[0] + crop[1]),
    height: (2 - frameMbsOnly) * hMapUnits * 16 - cropY * (crop[2] + crop[3]),
    codecString: `avc1.${hex(profile)}${hex(constraints)}${hex(level)}`,
    chromaFormat: chroma,
    bitDepthLuma: depthLuma,
    bitDepthChroma: depthChroma,
  };
}

/** H.265 SPS NAL unit (with its 2-byte header, without start code). */
export function parseH265Sps(nal: Uint8Array): PictureInfo {
  const r = new BitReader(unescapeRbsp(nal.subarray(2)));
  r.skip(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  r.skip(1);
  // profile_tier_level(1, maxSubLayersMinus1)
  const profileSpace = r.u(2);
  const tier = r.u(1);
  const profileIdc = r.u(5);
  const compat = r.u(32);
  const constraintBytes: number[] = [];
  for (let i = 0; i < 6; i++) constraintBytes.push(r.u(8));
  const level = r.u(8);
  const subProfile: boolean[] = [];
  const subLevel: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.u(1) === 1);
    subLevel.push(r.u(1) === 1);
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) r.skip(88);
    if (subLevel[i]) r.skip(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chroma = r.ue();
  if (chroma === 3) r.skip(1);
  const w = r.ue();
  const h = r.ue();
  let crop = [0, 0, 0, 0];
  if (r.u(1)) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  const depthLuma = 8 + r.ue();
  const depthChroma = 8 + r.ue();
  const subW = chroma === 1 || chroma === 2 ? 2 : 1;
  const subH = chroma === 1 ? 2 : 1;
  // Codec string per ISO 14496-15 Annex E: compatibility flags bit-reversed, trailing zero bytes dropped.
  let rev = 0;
  for (let i = 0; i < 32; i++) rev = rev * 2 + ((compat >>> i) & 1);
  while (constraintBytes.length > 0 && constraintBytes[constraintBytes.length - 1] === 0) constraintBytes.pop();
  const space = ['', 'A', 'B', 'C'][profileSpace];
  const cons = constraintBytes.map((b) => '.' + b.toString(16).toUpperCase()).join('');
  return {
    width: w - subW * (crop[0] + crop[1]),
    height: h - subH * (crop[2] + crop[3]),
    codecString: `hvc1.${space}${profileIdc}.${rev.toString(16).toUpperCase()}.${tier ? 'H' : 'L'}${level}${cons}`,
    chromaFormat: chroma,
    bitDepthLuma: depthLuma,
    bitDepthChroma: depthChroma,
  };
}

/** Finds the MPEG-4 Visual VOL header (00 00 01 2x) in a config or frame and reads its size. */
export function parseMpeg4Vol(data: Uint8Array): PictureInfo {
  for (let i = 0; i + 4 < data.length; i++) {
    if (data[i] !== 0 || data[i + 1] !== 0 || data[i + 2] !== 1 || (data[i + 3] & 0xf0) !== 0x20) continue;
    const r = new BitReader(data.subarray(i + 4));
    r.skip(1); // random_accessible_vol
    const objectType = r.u(8);
    let verid = 1;
    if (r.u(1)) {
      verid = r.u(4);
      r.skip(3);
    }
    if (r.u(4) === 0xf) r.skip(16);
    if (r.u(1)) {
      r.skip(3);
      if (r.u(1)) r.skip(79);
    }
    const shape = r.u(2);
    if (shape === 3 && verid !== 1) r.skip(4);
    r.skip(1);
    const resolution = r.u(16);
    r.skip(1);
    if (r.u(1)) r.skip(Math.max(1, Math.ceil(Math.log2(resolution))));
    if (shape !== 0) throw new Error('MPEG-4 VOL: only rectangular shape is supported');
    r.skip(1);
    const width = r.u(13);
    r.skip(1);
    const height = r.u(13);
    return { width, height, codecString: `mp4v.20.${objectType === 1 ? 8 : 9}` };
  }
  throw new Error('MPEG-4 Visual: no VOL header found');
}
