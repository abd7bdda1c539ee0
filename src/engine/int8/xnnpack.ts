// XNNPACK's integer arithmetic (what TFLite's XNNPACK delegate, and so LiteRT.js's CPU path, runs for
// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD and MEAN), bit-exact in JS numbers: the
// requantization goes through a float32 product rounded to nearest-even instead of TFLite's
// fixed-point multiplier with double rounding.
//
// Read from google/XNNPACK (snapshot of 2026-08-21, commit 75db3c09) and the delegate in
// google-ai-edge/LiteRT (tflite/delegates/xnnpack/xnnpack_delegate.cc, commit f6745779):
// - src/operators/convolution-nhwc.c init_requantization_scale_qu8 / _qx8_qc8w and
//   fully-connected-nc.c: scale = in_s · w_s[c] / out_s, all float32, left to right.
// - src/xnnpack/requantization.h xnn_qu8_requantize_fp32 and the wasmsimd gemm / igemm / dwconv
//   kernels (…minmax-fp32-wasmsimd…: f32x4.convert_i32x4, × scale, + magic bias 0x1.8p23, integer
//   max with the shifted minimum, − (magic bias − zero point), saturating narrows, u8 min): out =
//   clamp(rint(float(acc) · scale) + zp, min, max), rint halves to even.
// - src/xnnpack/requantization.h xnn_qu8_quantize / xnn_qs8_quantize (subgraph convolution-2d.c,
//   depthwise-convolution-2d.c, fully-connected.c): the fused activation's bounds as lrintf of the
//   clamped float val / out_s + zp.
// - src/microparams-init.c xnn_init_qu8_add_minmax_scalar_params (= the qs8 one) and
//   qu8-vadd-minmax-wasmsimd-u32.c: ADD in integers, multipliers rint(s_i/s_out · 2^shift).
// - src/operators/reduce-nd.c (mean: scale (in_s/out_s) · (1/n), the int32 sum converted by the
//   reference int32 → qint8 unary convert, src/reference/unary-elementwise.cc and
//   src/xnnpack/reference-utils.h quantize / round_float_to_int).
// Operators the delegate leaves to TFLite (quantized AVERAGE_POOL_2D and SOFTMAX: its visitors accept
// float tensors only) keep TFLite's arithmetic.
import type { QuantType } from './quantize.js';

/** Math.round rounds halves up; lrintf / nearbyint / the magic-bias trick round them to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** float32(in_s · w_s) / out_s in float32, as the conv / depthwise / FC operators compute it. */
export function xnnRequantizationScale(inputScale: number, filterScale: number, outputScale: number): number {
  const scale = Math.fround(Math.fround(Math.fround(inputScale) * Math.fround(filterScale)) / Math.fround(outputScale));
  // XNNPACK refuses to create the operator otherwise (and asserts scale ≥ 2^−32 in its params).
  if (!(scale >= 2 ** -32 && scale < 256)) throw new RangeError(`requantization scale ${scale} outside XNNPACK's [2^-32, 256)`);
  return scale;
}

/** clamp(rint(float32(float32(acc) · scale)) + zp, lo, hi): the fp32 requantization of one accumulator. */
export function xnnRequantize(acc: number, scale: number, zeroPoint: number, lo: number, hi: number): number {
  const v = roundHalfEven(Math.fround(Math.fround(acc) * scale)) + zeroPoint;
  return v < lo ? lo : v > hi ? hi : v;
}

/** The range of a fused activation (NONE / RELU / RELU6 as −∞..∞, 0..∞, 0..6), in reals. */
export interface RealRange {
  min: number;
  max: number;
}

/**
 * xnn_qu8_quantize / xnn_qs8_quantize of both bounds: lrintf(min(max(val/s + zp, qmin), qmax)) in
 * float32, on the file's type; returned in the storage domain (quantize.ts).
 */
export function xnnActivationRange(range: RealRange, type: QuantType, scale: number, storageZeroPoint: number): { min: number; max: number } {
  const offset = type === 'uint8' ? 128 : 0;
  const zp = storageZeroPoint + offset;
  const qmin = type === 'uint8' ? 0 : -128;
  const qmax = qmin + 255;
  const s = Math.fround(scale);
  const bound = (val: number) => {
    const v = Math.fround(Math.fround(val / s) + zp);
    return roundHalfEven(Math.min(Math.max(v, qmin), qmax)) - offset;
  };
  return { min: bound(range.min), max: bound(range.max) };
}

