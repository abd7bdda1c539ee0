// TFLite's integer arithmetic, bit-exact, in plain JavaScript numbers.
//
// Rules implemented here and where they come from (LiteRT v2.2.0, google-ai-edge/LiteRT tag v2.2.0,
// commit 145c7523ff08d5e57ab5c582141775eea47da9c7, which is where the TFLite runtime lives now; the
// same code is in tensorflow/tensorflow's tensorflow/lite/kernels/internal):
// - quantizeMultiplier: tflite/kernels/internal/quantization_util.cc QuantizeMultiplier (frexp, then
//   round-half-away-from-zero of q·2^31, 2^31 folded into 2^30 with shift+1, shift < -31 flushed to 0)
//   and its SmallerThanOneExp / GreaterThanOne checks.
// - multiplyByQuantizedMultiplier: tflite/kernels/internal/common.cc, the default build
//   (TFLITE_SINGLE_ROUNDING=0, "double rounding"): RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
//   x · 2^left, M), right), the two gemmlowp primitives being gemmlowp/fixedpoint/fixedpoint.h's (the
//   ARM VQRDMULH semantics and a round-half-away-from-zero arithmetic right shift). The single-rounding
//   variant (TFLITE_SINGLE_ROUNDING=1 builds: (x·M + 2^(30-shift)) >> (31-shift)) is provided too, but
//   no op uses it.
// - activationRange: tflite/kernels/kernel_util.cc CalculateActivationRangeQuantized: the fused
//   activation becomes a clamp [max(qmin, zp + round(0/s)), min(qmax, zp + round(6/s))] with the
//   division and std::round done in float.
//
// Every value passed around is an int32 held in a JS number; the 64-bit products of the C++ code are
// never formed (see saturatingRoundingDoublingHighMul for why the double-based arithmetic is exact).
import { ACT_NONE, ACT_RELU, ACT_RELU6, type ActCode } from '../plan.js';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
const TWO_31 = 2147483648;
const TWO_30 = 1073741824;
const TWO_52 = 4503599627370496;
const INV_TWO_31 = 1 / 2147483648; // multiplying by it is an exact division by 2^31

/** std::round / TfLiteRound: halves away from zero. Exact for every double. */
export function roundHalfAwayFromZero(x: number): number {
  const t = Math.trunc(x);
  const frac = x - t; // exact: the fractional part of a double is a double
  if (frac >= 0.5) return t + 1;
  if (frac <= -0.5) return t - 1;
  return t === 0 ? 0 : t; // no -0
}

const frexpView = new DataView(new ArrayBuffer(8));

/**
 * std::frexp: x = fraction · 2^exponent with |fraction| in [0.5, 1), exactly (bit manipulation, so
 * no rounding; subnormals included). 0, ±Infinity and NaN come back as [x, 0].
 */
export function frexp(x: number): [fraction: number, exponent: number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0];
  frexpView.setFloat64(0, x);
  const hi = frexpView.getUint32(0);
  const biased = (hi >>> 20) & 0x7ff;
  if (biased === 0) {
    // Subnormal: scale into the normal range first (exact).
    const [f, e] = frexp(x * 2 ** 64);
    return [f, e - 64];
  }
  // Same sign and mantissa, exponent field 1022: a value in [0.5, 1).
  frexpView.setUint32(0, (hi & 0x800fffff) | (1022 << 20));
  return [frexpView.getFloat64(0), biased - 1022];
}

/** A real multiplier as TFLite stores it: multiplier (Q0.31, an int32) · 2^shift (shift > 0: left). */
export interface QuantizedMultiplier {
  multiplier: number;
  shift: number;
}

/** QuantizeMultiplier (quantization_util.cc). QuantizeMultiplier(0.5) = {2^30, 0}, (1) = {2^30, 1}. */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (real === 0) return { multiplier: 0, shift: 0 };
  if (!Number.isFinite(real)) throw new RangeError(`cannot quantize the multiplier ${real}`);
  const [fraction, exponent] = frexp(real);
  let shift = exponent;
  let fixed = roundHalfAwayFromZero(fraction * TWO_31); // exact product: a power-of-two scaling
  if (fixed === TWO_31) {
    fixed /= 2;
    shift += 1;
  }
  if (shift < -31) {
    // All bits would be shifted out: TFLite flushes tiny multipliers to zero.
    return { multiplier: 0, shift: 0 };
  }
  return { multiplier: fixed, shift };
}

