// A slow, separate statement of TFLite's integer semantics for the tests: BigInt arithmetic
// everywhere (no double tricks, no 32-bit JS operators), straight loops, and data in the file's own
// type (uint8 or int8, raw zero points — not the storage shift the fast ops use), written from the
// formulas of the TFLite reference kernels and gemmlowp's fixed point. The fast ops in
// src/engine/int8 must agree with it bit for bit.
import type { ActCode } from '../../src/engine/plan.js';

export type FileType = 'uint8' | 'int8';

const TWO31 = 1n << 31n;
const I32_MIN = -TWO31;
const I32_MAX = TWO31 - 1n;

export const wrap32 = (x: bigint) => BigInt.asIntN(32, x);

/** gemmlowp SaturatingRoundingDoublingHighMul. BigInt division truncates toward zero, as C++'s. */
export function srdhm(a: bigint, b: bigint): bigint {
  if (a === I32_MIN && b === I32_MIN) return I32_MAX;
  const ab = a * b;
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return (ab + nudge) / TWO31;
}

/** x / 2^e rounded to nearest, halves away from zero (gemmlowp RoundingDivideByPOT). */
export function rdbpot(x: bigint, e: number): bigint {
  if (e === 0) return x;
  const d = 1n << BigInt(e);
  const magnitude = ((x < 0n ? -x : x) + d / 2n) / d;
  return x < 0n ? -magnitude : magnitude;
}

/** MultiplyByQuantizedMultiplier, double rounding: x·2^left wraps as the C++ int32 product does. */
export function mbqm(x: bigint, multiplier: number, shift: number): bigint {
  const left = Math.max(shift, 0);
  const right = Math.max(-shift, 0);
  return rdbpot(srdhm(wrap32(x << BigInt(left)), BigInt(multiplier)), right);
}

/** The TFLITE_SINGLE_ROUNDING=1 variant: floor((x·M + 2^(30−shift)) / 2^(31−shift)). */
export function mbqmSingle(x: bigint, multiplier: number, shift: number): bigint {
  const total = BigInt(31 - shift);
  const sum = x * BigInt(multiplier) + (1n << (total - 1n));
  // floor division by a power of two
  const d = 1n << total;
  const q = sum / d;
  return sum < 0n && q * d !== sum ? q - 1n : q;
}

