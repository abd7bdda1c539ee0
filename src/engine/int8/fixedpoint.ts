// The gemmlowp fixed-point functions TFLite's reference SOFTMAX uses (gemmlowp fixedpoint/fixedpoint.h:
// exp_on_negative_values, exp_on_interval_between_negative_one_quarter_and_0_excl,
// one_over_one_plus_x_for_x_in_0_1, Rescale, RoundingHalfSum; and tflite/kernels/internal/common.h
// GetReciprocal), on int32 raw values held in JS numbers.
//
// A FixedPoint<int32, I> value is an int32 raw r meaning r / 2^(31 − I). Multiplication of two such
// values is SaturatingRoundingDoublingHighMul of the raws (integer bits add up); addition and
// subtraction are plain wrapping int32 operations, as in gemmlowp's scalar int32 implementation.
// The polynomial and barrel-shifter constants are gemmlowp's (they are the raw Q0.31 values of
// exp(−1/8), 1/3, exp(−2^k), 48/17 and −32/17 in Q2.29).
import { INT32_MAX, INT32_MIN, roundingDivideByPOT, saturatingRoundingDoublingHighMul as mul } from './quantize.js';

/** SaturatingRoundingMultiplyByPOT<exponent>: saturating left shift, or rounding right shift. */
export function saturatingRoundingMultiplyByPOT(x: number, exponent: number): number {
  if (exponent === 0) return x;
  if (exponent < 0) return roundingDivideByPOT(x, -exponent);
  const threshold = (1 << (31 - exponent)) - 1;
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x << exponent;
}

/** Rescale<dst>(FixedPoint<src>): the raw multiplied by 2^(src − dst), saturating / rounding. */
export function rescale(raw: number, srcIntegerBits: number, dstIntegerBits: number): number {
  return saturatingRoundingMultiplyByPOT(raw, srcIntegerBits - dstIntegerBits);
}

/** RoundingHalfSum(a, b) = (a + b) / 2 rounded half away from zero. */
export function roundingHalfSum(a: number, b: number): number {
  const sum = a + b; // exact
  return Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/** exp(a) for a Q0.31 value a in [−1/4, 0): a Taylor expansion around −1/8. Returns Q0.31. */
export function expOnIntervalBetweenNegativeOneQuarterAnd0Excl(a: number): number {
  const constantTerm = 1895147668; // exp(-1/8)
  const constantOneThird = 715827883;
  const x = (a + (1 << 28)) | 0; // a + 1/8
  const x2 = mul(x, x);
  const x3 = mul(x2, x);
  const x4 = mul(x2, x2);
  const x4Over4 = roundingDivideByPOT(x4, 2);
  const poly = roundingDivideByPOT((mul((x4Over4 + x3) | 0, constantOneThird) + x2) | 0, 1);
  return (constantTerm + mul(constantTerm, (x + poly) | 0)) | 0;
}

const BARREL: ReadonlyArray<readonly [exponent: number, multiplier: number]> = [
  [-2, 1672461947], // exp(-1/4)
  [-1, 1302514674], // exp(-1/2)
  [0, 790015084], // exp(-1)
  [1, 290630308], // exp(-2)
  [2, 39332535], // exp(-4)
  [3, 720401], // exp(-8)
  [4, 242], // exp(-16)
];

/** exp(a) for a FixedPoint<int32, integerBits> a ≤ 0. Returns Q0.31 (exp(0) = INT32_MAX). */
export function expOnNegativeValues(a: number, integerBits: number): number {
  const fractionalBits = 31 - integerBits;
  const oneQuarter = 1 << (fractionalBits - 2);
  const mask = oneQuarter - 1;
  const aModQuarterMinusOneQuarter = ((a & mask) - oneQuarter) | 0;
  let result = expOnIntervalBetweenNegativeOneQuarterAnd0Excl(rescale(aModQuarterMinusOneQuarter, integerBits, 0));
  const remainder = (aModQuarterMinusOneQuarter - a) | 0;
  for (const [exponent, multiplier] of BARREL) {
    if (integerBits > exponent) {
      const bit = fractionalBits + exponent;
      if ((remainder & (1 << bit)) !== 0) result = mul(result, multiplier);
    }
  }
  if (integerBits > 5) {
    const clamp = -(1 << (36 - integerBits)); // -32.0
    if (a < clamp) result = 0;
  }
  return a === 0 ? INT32_MAX : result;
}

/** 1 / (1 + a) for a Q0.31 value a in [0, 1): Newton–Raphson, three iterations. Returns Q0.31. */
export function oneOverOnePlusXForXIn01(a: number): number {
  const halfDenominator = roundingHalfSum(a, INT32_MAX); // (a + 1) / 2, Q0.31
  const c48Over17 = 1515870810; // Q2.29
  const cNeg32Over17 = -1010580540; // Q2.29
  const oneQ2 = 1 << 29;
  let x = (c48Over17 + mul(halfDenominator, cNeg32Over17)) | 0;
  for (let i = 0; i < 3; i++) {
    const halfDenominatorTimesX = mul(halfDenominator, x);
    const oneMinus = (oneQ2 - halfDenominatorTimesX) | 0;
    x = (x + rescale(mul(x, oneMinus), 4, 2)) | 0;
  }
  // ExactMulByPot<-1> makes x a Q1.30 value with the same raw, then Rescale<0>.
  return rescale(x, 1, 0);
}

/**
 * GetReciprocal (common.h): for x > 0 in FixedPoint<int32, xIntegerDigits>, 1/x as a Q0.31 "shifted
 * scale" and the number of bits of x above 1.0: 1/x = shiftedScale · 2^−numBitsOverUnit.
 */
export function getReciprocal(x: number, xIntegerDigits: number): { reciprocal: number; numBitsOverUnit: number } {
  const headroomPlusOne = Math.clz32(x);
  const numBitsOverUnit = xIntegerDigits - headroomPlusOne;
  // (uint32(x) << headroom_plus_one) − 2^31: clearing the leading one is flipping bit 31.
  const shiftedSumMinusOne = (x << headroomPlusOne) ^ 0x80000000;
  return { reciprocal: oneOverOnePlusXForXIn01(shiftedSumMinusOne), numBitsOverUnit };
}