/** QuantizeMultiplierSmallerThanOneExp: checks 0 < real < 1 (TFLite aborts otherwise); shift ≤ 0. */
export function quantizeMultiplierSmallerThanOneExp(real: number): QuantizedMultiplier {
  if (!(real > 0 && real < 1)) throw new RangeError(`multiplier ${real} must be in (0, 1)`);
  const q = quantizeMultiplier(real);
  if (q.shift > 0) throw new RangeError(`multiplier ${real} rounds to 1 or more`);
  return q;
}

/** QuantizeMultiplierGreaterThanOne: checks real > 1 (TFLite aborts otherwise); shift ≥ 0. */
export function quantizeMultiplierGreaterThanOne(real: number): QuantizedMultiplier {
  if (!(real > 1)) throw new RangeError(`multiplier ${real} must be greater than 1`);
  const q = quantizeMultiplier(real);
  if (q.shift < 0) throw new RangeError(`multiplier ${real} has a negative shift`);
  return q;
}

/**
 * gemmlowp SaturatingRoundingDoublingHighMul for int32 a, b: (a·b + nudge) / 2^31 truncated toward
 * zero, nudge = 2^30 for a·b ≥ 0 and 1 − 2^30 otherwise; INT32_MIN · INT32_MIN saturates to INT32_MAX.
 *
 * Exactness: when |a·b| < 2^52 the double product is exact (a double holds every integer below
 * 2^53), so is a·b + nudge (< 2^53) and its scaling by 2^−31 (a power of two); the quotient is below
 * 2^21 in magnitude, so ToInt32 (|0) is exactly its truncation toward zero. Otherwise
 * b is split as bh·2^16 + bl: a·bh (< 2^46) and a·bl (< 2^47) are exact, a·bh = ph·2^15 + pl, and
 * a·b + nudge = ph·2^31 + t with t = pl·2^16 + a·bl + nudge (|t| < 2^48, exact); the floor of the
 * quotient is ph + floor(t / 2^31), and truncation adds one for a negative non-integral quotient.
 * Tested against BigInt on edge and random inputs.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  const ab = a * b;
  if (ab > -TWO_52 && ab < TWO_52) {
    // |quotient| < 2^21, so ToInt32 (|0) is the truncation toward zero.
    return ab >= 0 ? ((ab + TWO_30) * INV_TWO_31) | 0 : ((ab + (1 - TWO_30)) * INV_TWO_31) | 0;
  }
  return srdhmWide(a, b);
}

function srdhmWide(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const negative = (a < 0) !== (b < 0); // a, b ≠ 0 here (the product is large)
  const p = a * (b >> 16);
  const q = a * (b & 0xffff);
  const ph = Math.floor(p / 32768);
  const pl = p - ph * 32768;
  const t = pl * 65536 + q + (negative ? 1 - TWO_30 : TWO_30);
  const tf = Math.floor(t / TWO_31);
  const floor = ph + tf;
  return negative && t !== tf * TWO_31 ? floor + 1 : floor;
}

/** gemmlowp RoundingDivideByPOT for int32 x, 0 ≤ exponent ≤ 31: x / 2^exponent, halves away from zero. */
export function roundingDivideByPOT(x: number, exponent: number): number {
  const mask = exponent === 31 ? 0x7fffffff : (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * MultiplyByQuantizedMultiplier(int32 x, multiplier, shift), default (double-rounding) build: the
 * requantization of every conv / depthwise / FC / MEAN / QUANTIZE output. x · 2^left wraps like the
 * C++ int32 product. Returns an int32.
 */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  const a = x << left;
  // SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, inlined for the hot loops.
  const ab = a * multiplier;
  let high: number;
  if (ab > -TWO_52 && ab < TWO_52) {
    high = ab >= 0 ? ((ab + TWO_30) * INV_TWO_31) | 0 : ((ab + (1 - TWO_30)) * INV_TWO_31) | 0;
  } else {
    high = srdhmWide(a, multiplier);
  }
  if (right === 0) return high;
  const mask = right === 31 ? 0x7fffffff : (1 << right) - 1;
  const threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

/**
 * MultiplyByQuantizedMultiplier of a TFLITE_SINGLE_ROUNDING=1 build: (x·M + 2^(30−shift)) >> (31−shift)
 * with a 64-bit product and an arithmetic (floor) shift; shift in [-31, 30]. Not used by the ops (the
 * default build double-rounds); here so the difference can be tested and discussed. Uses BigInt.
 */
export function multiplyByQuantizedMultiplierSingleRounding(x: number, multiplier: number, shift: number): number {
  const total = BigInt(31 - shift);
  const product = BigInt(x) * BigInt(multiplier) + (1n << (total - 1n));
  return Number(BigInt.asIntN(32, product >> total));
}

/** Storage types of quantized tensors in the TFLite files we read. */
export type QuantType = 'uint8' | 'int8';

/**
 * Activations and weights are all held as Int8Array ("storage"): an int8 tensor as is, a uint8 tensor
 * as q − 128 with zero point zp − 128. Every op is bit-exact under that shift except AVERAGE_POOL_2D
 * (it rounds the raw sum), which is told the original type (see ops.ts).
 */
export function storageZeroPoint(zeroPoint: number, type: QuantType): number {
  return type === 'uint8' ? zeroPoint - 128 : zeroPoint;
}

/** uint8 data → storage (q − 128). */
export function uint8ToStorage(data: Uint8Array, out = new Int8Array(data.length)): Int8Array {
  for (let i = 0; i < data.length; i++) out[i] = data[i]! - 128;
  return out;
}

/** Storage → uint8 data (q + 128). */
export function storageToUint8(data: Int8Array, out = new Uint8Array(data.length)): Uint8Array {
  for (let i = 0; i < data.length; i++) out[i] = data[i]! + 128;
  return out;
}

/** Quantized data of either file type → storage, with its zero point. */
export function toStorage(data: Uint8Array | Int8Array, zeroPoint: number, type: QuantType): { data: Int8Array; zeroPoint: number } {
  if (type === 'int8') {
    const view = data instanceof Int8Array ? data : new Int8Array(data.buffer, data.byteOffset, data.length);
    return { data: view, zeroPoint };
  }
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { data: uint8ToStorage(bytes), zeroPoint: zeroPoint - 128 };
}

/** Clamp bounds of a fused activation, in the storage domain. */
export interface ActivationRange {
  min: number;
  max: number;
}

/**
 * CalculateActivationRangeQuantized for a tensor of output scale `scale` and storage zero point
 * `zeroPoint` (qmin/qmax −128/127: for a uint8 tensor this is the uint8 range shifted by −128, and
 * max(0, zp + r) − 128 = max(−128, (zp − 128) + r), so the shifted bounds are the same).
 * ReLU: [zp + round(0/s), 127]; ReLU6: [.., zp + round(6/s)]; NONE: [−128, 127]. f/s and the
 * rounding are float32 operations in TFLite: fround(f / s) of two float32 values is the float32
 * quotient (double rounding is innocuous for division when 53 ≥ 2·24 + 2).
 */
export function activationRange(act: ActCode | 'relu_n1_to_1', scale: number, zeroPoint: number): ActivationRange {
  const s = Math.fround(scale);
  const quantize = (f: number) => zeroPoint + roundHalfAwayFromZero(Math.fround(f / s));
  if (act === ACT_RELU) return { min: Math.max(-128, quantize(0)), max: 127 };
  if (act === ACT_RELU6) return { min: Math.max(-128, quantize(0)), max: Math.min(127, quantize(6)) };
  if (act === 'relu_n1_to_1') return { min: Math.max(-128, quantize(-1)), max: Math.min(127, quantize(1)) };
  if (act === ACT_NONE) return { min: -128, max: 127 };
  throw new RangeError(`unknown activation ${String(act)}`);
}