/** A double as mantissa · 2^exponent, exactly (mantissa an integer). */
function exact(d: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(d));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  if (biased === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

/**
 * QuantizeMultiplier from its definition: d = q·2^shift with q in [0.5, 1), q·2^31 rounded half away
 * from zero, 2^31 folded, shifts below −31 flushed to (0, 0).
 */
export function quantizeMultiplierExact(d: number): { multiplier: number; shift: number } {
  if (d === 0) return { multiplier: 0, shift: 0 };
  const { mantissa, exponent } = exact(d);
  const bits = mantissa.toString(2).length; // d = (mantissa / 2^bits) · 2^(bits + exponent)
  let shift = bits + exponent;
  let fixed: bigint;
  if (bits <= 31) fixed = mantissa << BigInt(31 - bits);
  else {
    const drop = BigInt(bits - 31);
    fixed = (mantissa + (1n << (drop - 1n))) >> drop; // positive: half up = half away
  }
  if (fixed === TWO31) {
    fixed = 1n << 30n;
    shift += 1;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: Number(d < 0 ? -fixed : fixed), shift };
}

/** std::round on a float32 value. */
function roundAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

export const typeRange = (type: FileType): [number, number] => (type === 'uint8' ? [0, 255] : [-128, 127]);

/** CalculateActivationRangeQuantized in the file's own type. */
export function actRange(act: ActCode, scale: number, zeroPoint: number, type: FileType): [number, number] {
  const [qmin, qmax] = typeRange(type);
  const s = Math.fround(scale);
  const q = (f: number) => zeroPoint + roundAway(Math.fround(f / s));
  if (act === 1) return [Math.max(qmin, q(0)), qmax];
  if (act === 2) return [Math.max(qmin, q(0)), Math.min(qmax, q(6))];
  return [qmin, qmax];
}

const clamp = (v: bigint, lo: number, hi: number) => (v < BigInt(lo) ? lo : v > BigInt(hi) ? hi : Number(v));

export interface SlowConv {
  inH: number; inW: number; inC: number; outH: number; outW: number; outC: number;
  kernel: number; stride: number; padTop: number; padLeft: number;
  /** Depthwise (one filter per channel, weights [k, k, C]) or full (weights [outC, k, k, inC]). */
  depthwise: boolean;
  x: ArrayLike<number>; xZero: number;
  w: ArrayLike<number>; wZero: number;
  bias: ArrayLike<number>;
  multiplier: ArrayLike<number>; shift: ArrayLike<number>;
  outZero: number; actMin: number; actMax: number;
}

/** reference_ops::Conv / DepthwiseConv / integer_ops ConvPerChannel: the taps outside the image omitted. */
export function slowConv(s: SlowConv): number[] {
  const out: number[] = [];
  for (let oy = 0; oy < s.outH; oy++) {
    for (let ox = 0; ox < s.outW; ox++) {
      for (let oc = 0; oc < s.outC; oc++) {
        let acc = 0n;
        for (let ky = 0; ky < s.kernel; ky++) {
          for (let kx = 0; kx < s.kernel; kx++) {
            const iy = oy * s.stride - s.padTop + ky;
            const ix = ox * s.stride - s.padLeft + kx;
            if (iy < 0 || iy >= s.inH || ix < 0 || ix >= s.inW) continue;
            if (s.depthwise) {
              const xv = BigInt(s.x[(iy * s.inW + ix) * s.inC + oc]!) - BigInt(s.xZero);
              const wv = BigInt(s.w[(ky * s.kernel + kx) * s.outC + oc]!) - BigInt(s.wZero);
              acc += wv * xv;
            } else {
              for (let ic = 0; ic < s.inC; ic++) {
                const xv = BigInt(s.x[(iy * s.inW + ix) * s.inC + ic]!) - BigInt(s.xZero);
                const wv = BigInt(s.w[((oc * s.kernel + ky) * s.kernel + kx) * s.inC + ic]!) - BigInt(s.wZero);
                acc += wv * xv;
              }
            }
          }
        }
        acc = wrap32(acc + BigInt(s.bias[oc]!));
        out.push(clamp(mbqm(acc, s.multiplier[oc]!, s.shift[oc]!) + BigInt(s.outZero), s.actMin, s.actMax));
      }
    }
  }
  return out;
}

export interface SlowAdd {
  a: ArrayLike<number>; aZero: number; aMultiplier: number; aShift: number;
  b: ArrayLike<number>; bZero: number; bMultiplier: number; bShift: number;
  outMultiplier: number; outShift: number; outZero: number; actMin: number; actMax: number;
}

/** reference AddElementwise: inputs · 2^20 rescaled, summed, rescaled. */
export function slowAdd(s: SlowAdd): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.a.length; i++) {
    const a = mbqm(wrap32((BigInt(s.a[i]!) - BigInt(s.aZero)) << 20n), s.aMultiplier, s.aShift);
    const b = mbqm(wrap32((BigInt(s.b[i]!) - BigInt(s.bZero)) << 20n), s.bMultiplier, s.bShift);
    out.push(clamp(mbqm(wrap32(a + b), s.outMultiplier, s.outShift) + BigInt(s.outZero), s.actMin, s.actMax));
  }
  return out;
}

/** AVERAGE_POOL_2D over the whole map on raw values: uint8 (acc + n/2)/n, int8 halves away from zero. */
export function slowAvgPool(x: ArrayLike<number>, n: number, C: number, type: FileType, actMin: number, actMax: number): number[] {
  const out: number[] = [];
  const count = BigInt(n);
  for (let c = 0; c < C; c++) {
    let acc = 0n;
    for (let p = 0; p < n; p++) acc += BigInt(x[p * C + c]!);
    let avg: bigint;
    if (type === 'uint8') avg = (acc + count / 2n) / count;
    else avg = acc > 0n ? (acc + count / 2n) / count : (acc - count / 2n) / count;
    out.push(clamp(avg, actMin, actMax));
  }
  return out;
}

/** reference_ops::QuantizedMeanOrSum (mean), with the run-time 1/n folding of the multiplier. */
export function slowMean(
  x: ArrayLike<number>, n: number, C: number, type: FileType, inZero: number, outZero: number, multiplier: number, shift: number,
): number[] {
  let k = BigInt(n).toString(2).length - 1;
  k = Math.min(k, 32, 31 + shift);
  const m = Number((BigInt(multiplier) << BigInt(k)) / BigInt(n));
  const [lo, hi] = typeRange(type);
  const out: number[] = [];
  for (let c = 0; c < C; c++) {
    let sum = 0n;
    for (let p = 0; p < n; p++) sum += BigInt(x[p * C + c]!);
    const shifted = wrap32(sum - BigInt(inZero) * BigInt(n));
    out.push(clamp(mbqm(shifted, m, shift - k) + BigInt(outZero), lo, hi));
  }
  return out;
}