/** XNNPACK's 8-bit ADD: out = clamp(((bias + a·aMultiplier + b·bMultiplier) >> shift) + zp, min, max). */
export interface XnnAddParams {
  scheme: 'xnnpack';
  aMultiplier: number;
  bMultiplier: number;
  /** 2^(shift−1) − aMultiplier·a_zp − bMultiplier·b_zp (storage zero points: the same sums). */
  bias: number;
  shift: number;
  outputZeroPoint: number;
  actMin: number;
  actMax: number;
}

const f32Bits = new DataView(new ArrayBuffer(4));

/** The unbiased exponent of a positive normal float32. */
function exponentOf(x: number): number {
  f32Bits.setFloat32(0, x);
  return ((f32Bits.getUint32(0) >>> 23) & 0xff) - 127;
}

/**
 * xnn_init_qu8_add_minmax_scalar_params (the qs8 one is the same): s_i/s_out in float32; shift = 20 −
 * exponent of the larger ratio (so its multiplier has 21 bits); each multiplier rint(ratio · 2^shift)
 * (the exponent-field addition of the C code is that exact scaling). Scales and zero points: storage.
 */
export function xnnAddParams(
  a: { scale: number; zeroPoint: number }, b: { scale: number; zeroPoint: number }, output: { scale: number; zeroPoint: number },
  actMin = -128, actMax = 127,
): XnnAddParams {
  const outScale = Math.fround(output.scale);
  const aRatio = Math.fround(Math.fround(a.scale) / outScale);
  const bRatio = Math.fround(Math.fround(b.scale) / outScale);
  const largest = Math.max(aRatio, bRatio);
  if (!(Math.min(aRatio, bRatio) >= 2 ** -10 && largest < 256)) {
    throw new RangeError(`ADD scale ratios ${aRatio}, ${bRatio} outside XNNPACK's [2^-10, 256)`);
  }
  const shift = 20 - exponentOf(largest);
  const aMultiplier = roundHalfEven(aRatio * 2 ** shift);
  const bMultiplier = roundHalfEven(bRatio * 2 ** shift);
  const bias = ((1 << (shift - 1)) - aMultiplier * a.zeroPoint - bMultiplier * b.zeroPoint) | 0;
  return { scheme: 'xnnpack', aMultiplier, bMultiplier, bias, shift, outputZeroPoint: output.zeroPoint, actMin, actMax };
}

/**
 * MEAN over H and W: the int32 sum of the file's values q converted to 8 bits by the reference
 * convert, clamp(nearbyint(float32(float32(Σq) · scale) + zeroPoint)), where scale = float32(in_s/out_s)
 * · float32(1/n) and zeroPoint = out_zp − float32(n · in_zp) · scale, all float32 (reduce-nd.c). The
 * float rounding sees the file's values, not the storage ones, so the params keep the type's offset.
 */
export interface XnnMeanParams {
  scheme: 'xnnpack';
  scale: number;
  /** A float32, in the file's domain. */
  zeroPoint: number;
  /** file value − storage value: 128 for uint8, 0 for int8. */
  offset: number;
}

export function xnnMeanParams(
  type: QuantType, input: { scale: number; zeroPoint: number }, output: { scale: number; zeroPoint: number }, n: number,
): XnnMeanParams {
  const offset = type === 'uint8' ? 128 : 0;
  const ratio = Math.fround(Math.fround(input.scale) / Math.fround(output.scale));
  const scale = Math.fround(ratio * Math.fround(1 / n));
  const inputShare = Math.fround(Math.fround(n * (input.zeroPoint + offset)) * scale);
  return { scheme: 'xnnpack', scale, zeroPoint: Math.fround(output.zeroPoint + offset - inputShare), offset };
}

/** One MEAN output (storage domain) from the channel's sum of n stored values. */
export function xnnMeanValue(storageSum: number, n: number, p: XnnMeanParams): number {
  const sum = storageSum + p.offset * n;
  const v = roundHalfEven(Math.fround(Math.fround(Math.fround(sum) * p.scale) + p.zeroPoint)) - p.offset;
  return v < -128 ? -128 : v > 127 ? 127 : v;
}