// gemmlowp fixed point on BigInt raws.
const add32 = (a: bigint, b: bigint) => wrap32(a + b);
const sub32 = (a: bigint, b: bigint) => wrap32(a - b);

function satRoundMulPOT(x: bigint, e: number): bigint {
  if (e === 0) return x;
  if (e < 0) return rdbpot(x, -e);
  const threshold = (1n << BigInt(31 - e)) - 1n;
  if (x > threshold) return I32_MAX;
  if (x < -threshold) return I32_MIN;
  return x << BigInt(e);
}

function expQuarter(a: bigint): bigint {
  const constantTerm = 1895147668n;
  const oneThird = 715827883n;
  const x = add32(a, 1n << 28n);
  const x2 = srdhm(x, x);
  const x3 = srdhm(x2, x);
  const x4 = srdhm(x2, x2);
  const x4Over4 = satRoundMulPOT(x4, -2);
  const poly = satRoundMulPOT(add32(srdhm(add32(x4Over4, x3), oneThird), x2), -1);
  return add32(constantTerm, srdhm(constantTerm, add32(x, poly)));
}

export function expNegative(a: bigint, integerBits: number): bigint {
  const fractional = 31 - integerBits;
  const quarter = 1n << BigInt(fractional - 2);
  const aMod = sub32(a & (quarter - 1n), quarter);
  let result = expQuarter(satRoundMulPOT(aMod, integerBits));
  const remainder = sub32(aMod, a);
  const barrel: Array<[number, bigint]> = [
    [-2, 1672461947n], [-1, 1302514674n], [0, 790015084n], [1, 290630308n], [2, 39332535n], [3, 720401n], [4, 242n],
  ];
  for (const [e, m] of barrel) {
    if (integerBits > e && (remainder & (1n << BigInt(fractional + e))) !== 0n) result = srdhm(result, m);
  }
  if (integerBits > 5 && a < -(1n << BigInt(36 - integerBits))) result = 0n;
  return a === 0n ? I32_MAX : result;
}

function oneOverOnePlusX(a: bigint): bigint {
  const sum = a + I32_MAX;
  const half = (sum + (sum >= 0n ? 1n : -1n)) / 2n;
  let x = add32(1515870810n, srdhm(half, -1010580540n));
  for (let i = 0; i < 3; i++) {
    const hx = srdhm(half, x);
    const oneMinus = sub32(1n << 29n, hx);
    x = add32(x, satRoundMulPOT(srdhm(x, oneMinus), 2));
  }
  return satRoundMulPOT(x, 1);
}

/**
 * reference_ops::Softmax<8-bit in, 8-bit out> with the reference Prepare's parameters; null where
 * TFLite's TFLITE_CHECK(0 <= exponent <= 31) aborts (a sum of exps of 512 or more).
 */
export function slowSoftmax(
  x: ArrayLike<number>, type: FileType, inputMultiplier: number, inputLeftShift: number, diffMin: number,
): number[] | null {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]!);
  const exps: bigint[] = [];
  let sum = 0n;
  for (let i = 0; i < x.length; i++) {
    const diff = x[i]! - max;
    if (diff >= diffMin) {
      const scaled = srdhm(wrap32(BigInt(diff) << BigInt(inputLeftShift)), BigInt(inputMultiplier));
      const e = expNegative(scaled, 5);
      exps[i] = e;
      sum = add32(sum, satRoundMulPOT(e, -12));
    }
  }
  const headroomPlusOne = 32 - sum.toString(2).length;
  const bitsOverUnit = 12 - headroomPlusOne;
  const shiftedMinusOne = wrap32(BigInt.asUintN(32, sum << BigInt(headroomPlusOne)) - TWO31);
  const reciprocal = oneOverOnePlusX(shiftedMinusOne);
  const exponent = bitsOverUnit + 31 - 8;
  if (exponent < 0 || exponent > 31) return null;
  const [lo, hi] = typeRange(type);
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (x[i]! - max >= diffMin) {
      const unsat = rdbpot(srdhm(reciprocal, exps[i]!), exponent);
      out.push(clamp(unsat + BigInt(lo), lo, hi));
    } else {
      out.push(lo);
    }
  }
  return out;
}

/** reference Requantize between 8-bit types. */
export function slowRequantize(x: ArrayLike<number>, inZero: number, outZero: number, multiplier: number, shift: number, outType: FileType): number[] {
  const [lo, hi] = typeRange(outType);
  return Array.from(x, (v) => clamp(mbqm(BigInt(v) - BigInt(inZero), multiplier, shift) + BigInt(outZero), lo, hi));
}
