// The integer reference ops (src/engine/int8) against: TFLite's own numbers (quantization_util_test
// facts), answers worked out by hand, a slow BigInt statement of the same rules in the files' own
// types (test/helpers/int8-slow.ts) on random awkward cases, the fp32 reference ops (dequantized
// outputs within a step of the float result), and TFLite's reference kernels on the real models
// (every intermediate tensor, test/helpers/int8-golden.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACT_NONE, ACT_RELU, ACT_RELU6, type ActCode } from '../src/engine/plan.js';
import * as ref from '../src/engine/reference/ops.js';
import * as ops from '../src/engine/int8/ops.js';
import {
  activationRange, frexp, INT32_MAX, INT32_MIN, multiplyByQuantizedMultiplier, multiplyByQuantizedMultiplierSingleRounding,
  quantizeMultiplier, quantizeMultiplierGreaterThanOne, quantizeMultiplierSmallerThanOneExp, roundHalfAwayFromZero,
  roundingDivideByPOT, saturatingRoundingDoublingHighMul, storageToUint8, storageZeroPoint, toStorage, uint8ToStorage,
  type QuantType,
} from '../src/engine/int8/quantize.js';
import {
  addParams, calculateInputRadius, convOutputStage, fullyConnectedOutputStage, meanParams, preprocessSoftmaxScaling,
  requantizeParams, softmaxParams, type OutputStage, type TensorQuant,
} from '../src/engine/int8/params.js';
import { expOnNegativeValues, getReciprocal } from '../src/engine/int8/fixedpoint.js';
import {
  actRange, expNegative, mbqm, mbqmSingle, quantizeMultiplierExact, rdbpot, slowAdd, slowAvgPool, slowConv, slowMean,
  slowRequantize, slowSoftmax, srdhm, typeRange,
} from './helpers/int8-slow.js';
import { INT8_GOLDEN } from './helpers/int8-golden.js';
import { Int8Graph, int8Pattern } from './helpers/int8-mobilenet.js';
import { modelPath, requireShared } from './helpers/shared.js';
import { seededRandom } from '../src/model/random-model.js';

const i8 = (values: number[]) => Int8Array.from(values);
const u8 = (values: number[]) => Uint8Array.from(values);
const i32 = (values: number[]) => Int32Array.from(values);
/** Storage → the file's own values. */
const fileValues = (data: Int8Array, type: QuantType) => (type === 'uint8' ? Array.from(storageToUint8(data)) : Array.from(data));

describe('fixed-point arithmetic', () => {
  it('QuantizeMultiplier gives TFLite\'s values (quantization_util_test)', () => {
    const q = (d: number) => {
      const r = quantizeMultiplier(d);
      return [r.multiplier, r.shift];
    };
    expect(q(0.5)).toEqual([1 << 30, 0]);
    expect(q(1)).toEqual([1 << 30, 1]);
    expect(q(0.25)).toEqual([1073741824, -1]);
    // Near 0.5 the exponent changes, and 2^31 is folded into 2^30 with shift + 1.
    expect(q(0.5 - 5e-9)).toEqual([2147483627, -1]);
    expect(q(0.5 - 1e-10)).toEqual([1073741824, 0]);
    expect(q(0.75)).toEqual([1610612736, 0]);
    expect(q(1 - 1e-9)).toEqual([2147483646, 0]);
    expect(q(1 + 1e-11)).toEqual([1073741824, 1]);
    expect(q(1.25)).toEqual([1342177280, 1]);
    expect(q(1.5)).toEqual([1610612736, 1]);
    expect(q(1.75)).toEqual([1879048192, 1]);
    expect(q(2 - 1e-9)).toEqual([2147483647, 1]);
    expect(q(2 - 1e-11)).toEqual([1073741824, 2]);
    expect(q(2)).toEqual([1073741824, 2]);
    // Underflow: shifts below −31 are flushed to (0, 0).
    expect(q(2 ** -31)).toEqual([1073741824, -30]);
    expect(q(2 ** -32)).toEqual([1073741824, -31]);
    expect(q(Math.fround(0.99) * 2 ** -32)).toEqual([0, 0]);
    expect(q(2 ** -33)).toEqual([0, 0]);
    // Negative multipliers (QuantizeMultiplierArray's table).
    expect([-4, -2, -1, -0.5, -0.25, -0.125, 0, 0.125, 0.25, 0.5, 1, 2, 4].map(q)).toEqual([
      [-1073741824, 3], [-1073741824, 2], [-1073741824, 1], [-1073741824, 0], [-1073741824, -1], [-1073741824, -2],
      [0, 0], [1073741824, -2], [1073741824, -1], [1073741824, 0], [1073741824, 1], [1073741824, 2], [1073741824, 3],
    ]);
  });

  it('the SmallerThanOneExp / GreaterThanOne checks refuse what TFLite aborts on', () => {
    expect(() => quantizeMultiplierSmallerThanOneExp(-0.1)).toThrow();
    expect(() => quantizeMultiplierSmallerThanOneExp(0)).toThrow();
    expect(() => quantizeMultiplierSmallerThanOneExp(1 - 1e-15)).toThrow(); // rounds to shift 1
    expect(() => quantizeMultiplierSmallerThanOneExp(1)).toThrow();
    expect(quantizeMultiplierSmallerThanOneExp(0.25)).toEqual({ multiplier: 1073741824, shift: -1 });
    expect(() => quantizeMultiplierGreaterThanOne(1)).toThrow();
    expect(quantizeMultiplierGreaterThanOne(1 + 1e-11)).toEqual({ multiplier: 1073741824, shift: 1 });
  });

  it('QuantizeMultiplier equals its exact (BigInt) definition on random and edge doubles', () => {
    const rng = seededRandom(11);
    const values = [1, 0.5, 2 ** -31, 2 ** -32, 2 ** -33, 2 ** 30, 2 ** 31, 5e-324, 1e-300, 1e300, 0.1, 1 / 3, Math.fround(0.1)];
    for (let i = 0; i < 20000; i++) {
      const e = Math.floor(rng() * 80) - 60;
      const v = (0.5 + rng() * 0.5) * 2 ** e;
      values.push(v, -v, Math.fround(v), (1 - 2 ** -(1 + Math.floor(rng() * 40))) * 2 ** e);
    }
    for (const v of values) expect(quantizeMultiplier(v), String(v)).toEqual(quantizeMultiplierExact(v));
  });

  it('frexp and round-half-away-from-zero are exact', () => {
    expect(frexp(1)).toEqual([0.5, 1]);
    expect(frexp(0.75)).toEqual([0.75, 0]);
    expect(frexp(-3)).toEqual([-0.75, 2]);
    expect(frexp(5e-324)).toEqual([0.5, -1073]);
    expect(frexp(Number.MAX_VALUE)).toEqual([1 - 2 ** -53, 1024]);
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.49999999999999994, 2 ** 52 + 1].map(roundHalfAwayFromZero))
      .toEqual([1, 2, 3, -1, -2, -3, 0, 0, 2 ** 52 + 1]);
  });

  it('SaturatingRoundingDoublingHighMul and RoundingDivideByPOT by hand', () => {
    // ×0.5 (2^30): 3·0.5 = 1.5 → 2, but −3·0.5 = −1.5 → −1: the nudge 1 − 2^30 rounds negative halves up.
    expect(saturatingRoundingDoublingHighMul(3, 1 << 30)).toBe(2);
    expect(saturatingRoundingDoublingHighMul(-3, 1 << 30)).toBe(-1);
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN)).toBe(INT32_MAX);
    expect(saturatingRoundingDoublingHighMul(INT32_MAX, INT32_MAX)).toBe(INT32_MAX - 1);
    // RoundingDivideByPOT: halves away from zero on both sides.
    expect([5, -5, 6, -6, 7, -7].map((x) => roundingDivideByPOT(x, 2))).toEqual([1, -1, 2, -2, 2, -2]);
    expect([3, -3].map((x) => roundingDivideByPOT(x, 1))).toEqual([2, -2]);
    expect(roundingDivideByPOT(INT32_MIN, 31)).toBe(-1);
    for (const x of [INT32_MIN, -7, -1, 0, 1, 7, INT32_MAX]) {
      for (let e = 0; e <= 31; e++) expect(roundingDivideByPOT(x, e)).toBe(Number(rdbpot(BigInt(x), e)));
    }
    expect(roundingDivideByPOT(INT32_MAX, 31)).toBe(1);
  });

  it('MultiplyByQuantizedMultiplier gives TFLite\'s values and double-rounds', () => {
    const qm = (x: number, d: number) => {
      const q = quantizeMultiplier(d);
      return multiplyByQuantizedMultiplier(x, q.multiplier, q.shift);
    };
    expect(qm(0, 0.1)).toBe(0);
    expect(qm(1, 0)).toBe(0);
    expect(qm(10000, 0.00097656)).toBe(10);
    expect(qm(-10000, 0.00097656)).toBe(-10);
    expect(qm(INT32_MIN, 0.00001)).toBe(-21475);
    expect(qm(INT32_MAX, 0.00001)).toBe(21475);
    expect(qm(10000, -0.00097656)).toBe(-10);
    expect(qm(-10000, -0.00097656)).toBe(10);
    expect(qm(INT32_MIN, -0.00001)).toBe(21475);
    expect(qm(INT32_MAX, -0.00001)).toBe(-21475);
    const expected = roundHalfAwayFromZero((INT32_MAX * INT32_MAX) / 2 ** 34);
    expect(multiplyByQuantizedMultiplier(INT32_MAX, INT32_MAX, -3)).toBe(expected);
    expect(multiplyByQuantizedMultiplier(-INT32_MAX, INT32_MAX, -3)).toBe(-expected);
    // 5 × 0.25 = 1.25: SRDHM(5, 2^30) = round(2.5) = 3, then 3 / 2 = 1.5 → 2. A single-rounding
    // build gives 1. This is the default TFLite build's answer.
    expect(multiplyByQuantizedMultiplier(5, 1 << 30, -1)).toBe(2);
    expect(multiplyByQuantizedMultiplierSingleRounding(5, 1 << 30, -1)).toBe(1);
    // Left shifts wrap like the C++ int32 product.
    expect(multiplyByQuantizedMultiplier(3 << 29, 1 << 30, 2)).toBe(saturatingRoundingDoublingHighMul((3 << 29) << 2, 1 << 30));
  });

  /** Edge values of int32 and random ones. */
  function int32Samples(count: number, seed: number): number[] {
    const edges = [0, 1, -1, 2, -2, INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1];
    for (let k = 1; k < 31; k++) edges.push(2 ** k, -(2 ** k), 2 ** k - 1, -(2 ** k) + 1, 2 ** k + 1, 3 * 2 ** (k - 1));
    const rng = seededRandom(seed);
    const out = edges.filter((v) => v >= INT32_MIN && v <= INT32_MAX);
    for (let i = 0; i < count; i++) {
      const bits = Math.floor(rng() * 32);
      out.push(Math.floor((rng() * 2 - 1) * 2 ** bits) | 0);
    }
    return out;
  }

  it('SaturatingRoundingDoublingHighMul equals the 64-bit definition (both the exact-double and the split path)', () => {
    const a = int32Samples(700, 1);
    const b = int32Samples(700, 2);
    for (const x of a) {
      for (let j = 0; j < b.length; j += 3) {
        const y = b[j]!;
        const got = saturatingRoundingDoublingHighMul(x, y);
        const want = Number(srdhm(BigInt(x), BigInt(y)));
        if (got !== want) expect([x, y, got]).toEqual([x, y, want]);
      }
    }
  });

  it('MultiplyByQuantizedMultiplier (double and single rounding) and the hot-loop requantizeOutput equal BigInt', () => {
    const xs = int32Samples(3000, 3);
    const rng = seededRandom(4);
    const multipliers = [0, 1, 1 << 30, INT32_MAX, 1518500250, 1073741825, 2147483646];
    for (let i = 0; i < 40; i++) multipliers.push((1 << 30) + Math.floor(rng() * (2 ** 30 - 1)));
    for (const m of multipliers) {
      for (let shift = -31; shift <= 7; shift++) {
        const left = Math.max(shift, 0);
        const rightScale = 2 ** -Math.max(-shift, 0);
        for (let k = 0; k < xs.length; k += 7) {
          const x = xs[k]!;
          const want = Number(mbqm(BigInt(x), m, shift));
          const got = multiplyByQuantizedMultiplier(x, m, shift);
          if (got !== want) expect([x, m, shift, got]).toEqual([x, m, shift, want]);
          const clamped = Math.min(Math.max(want + 3, -128), 127);
          const fast = ops.requantizeOutput(x, m, left, rightScale, shift, 3, -128, 127);
          if (fast !== clamped) expect([x, m, shift, 'fast', fast]).toEqual([x, m, shift, 'fast', clamped]);
          if (shift <= 30 && Math.abs(x) < 2 ** 20) {
            const single = multiplyByQuantizedMultiplierSingleRounding(x, m, shift);
            const wantSingle = Number(mbqmSingle(BigInt(x), m, shift));
            if (single !== wantSingle) expect([x, m, shift, single]).toEqual([x, m, shift, wantSingle]);
          }
        }
      }
    }
  });

  it('fixed-point exp and reciprocal equal the BigInt statement and are close to the real functions', () => {
    for (let raw = 0; raw >= -(32 << 26); raw -= 99991) {
      const got = expOnNegativeValues(raw, 5);
      expect(got).toBe(Number(expNegative(BigInt(raw), 5)));
      expect(Math.abs(got / 2 ** 31 - Math.exp(raw / 2 ** 26))).toBeLessThan(1e-6);
    }
    expect(expOnNegativeValues(0, 5)).toBe(INT32_MAX);
    // GetReciprocal of x in Q12.19: x = 1.5 has no bit above 1.0 (clz 12), 1/x = 2/3 as the scale;
    // x = 3 has one (clz 11): 1/x = (2/3) · 2^−1.
    for (const [x, bits] of [[1.5, 0], [3, 1]] as const) {
      const { reciprocal, numBitsOverUnit } = getReciprocal(x * 2 ** 19, 12);
      expect(numBitsOverUnit).toBe(bits);
      expect(Math.abs((reciprocal / 2 ** 31) * 2 ** -bits - 1 / x)).toBeLessThan(1e-8);
    }
  });

  it('softmax and radius parameters give TFLite\'s values', () => {
    expect(calculateInputRadius(4, 27)).toBe(15);
    expect(calculateInputRadius(3, 27)).toBe(14);
    expect(calculateInputRadius(3, 28)).toBe(7);
    expect(calculateInputRadius(4, 2)).toBe(503316480);
    expect(preprocessSoftmaxScaling(1, 16, 4)).toEqual({ multiplier: 2147483647, leftShift: 31 });
    expect(preprocessSoftmaxScaling(1, 8, 4)).toEqual({ multiplier: 1073741824, leftShift: 31 });
    expect(preprocessSoftmaxScaling(2, 16, 5)).toEqual({ multiplier: 2147483647, leftShift: 31 });
    expect(preprocessSoftmaxScaling(2, 8, 5)).toEqual({ multiplier: 1073741824, leftShift: 31 });
    // Scale 1, beta 1: 2^26 → (2^30, 27); radius floor(31 · 2^26 / 2^27) = 15.
    expect(softmaxParams(1)).toEqual({ inputMultiplier: 1 << 30, inputLeftShift: 27, diffMin: -15 });
  });

  it('fused activations become clamps (the real files\' output scales)', () => {
    // TF1 files: scale 0.023528477 (6/255), zero point 0 → ReLU6 is [0, 255] (storage −128..127).
    expect(activationRange(ACT_RELU6, 0.023528477177023888, storageZeroPoint(0, 'uint8'))).toEqual({ min: -128, max: 127 });
    // TF2 file: scale 0.0235294122 (6/255), zero point −128 → [−128, 127].
    expect(activationRange(ACT_RELU6, 0.0235294122248888, -128)).toEqual({ min: -128, max: 127 });
    // Scale 0.05, zero point 10: ReLU → [10, 127]; ReLU6 → [10, 10 + 120 = 130 → 127].
    expect(activationRange(ACT_RELU, 0.05, 10)).toEqual({ min: 10, max: 127 });
    expect(activationRange(ACT_RELU6, 0.1, -100)).toEqual({ min: -100, max: -40 });
    expect(activationRange(ACT_NONE, 0.1, -100)).toEqual({ min: -128, max: 127 });
    // A uint8 tensor's range shifted by 128 is its storage range, for every zero point.
    for (const zp of [0, 1, 100, 128, 200, 254, 255]) {
      for (const act of [ACT_NONE, ACT_RELU, ACT_RELU6] as const) {
        const [lo, hi] = actRange(act, 0.03, zp, 'uint8');
        expect(activationRange(act, 0.03, zp - 128)).toEqual({ min: lo - 128, max: hi - 128 });
      }
    }
  });
});

describe('ops by hand', () => {
  it('conv2d: 3×3 stride 2, SAME (one row / column of zeros before), uint8', () => {
    // Input 3×3×1 uint8 1..9, zero point 1 → centered 0..8. Weights uint8 all 3, zero point 2 → 1.
    // SAME: out 2×2, total padding (2−1)·2 + 3 − 3 = 2, padTop = padLeft = 1. Taps inside the image:
    // (0,0): 0+1+3+4 = 8, (0,1): 1+2+4+5 = 12, (1,0): 3+4+6+7 = 20, (1,1): 4+5+7+8 = 24; + bias 10.
    // Multiplier 0.5·0.25/0.25 = 0.5 (float product) → (2^30, 0): 18 → 9, 22 → 11, 30 → 15, 34 → 17;
    // + output zero point 100.
    const input = toStorage(u8([1, 2, 3, 4, 5, 6, 7, 8, 9]), 1, 'uint8');
    const weights = toStorage(u8(Array(9).fill(3)), 2, 'uint8');
    const out = { scale: 0.25, zeroPoint: storageZeroPoint(100, 'uint8') };
    const requant = convOutputStage('uint8', { scale: 0.5, zeroPoint: input.zeroPoint }, [0.25], out, 1, ACT_NONE);
    expect([requant.multiplier[0], requant.shift[0]]).toEqual([1 << 30, 0]);
    const output = new Int8Array(4);
    ops.conv2d({
      inH: 3, inW: 3, outH: 2, outW: 2, stride: 2, padTop: 1, padLeft: 1, kernel: 3, inC: 1, outC: 1,
      inputZeroPoint: input.zeroPoint, weights: weights.data, weightZeroPoint: weights.zeroPoint, bias: i32([10]), requant,
    }, input.data, output);
    expect(fileValues(output, 'uint8')).toEqual([109, 111, 115, 117]);
  });

  it('depthwise: per-channel multipliers (int8) and ReLU6 as a clamp', () => {
    // 2×2×2 int8 input, zero point −1: channel 0 = 1,2,3,4 → 2,3,4,5; channel 1 = −1,0,1,2 → 0,1,2,3.
    // 3×3 SAME stride 1 (pad 1): every output pixel's window covers the whole 2×2 image.
    // Weights: channel 0 all 2, channel 1 all −3 → 2·14 = 28 (+ bias 4 = 32), −3·6 = −18 (+ 0).
    // Scales in 1, weights [0.125, 0.25], out 0.5 → multipliers 0.25, 0.5: 32 → 8, −18 → −9.
    // Output zero point −128, ReLU6 → [−128, −128 + 6/0.5 = −116]: 8 − 128 = −120; −9 − 128 → −128.
    const weights = new Int8Array(18);
    for (let t = 0; t < 9; t++) {
      weights[t * 2] = 2;
      weights[t * 2 + 1] = -3;
    }
    const requant = convOutputStage('int8', { scale: 1, zeroPoint: -1 }, [0.125, 0.25], { scale: 0.5, zeroPoint: -128 }, 2, ACT_RELU6);
    expect(Array.from(requant.multiplier)).toEqual([1 << 30, 1 << 30]);
    expect(Array.from(requant.shift)).toEqual([-1, 0]);
    expect([requant.actMin, requant.actMax]).toEqual([-128, -116]);
    const output = new Int8Array(8);
    ops.depthwise({
      inH: 2, inW: 2, outH: 2, outW: 2, stride: 1, padTop: 1, padLeft: 1, kernel: 3, channels: 2,
      inputZeroPoint: -1, weights, weightZeroPoint: 0, bias: i32([4, 0]), requant,
    }, i8([1, -1, 2, 0, 3, 1, 4, 2]), output);
    expect(Array.from(output)).toEqual([-120, -128, -120, -128, -120, -128, -120, -128]);
  });

  it('pointwise: SaturatingRoundingDoublingHighMul rounds negative halves up', () => {
    // Pixels [10, −20, 30] and [0, 0, 0] (zero point 0); weights [1, 2, 3] and [−1, 0, 1]; bias [0, −35].
    // Pixel 0: 10 − 40 + 90 = 60 and −10 + 30 − 35 = −15; pixel 1: 0 and −35. Multiplier 0.5:
    // 60 → 30, −15 → −7.5 → −7 (not −8), 0 → 0, −35 → −17.5 → −17.
    const requant = convOutputStage('int8', { scale: 1, zeroPoint: 0 }, [0.5], { scale: 1, zeroPoint: 0 }, 2, ACT_NONE);
    const output = new Int8Array(4);
    ops.pointwise({
      h: 1, w: 2, inC: 3, outC: 2, inputZeroPoint: 0, weights: i8([1, 2, 3, -1, 0, 1]), weightZeroPoint: 0,
      bias: i32([0, -35]), requant,
    }, i8([10, -20, 30, 0, 0, 0]), output);
    expect(Array.from(output)).toEqual([30, -7, 0, -17]);
  });

  it('fc: uint8 with both zero points, and the double rounding of ×0.25', () => {
    // x = [130, 126] − 128 = [2, −2]; w = [200, 100] − 150 = [50, −50]; acc = 100 + 100 + 7 = 207.
    // Multiplier float(0.5·0.5)/1 = 0.25 → (2^30, −1): SRDHM 103.5 → 104, then 104/2 = 52; + 10 = 62.
    const x = toStorage(u8([130, 126]), 128, 'uint8');
    const w = toStorage(u8([200, 100]), 150, 'uint8');
    const requant = fullyConnectedOutputStage({ scale: 0.5, zeroPoint: x.zeroPoint }, [0.5], { scale: 1, zeroPoint: storageZeroPoint(10, 'uint8') }, 1, ACT_NONE);
    expect([requant.multiplier[0], requant.shift[0]]).toEqual([1 << 30, -1]);
    const output = new Int8Array(1);
    ops.fc({ inC: 2, outC: 1, inputZeroPoint: x.zeroPoint, weights: w.data, weightZeroPoint: w.zeroPoint, bias: i32([7]), requant }, x.data, output);
    expect(fileValues(output, 'uint8')).toEqual([62]);
    // acc 5: 5·0.25 = 1.25 → 2 (SRDHM 2.5 → 3, then 1.5 → 2).
    ops.fc({ inC: 1, outC: 1, inputZeroPoint: 0, weights: i8([1]), weightZeroPoint: 0, bias: i32([0]), requant: { ...requant, zeroPoint: 0 } }, i8([5]), output);
    expect(output[0]).toBe(2);
  });

  it('add: both inputs rescaled through 2^20, then to the output', () => {
    // Scales 1, 1 → 1: twice_max 2, input multipliers 0.5 = (2^30, 0), output 2/2^20 = 2^−19 = (2^30, −18).
    // uint8 zero points 3, 1 → 2: (10 − 3) + (5 − 1) = 11 → 13; (0 − 3) + (0 − 1) = −4 → −2 → clamped 0.
    const z = (v: number) => storageZeroPoint(v, 'uint8');
    const p = addParams({ scale: 1, zeroPoint: z(3) }, { scale: 1, zeroPoint: z(1) }, { scale: 1, zeroPoint: z(2) }, ACT_NONE);
    expect([p.input1Multiplier, p.input1Shift, p.outputMultiplier, p.outputShift]).toEqual([1 << 30, 0, 1 << 30, -18]);
    const output = new Int8Array(2);
    ops.add(p, uint8ToStorage(u8([10, 0])), uint8ToStorage(u8([5, 0])), output);
    expect(fileValues(output, 'uint8')).toEqual([13, 0]);
    // Output scale 2: the sum is halved, halves away from zero: 1 → 0.5 → 1, −1 → −0.5 → −1; + 2.
    const half = addParams({ scale: 1, zeroPoint: z(3) }, { scale: 1, zeroPoint: z(1) }, { scale: 2, zeroPoint: z(2) }, ACT_NONE);
    ops.add(half, uint8ToStorage(u8([4, 2])), uint8ToStorage(u8([1, 1])), output);
    expect(fileValues(output, 'uint8')).toEqual([3, 1]);
  });

  it('avgpool: the same stored values round differently as uint8 and as int8', () => {
    // uint8 126, 127, 128, 129: (510 + 2) / 4 = 128 (127.5 rounds up). int8 −2, −1, 0, 1 (the same
    // storage): sum −2, (−2 − 2) / 4 = −1 (−0.5 rounds away from zero) — one level lower.
    const stored = uint8ToStorage(u8([126, 127, 128, 129]));
    expect(Array.from(stored)).toEqual([-2, -1, 0, 1]);
    const output = new Int8Array(1);
    ops.avgpool({ h: 2, w: 2, channels: 1, type: 'uint8', actMin: -128, actMax: 127 }, stored, output);
    expect(fileValues(output, 'uint8')).toEqual([128]);
    ops.avgpool({ h: 2, w: 2, channels: 1, type: 'int8', actMin: -128, actMax: 127 }, stored, output);
    expect(Array.from(output)).toEqual([-1]);
    // Odd counts agree: 3 values −1, 0, 0 → −1/3 → 0 either way.
    ops.avgpool({ h: 1, w: 3, channels: 1, type: 'int8', actMin: -128, actMax: 127 }, i8([-1, 0, 0]), output);
    expect(output[0]).toBe(0);
  });

  it('mean: 1/n folded into the multiplier, double rounding', () => {
    // Equal scales → (2^30, 1); n = 4: k = 2, multiplier (2^30 · 4) / 4 = 2^30, shift −1.
    // Channel 0: 1, 2, 3, 5 → 11: SRDHM 5.5 → 6, then 3. Channel 1: 1, 1, 1, 2 → 5: 2.5 → 3, 1.5 → 2
    // (the mean 1.25 comes out as 2).
    const params = meanParams({ scale: 0.1, zeroPoint: 0 }, { scale: 0.1, zeroPoint: 0 });
    expect([params.multiplier, params.shift]).toEqual([1 << 30, 1]);
    const output = new Int8Array(2);
    ops.mean({ h: 2, w: 2, channels: 2, params }, i8([1, 1, 2, 1, 3, 1, 5, 2]), output);
    expect(Array.from(output)).toEqual([3, 2]);
  });

  it('softmax: equal logits share 128/256; a far-away logit gets 0 and the maximum 255', () => {
    // Scale 1: multiplier (2^30, 27), diff_min −15. Two equal logits → 0.5 each = uint8 128 (storage 0).
    const p = softmaxParams(1);
    const output = new Int8Array(2);
    ops.softmax(p, i8([17, 17]), output);
    expect(fileValues(output, 'uint8')).toEqual([128, 128]);
    // A difference of −100 < diff_min: exp is skipped (0), the other is 1.0 → clamped to 255.
    ops.softmax(p, i8([-28, -128]), output);
    expect(fileValues(output, 'uint8')).toEqual([255, 0]);
    // int8 output: the same storage (zero point −128).
    expect(Array.from(output)).toEqual([127, -128]);
  });

  it('quantize, dequantize and the uint8 → int8 QUANTIZE of the TF2 file', () => {
    // Scale 0.25, zero point 10: 0.5 → 2 + 10; −0.375 → −1.5 → −2 (away) + 10; 0.375 → 2 + 10; 100 → 410 → 127.
    const output = new Int8Array(6);
    ops.quantize(Float32Array.from([0.5, -0.375, 0.375, 100, -100, NaN]), output, 0.25, 10);
    expect(Array.from(output)).toEqual([12, 8, 12, 127, -128, -128]);
    const back = new Float32Array(2);
    ops.dequantize(i8([12, 8]), back, 0.25, 10);
    expect(Array.from(back)).toEqual([0.5, -0.5]);
    // uint8 zero point 127 → int8 zero point −1 at the same scale: multiplier (2^30, 1), the identity.
    const input = { scale: 0.007843137718737125, zeroPoint: storageZeroPoint(127, 'uint8') };
    const p = requantizeParams(input, { scale: 0.007843137718737125, zeroPoint: -1 });
    expect([p.multiplier, p.shift]).toEqual([1 << 30, 1]);
    const pixels = uint8ToStorage(u8([0, 1, 127, 128, 255]));
    const moved = new Int8Array(5);
    ops.requantizeOp(p, pixels, moved);
    expect(Array.from(moved)).toEqual([-128, -127, -1, 0, 127]);
  });

  it('bottleneck is its pieces in order, the residual ADD taking (projection, block input)', () => {
    const rng = seededRandom(5);
    const rand = (n: number) => Int8Array.from({ length: n }, () => Math.floor(rng() * 256) - 128);
    const inQ = { scale: 0.1, zeroPoint: -3 };
    const expQ = { scale: 0.05, zeroPoint: -128 };
    const dwQ = { scale: 0.04, zeroPoint: -128 };
    const projQ = { scale: 0.12, zeroPoint: 5 };
    const outQ = { scale: 0.15, zeroPoint: 2 };
    const h = 5;
    const expand = {
      h, w: h, inC: 3, outC: 7, inputZeroPoint: inQ.zeroPoint, weights: rand(21), weightZeroPoint: 0, bias: i32(Array(7).fill(100)),
      requant: convOutputStage('int8', inQ, [0.01], expQ, 7, ACT_RELU6),
    };
    const depthwise = {
      inH: h, inW: h, outH: h, outW: h, stride: 1, padTop: 1, padLeft: 1, kernel: 3, channels: 7, inputZeroPoint: expQ.zeroPoint,
      weights: rand(63), weightZeroPoint: 0, bias: i32(Array(7).fill(-50)), requant: convOutputStage('int8', expQ, [0.02], dwQ, 7, ACT_RELU6),
    };
    const project = {
      h, w: h, inC: 7, outC: 3, inputZeroPoint: dwQ.zeroPoint, weights: rand(21), weightZeroPoint: 0, bias: i32([1, 2, 3]),
      requant: convOutputStage('int8', dwQ, [0.015], projQ, 3, ACT_NONE),
    };
    const residual = addParams(projQ, inQ, outQ, ACT_NONE);
    const input = rand(h * h * 3);
    const got = new Int8Array(h * h * 3);
    ops.bottleneck({ expand, depthwise, project, residual }, input, got);
    const e = new Int8Array(h * h * 7);
    const d = new Int8Array(h * h * 7);
    const pr = new Int8Array(h * h * 3);
    const want = new Int8Array(h * h * 3);
    ops.pointwise(expand, input, e);
    ops.depthwise(depthwise, e, d);
    ops.pointwise(project, d, pr);
    ops.add(residual, pr, input, want);
    expect(Array.from(got)).toEqual(Array.from(want));
    ops.bottleneck({ expand: null, depthwise: { ...depthwise, channels: 3, weights: rand(27), bias: i32([0, 0, 0]) }, project: { ...project, inC: 3, weights: rand(9) }, residual: null }, input, got);
  });
});

// ---------------------------------------------------------------------------------------------
// Random awkward cases against the slow BigInt statement (in the files' own types).

interface Rng {
  (): number;
}
const pick = <T>(rng: Rng, values: readonly T[]): T => values[Math.floor(rng() * values.length)]!;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const logUniform = (rng: Rng, lo: number, hi: number) => Math.fround(10 ** (lo + rng() * (hi - lo)));

/** A zero point in the file's type, often at the extremes. */
function zeroPoint(rng: Rng, type: QuantType): number {
  const [lo, hi] = typeRange(type);
  return pick(rng, [lo, hi, int(rng, lo, hi), int(rng, lo, hi)]);
}

function fileData(rng: Rng, type: QuantType, n: number): Uint8Array | Int8Array {
  const [lo, hi] = typeRange(type);
  const out = type === 'uint8' ? new Uint8Array(n) : new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(rng, lo, hi);
  return out;
}

function same(inSize: number, kernel: number, stride: number): { out: number; pad: number } {
  const out = Math.ceil(inSize / stride);
  return { out, pad: Math.floor(Math.max((out - 1) * stride + kernel - inSize, 0) / 2) };
}

type ConvKind = 'conv2d' | 'depthwise' | 'pointwise' | 'fc';

interface ConvCase {
  kind: ConvKind;
  type: QuantType;
  inH: number; inW: number; inC: number; outH: number; outW: number; outC: number;
  kernel: number; stride: number; padTop: number; padLeft: number;
  x: Uint8Array | Int8Array; xQuant: { scale: number; zeroPoint: number };
  w: Uint8Array | Int8Array; wZero: number; wScales: number[];
  bias: Int32Array;
  out: { scale: number; zeroPoint: number };
  act: ActCode;
}

function randomConvCase(rng: Rng, kind: ConvKind, type: QuantType): ConvCase {
  const kernel = kind === 'conv2d' ? pick(rng, [3, 3, 1, 2, 5]) : kind === 'depthwise' ? pick(rng, [3, 3, 5, 1]) : 1;
  const stride = kind === 'conv2d' || kind === 'depthwise' ? pick(rng, [1, 2]) : 1;
  const inH = kind === 'fc' ? 1 : int(rng, 1, 9);
  const inW = kind === 'fc' ? 1 : int(rng, 1, 9);
  const inC = kind === 'conv2d' ? int(rng, 1, 7) : int(rng, 1, 37);
  const outC = kind === 'depthwise' ? inC : int(rng, 1, 21);
  const h = kind === 'conv2d' || kind === 'depthwise' ? same(inH, kernel, stride) : { out: inH, pad: 0 };
  const w = kind === 'conv2d' || kind === 'depthwise' ? same(inW, kernel, stride) : { out: inW, pad: 0 };
  const perChannel = type === 'int8' && kind !== 'fc' ? rng() < 0.8 : type === 'int8' && rng() < 0.5;
  const wCount = kind === 'depthwise' ? kernel * kernel * inC : outC * kernel * kernel * inC;
  const inScale = logUniform(rng, -3, 0);
  const wScales = Array.from({ length: perChannel ? outC : 1 }, () => logUniform(rng, -4, -1));
  // The effective multiplier in_s·w_s/out_s spans tiny (flushed to 0), small, and above 1 (left shifts).
  const effective = pick(rng, [logUniform(rng, -6, -2), logUniform(rng, -3, 0), logUniform(rng, -0.3, 0.7), 1e-10]);
  const big = rng() < 0.2;
  return {
    kind, type, inH, inW, inC, outH: h.out, outW: w.out, outC, kernel, stride, padTop: h.pad, padLeft: w.pad,
    x: fileData(rng, type, inH * inW * inC), xQuant: { scale: inScale, zeroPoint: zeroPoint(rng, type) },
    w: type === 'int8' ? Int8Array.from(fileData(rng, 'int8', wCount), (v) => Math.max(v, -127)) : fileData(rng, 'uint8', wCount),
    wZero: type === 'int8' ? 0 : zeroPoint(rng, 'uint8'),
    wScales,
    bias: Int32Array.from({ length: outC }, () => Math.round((rng() * 2 - 1) * (big ? 2 ** 28 : 2 ** 14))),
    out: { scale: Math.fround((inScale * wScales[0]!) / effective), zeroPoint: zeroPoint(rng, type) },
    act: pick(rng, [ACT_NONE, ACT_RELU, ACT_RELU6] as const),
  };
}

/** Runs the fast op on a case (storage domain); returns the output in the file's own values. */
function runFast(c: ConvCase, stageOverride?: OutputStage): { values: number[]; stage: OutputStage } {
  const x = toStorage(c.x, c.xQuant.zeroPoint, c.type);
  const w = toStorage(c.w, c.wZero, c.type);
  const outZp = storageZeroPoint(c.out.zeroPoint, c.type);
  const inQ = { scale: c.xQuant.scale, zeroPoint: x.zeroPoint };
  const outQ = { scale: c.out.scale, zeroPoint: outZp };
  const requant = stageOverride ?? (c.kind === 'fc'
    ? fullyConnectedOutputStage(inQ, c.wScales, outQ, c.outC, c.act)
    : convOutputStage(c.type, inQ, c.wScales, outQ, c.outC, c.act));
  const output = new Int8Array(c.outH * c.outW * c.outC);
  const base = { weights: w.data, weightZeroPoint: w.zeroPoint, bias: c.bias, inputZeroPoint: x.zeroPoint, requant };
  const spatial = { inH: c.inH, inW: c.inW, outH: c.outH, outW: c.outW, stride: c.stride, padTop: c.padTop, padLeft: c.padLeft };
  if (c.kind === 'conv2d') ops.conv2d({ ...base, ...spatial, kernel: c.kernel, inC: c.inC, outC: c.outC }, x.data, output);
  else if (c.kind === 'depthwise') ops.depthwise({ ...base, ...spatial, kernel: c.kernel, channels: c.inC }, x.data, output);
  else if (c.kind === 'pointwise') ops.pointwise({ ...base, h: c.inH, w: c.inW, inC: c.inC, outC: c.outC }, x.data, output);
  else ops.fc({ ...base, inC: c.inC, outC: c.outC }, x.data, output);
  return { values: fileValues(output, c.type), stage: requant };
}

/** The multipliers by the Prepare rules, computed on their own (exact QuantizeMultiplier). */
function slowMultipliers(c: ConvCase): Array<{ multiplier: number; shift: number }> {
  const legacy = c.kind === 'fc' ? c.wScales.length === 1 : c.type === 'uint8';
  return Array.from({ length: c.outC }, (_, oc) => {
    const ws = c.wScales[c.wScales.length === 1 ? 0 : oc]!;
    const real = legacy ? Math.fround(c.xQuant.scale * ws) / c.out.scale : (c.xQuant.scale * ws) / c.out.scale;
    return quantizeMultiplierExact(real);
  });
}

function runSlow(c: ConvCase): number[] {
  const m = slowMultipliers(c);
  const [actMin, actMax] = actRange(c.act, c.out.scale, c.out.zeroPoint, c.type);
  return slowConv({
    inH: c.inH, inW: c.inW, inC: c.inC, outH: c.outH, outW: c.outW, outC: c.outC, kernel: c.kernel, stride: c.stride,
    padTop: c.padTop, padLeft: c.padLeft, depthwise: c.kind === 'depthwise',
    x: c.x, xZero: c.xQuant.zeroPoint, w: c.w, wZero: c.wZero, bias: c.bias,
    multiplier: m.map((v) => v.multiplier), shift: m.map((v) => v.shift), outZero: c.out.zeroPoint, actMin, actMax,
  });
}

describe('ops against the slow BigInt statement, random awkward cases', () => {
  for (const kind of ['conv2d', 'depthwise', 'pointwise', 'fc'] as const) {
    for (const type of ['uint8', 'int8'] as const) {
      it(`${kind}, ${type}`, () => {
        const rng = seededRandom(kind.length * 100 + (type === 'uint8' ? 1 : 2));
        for (let trial = 0; trial < 40; trial++) {
          const c = randomConvCase(rng, kind, type);
          const fast = runFast(c);
          const m = slowMultipliers(c);
          expect(Array.from(fast.stage.multiplier), `trial ${trial} multipliers`).toEqual(m.map((v) => v.multiplier));
          expect(Array.from(fast.stage.shift), `trial ${trial} shifts`).toEqual(m.map((v) => v.shift));
          expect(fast.values, `trial ${trial}: ${JSON.stringify({ ...c, x: undefined, w: undefined, bias: undefined })}`).toEqual(runSlow(c));
        }
      });
    }
  }

  it('the uint8 legacy multiplier (float product) and the per-channel one (double) can differ', () => {
    // Scales for which float(in·w)/out and in·w/out quantize differently: found by search, kept as a fact.
    const rng = seededRandom(9);
    let differing = 0;
    for (let i = 0; i < 2000; i++) {
      const a = logUniform(rng, -3, 0);
      const b = logUniform(rng, -4, -1);
      const o = logUniform(rng, -3, 0);
      const legacy = convOutputStage('uint8', { scale: a, zeroPoint: 0 }, [b], { scale: o, zeroPoint: 0 }, 1, ACT_NONE);
      const channel = convOutputStage('int8', { scale: a, zeroPoint: 0 }, [b], { scale: o, zeroPoint: 0 }, 1, ACT_NONE);
      if (legacy.multiplier[0] !== channel.multiplier[0]) differing++;
    }
    expect(differing).toBeGreaterThan(0);
  });

  it('add, random scales and zero points, both types', () => {
    const rng = seededRandom(21);
    for (let trial = 0; trial < 200; trial++) {
      const type = pick(rng, ['uint8', 'int8'] as const);
      const n = int(rng, 1, 300);
      const s1 = logUniform(rng, -3, 0);
      const s2 = logUniform(rng, -3, 0);
      const so = Math.fround(Math.max(s1, s2) * (0.6 + rng() * 3));
      const z1 = zeroPoint(rng, type);
      const z2 = zeroPoint(rng, type);
      const zo = zeroPoint(rng, type);
      const act = pick(rng, [ACT_NONE, ACT_RELU, ACT_RELU6] as const);
      const a = fileData(rng, type, n);
      const b = fileData(rng, type, n);
      const p = addParams(
        { scale: s1, zeroPoint: storageZeroPoint(z1, type) }, { scale: s2, zeroPoint: storageZeroPoint(z2, type) },
        { scale: so, zeroPoint: storageZeroPoint(zo, type) }, act,
      );
      const output = new Int8Array(n);
      ops.add(p, toStorage(a, z1, type).data, toStorage(b, z2, type).data, output);
      const [actMin, actMax] = actRange(act, so, zo, type);
      const want = slowAdd({
        a, aZero: z1, aMultiplier: p.input1Multiplier, aShift: p.input1Shift,
        b, bZero: z2, bMultiplier: p.input2Multiplier, bShift: p.input2Shift,
        outMultiplier: p.outputMultiplier, outShift: p.outputShift, outZero: zo, actMin, actMax,
      });
      expect(fileValues(output, type), `trial ${trial}`).toEqual(want);
      // The multipliers by add.cc's formulas.
      const twice = 2 * Math.max(s1, s2);
      expect([p.input1Multiplier, p.input1Shift]).toEqual(Object.values(quantizeMultiplierExact(s1 / twice)));
      expect([p.outputMultiplier, p.outputShift]).toEqual(Object.values(quantizeMultiplierExact(twice / Math.fround(2 ** 20 * so))));
    }
  });

  it('avgpool and mean, odd and even counts, extreme zero points', () => {
    const rng = seededRandom(31);
    for (let trial = 0; trial < 150; trial++) {
      const type = pick(rng, ['uint8', 'int8'] as const);
      const h = int(rng, 1, 8);
      const w = int(rng, 1, 8);
      const C = int(rng, 1, 19);
      const x = fileData(rng, type, h * w * C);
      // Mostly tight ranges around a value, so that exact halves happen.
      if (rng() < 0.5) {
        const [lo, hi] = typeRange(type);
        const centre = int(rng, lo, hi);
        for (let i = 0; i < x.length; i++) x[i] = Math.min(hi, Math.max(lo, centre + int(rng, -1, 1)));
      }
      const stored = toStorage(x, 0, type).data;
      const out = new Int8Array(C);
      const actMin = int(rng, -128, 0);
      const actMax = int(rng, actMin, 127);
      ops.avgpool({ h, w, channels: C, type, actMin, actMax }, stored, out);
      const shift = type === 'uint8' ? 128 : 0;
      expect(fileValues(out, type), `avgpool ${trial}`).toEqual(slowAvgPool(x, h * w, C, type, actMin + shift, actMax + shift));

      const zIn = zeroPoint(rng, type);
      const zOut = zeroPoint(rng, type);
      const inScale = logUniform(rng, -3, 0);
      const outScale = Math.fround(inScale * pick(rng, [1, 0.5 + rng(), 2 ** -int(rng, 0, 6), 1e-3 + rng() * 0.01]));
      const params = meanParams({ scale: inScale, zeroPoint: storageZeroPoint(zIn, type) }, { scale: outScale, zeroPoint: storageZeroPoint(zOut, type) });
      ops.mean({ h, w, channels: C, params }, stored, out);
      const m = quantizeMultiplierExact(Math.fround(inScale) / outScale);
      expect([params.multiplier, params.shift]).toEqual([m.multiplier, m.shift]);
      expect(fileValues(out, type), `mean ${trial}`).toEqual(slowMean(x, h * w, C, type, zIn, zOut, m.multiplier, m.shift));
    }
  });

  it('softmax, random logits, scales and lengths, uint8 and int8', () => {
    const rng = seededRandom(41);
    let aborted = 0;
    for (let trial = 0; trial < 120; trial++) {
      const type = pick(rng, ['uint8', 'int8'] as const);
      const n = pick(rng, [1, 2, 3, 10, int(rng, 1, 200), 1001]);
      const scale = logUniform(rng, -2.5, 0.5);
      const beta = pick(rng, [1, 1, 0.5, 2]);
      const x = fileData(rng, type, n);
      if (rng() < 0.3) x.fill(x[0]!); // all equal
      const p = softmaxParams(scale, beta);
      const out = new Int8Array(n);
      const want = slowSoftmax(x, type, p.inputMultiplier, p.inputLeftShift, p.diffMin);
      if (want === null) {
        // The exps sum to 512 or more (many logits near the maximum): TFLITE_CHECK aborts; so do we.
        expect(() => ops.softmax(p, toStorage(x, 0, type).data, out)).toThrow(/exponent/);
        aborted++;
        continue;
      }
      ops.softmax(p, toStorage(x, 0, type).data, out);
      expect(fileValues(out, type), `trial ${trial}`).toEqual(want);
    }
    expect(aborted).toBeGreaterThan(0);
    expect(aborted).toBeLessThan(60);
  });

  it('quantize and requantize between the types', () => {
    const rng = seededRandom(51);
    for (let trial = 0; trial < 100; trial++) {
      const inType = pick(rng, ['uint8', 'int8'] as const);
      const outType = pick(rng, ['uint8', 'int8'] as const);
      const n = int(rng, 1, 100);
      const x = fileData(rng, inType, n);
      const zIn = zeroPoint(rng, inType);
      const zOut = zeroPoint(rng, outType);
      const sIn = logUniform(rng, -3, 0);
      const sOut = Math.fround(sIn * pick(rng, [1, 0.3 + rng() * 3, 1e-3]));
      const p = requantizeParams({ scale: sIn, zeroPoint: storageZeroPoint(zIn, inType) }, { scale: sOut, zeroPoint: storageZeroPoint(zOut, outType) });
      const out = new Int8Array(n);
      ops.requantizeOp(p, toStorage(x, zIn, inType).data, out);
      expect(fileValues(out, outType)).toEqual(slowRequantize(x, zIn, zOut, p.multiplier, p.shift, outType));
    }
    // QUANTIZE from float: round(x / s) (float32 division, halves away) + zero point, clamped.
    const values = Float32Array.from({ length: 2000 }, (_, i) => (i % 2 ? -1 : 1) * (i / 7) * 0.125);
    for (const [s, zp] of [[0.125, 0], [0.0078125, -128], [0.3, 17], [Math.fround(1 / 255), 127]] as const) {
      const out = new Int8Array(values.length);
      ops.quantize(values, out, s, zp);
      for (let i = 0; i < values.length; i++) {
        const q = Math.fround(values[i]! / Math.fround(s));
        const r = q < 0 ? -Math.floor(-q + 0.5) : Math.floor(q + 0.5);
        expect(out[i]).toBe(Math.min(127, Math.max(-128, r + zp)));
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Float sanity: dequantized outputs within one quantization step of the fp32 reference op on
// dequantized inputs (the integer path rounds once or twice; the float result is rounded once).

function dequant(data: Int8Array, q: TensorQuant): Float32Array {
  const out = new Float32Array(data.length);
  ops.dequantize(data, out, q.scale, q.zeroPoint);
  return out;
}

/**
 * Output quantization covering the float results (so few saturate), its scale at least minScale
 * (a real model's output scale keeps the multiplier small: far above 1 the shifted accumulator
 * overflows int32, in TFLite as here).
 */
function outputQuantFor(values: Float32Array, type: QuantType, minScale = 0): TensorQuant {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = Math.fround(Math.max(hi - lo, 1e-6, minScale * 255) / 255);
  const zp = Math.round(-lo / scale) + (type === 'uint8' ? 0 : -128);
  return { scale, zeroPoint: storageZeroPoint(Math.min(Math.max(zp, typeRange(type)[0]), typeRange(type)[1]), type) };
}

/** Max |q − round(y / s) − zp| over the outputs, the float result clamped like the integer one. */
function maxStepError(q: Int8Array, y: Float32Array, out: TensorQuant, lo = -128, hi = 127): number {
  let worst = 0;
  for (let i = 0; i < q.length; i++) {
    const expected = Math.min(hi, Math.max(lo, Math.round(y[i]! / out.scale) + out.zeroPoint));
    worst = Math.max(worst, Math.abs(q[i]! - expected));
  }
  return worst;
}

describe('dequantized outputs against the fp32 reference ops', () => {
  const rng = seededRandom(61);
  const type: QuantType = 'int8';

  it('conv2d, depthwise, pointwise, fc within one step', () => {
    for (let trial = 0; trial < 24; trial++) {
      const kind = (['conv2d', 'depthwise', 'pointwise', 'fc'] as const)[trial % 4]!;
      const c = randomConvCase(rng, kind, trial % 8 < 4 ? 'uint8' : type);
      const x = toStorage(c.x, c.xQuant.zeroPoint, c.type);
      const w = toStorage(c.w, c.wZero, c.type);
      const xf = dequant(x.data, { scale: c.xQuant.scale, zeroPoint: x.zeroPoint });
      const channels = c.outC;
      const wf = new Float32Array(w.data.length);
      const channelOf = (i: number) => (kind === 'depthwise' ? i % channels : Math.floor(i / (w.data.length / channels)));
      for (let i = 0; i < wf.length; i++) {
        const s = c.wScales[c.wScales.length === 1 ? 0 : channelOf(i)]!;
        wf[i] = s * (w.data[i]! - w.zeroPoint);
      }
      const bias16 = Int32Array.from(c.bias, (b) => b >> 12); // a bias in the range of the products
      const bfSmall = Float32Array.from(bias16, (b, oc) => b * c.xQuant.scale * c.wScales[c.wScales.length === 1 ? 0 : oc]!);
      const y = new Float32Array(c.outH * c.outW * channels);
      const spatial = { inH: c.inH, inW: c.inW, outH: c.outH, outW: c.outW, stride: c.stride, padTop: c.padTop, padLeft: c.padLeft };
      if (kind === 'conv2d') ref.conv2d({ ...spatial, kernel: c.kernel, inC: c.inC, outC: channels, act: c.act, weights: wf, bias: bfSmall }, xf, y);
      else if (kind === 'depthwise') ref.depthwise({ ...spatial, kernel: c.kernel, channels, act: c.act, weights: wf, bias: bfSmall }, xf, y);
      else ref.pointwise({ h: c.inH, w: c.inW, inC: c.inC, outC: channels, act: c.act, weights: wf, bias: bfSmall }, xf, y);
      const outQ = outputQuantFor(y, c.type, (c.xQuant.scale * Math.max(...c.wScales)) / 16);
      const inQ = { scale: c.xQuant.scale, zeroPoint: x.zeroPoint };
      const requant = kind === 'fc'
        ? fullyConnectedOutputStage(inQ, c.wScales, outQ, channels, c.act)
        : convOutputStage(c.type, inQ, c.wScales, outQ, channels, c.act);
      const fast = runFast({ ...c, bias: bias16, out: { scale: outQ.scale, zeroPoint: c.type === 'uint8' ? outQ.zeroPoint + 128 : outQ.zeroPoint } }, requant);
      const q = Int8Array.from(fast.values, (v) => (c.type === 'uint8' ? v - 128 : v));
      expect(maxStepError(q, y, outQ, requant.actMin, requant.actMax), `${kind} trial ${trial}`).toBeLessThanOrEqual(1);
    }
  });

  it('add, avgpool, mean and softmax within one or two steps', () => {
    for (let trial = 0; trial < 30; trial++) {
      const n = int(rng, 1, 64);
      const aQ = { scale: logUniform(rng, -2, 0), zeroPoint: int(rng, -128, 127) };
      const bQ = { scale: logUniform(rng, -2, 0), zeroPoint: int(rng, -128, 127) };
      const a = fileData(rng, 'int8', n) as Int8Array;
      const b = fileData(rng, 'int8', n) as Int8Array;
      const y = Float32Array.from({ length: n }, (_, i) => aQ.scale * (a[i]! - aQ.zeroPoint) + bQ.scale * (b[i]! - bQ.zeroPoint));
      const outQ = outputQuantFor(y, 'int8');
      const out = new Int8Array(n);
      ops.add(addParams(aQ, bQ, outQ, ACT_NONE), a, b, out);
      expect(maxStepError(out, y, outQ), `add ${trial}`).toBeLessThanOrEqual(1);

      const h = int(rng, 1, 7);
      const C = int(rng, 1, 9);
      const x = fileData(rng, 'int8', h * h * C) as Int8Array;
      const xQ = { scale: 0.05, zeroPoint: int(rng, -128, 127) };
      const xf = dequant(x, xQ);
      const pooled = new Float32Array(C);
      ref.avgpool({ op: 'avgpool', input: 0, output: 0, h, w: h, channels: C }, xf, pooled);
      const q = new Int8Array(C);
      ops.avgpool({ h, w: h, channels: C, type: 'int8', actMin: -128, actMax: 127 }, x, q);
      expect(maxStepError(q, pooled, xQ), `avgpool ${trial}`).toBeLessThanOrEqual(1);
      const meanQ = { scale: 0.03, zeroPoint: int(rng, -20, 20) };
      ops.mean({ h, w: h, channels: C, params: meanParams(xQ, meanQ) }, x, q);
      expect(maxStepError(q, pooled, meanQ), `mean ${trial}`).toBeLessThanOrEqual(1);

      const logits = fileData(rng, 'int8', 50) as Int8Array;
      const lQ = { scale: logUniform(rng, -2, -0.5), zeroPoint: int(rng, -30, 30) };
      const probs = new Float32Array(50);
      ref.softmax({ op: 'softmax', input: 0, output: 0, n: 50 }, dequant(logits, lQ), probs);
      const sq = new Int8Array(50);
      ops.softmax(softmaxParams(lQ.scale), logits, sq);
      expect(maxStepError(sq, probs, { scale: 1 / 256, zeroPoint: -128 }), `softmax ${trial}`).toBeLessThanOrEqual(1);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe.runIf(requireShared())('the real quantized MobileNets against TFLite\'s reference kernels', () => {
  for (const [name, golden] of Object.entries(INT8_GOLDEN)) {
    it(`${name}: every operator's output bit-exact`, () => {
      const graph = new Int8Graph(new Uint8Array(readFileSync(modelPath(name))), name);
      const sg = graph.model.subgraphs[0]!;
      const input = sg.tensors[sg.inputs[0]!]!;
      for (const run of golden.runs) {
        const result = graph.run(int8Pattern(input.shape[1]!, input.shape[2]!, run.seed));
        expect(result.opNames.join(' ')).toBe(golden.opNames);
        const want = run.ops.split(' ');
        const first = result.hashes.findIndex((h, i) => h !== want[i]);
        expect(first, `first differing operator: ${first} (${result.opNames[first]})`).toBe(-1);
        expect(Buffer.from(result.output).toString('base64')).toBe(run.output);
      }
    }, 60_000);
  }
});

describe('throughput', () => {
  it('reports MAC/s of pointwise, conv2d and depthwise', () => {
    const rng = seededRandom(71);
    const rand = (n: number) => Int8Array.from({ length: n }, () => Math.floor(rng() * 256) - 128);
    const requant = (c: number) => convOutputStage('int8', { scale: 0.02, zeroPoint: -128 }, [0.01], { scale: 0.05, zeroPoint: 3 }, c, ACT_RELU6);
    const time = (fn: () => void) => {
      fn();
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t = performance.now();
        fn();
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    const pw = { h: 14, w: 14, inC: 384, outC: 64, inputZeroPoint: -128, weights: rand(384 * 64), weightZeroPoint: 0, bias: i32(Array(64).fill(0)), requant: requant(64) };
    const pwIn = rand(14 * 14 * 384);
    const pwOut = new Int8Array(14 * 14 * 64);
    const pwMs = time(() => ops.pointwise(pw, pwIn, pwOut));
    const conv = {
      inH: 224, inW: 224, outH: 112, outW: 112, stride: 2, padTop: 0, padLeft: 0, kernel: 3, inC: 3, outC: 32, inputZeroPoint: -1,
      weights: rand(32 * 27), weightZeroPoint: 0, bias: i32(Array(32).fill(0)), requant: requant(32),
    };
    const convIn = rand(224 * 224 * 3);
    const convOut = new Int8Array(112 * 112 * 32);
    const convMs = time(() => ops.conv2d(conv, convIn, convOut));
    const dw = {
      inH: 56, inW: 56, outH: 56, outW: 56, stride: 1, padTop: 1, padLeft: 1, kernel: 3, channels: 144, inputZeroPoint: -128,
      weights: rand(9 * 144), weightZeroPoint: 0, bias: i32(Array(144).fill(0)), requant: requant(144),
    };
    const dwIn = rand(56 * 56 * 144);
    const dwOut = new Int8Array(56 * 56 * 144);
    const dwMs = time(() => ops.depthwise(dw, dwIn, dwOut));
    const rate = (macs: number, ms: number) => `${(macs / ms / 1e3).toFixed(0)} MMAC/s`;
    console.log(`int8 reference: pointwise 14×14 384→64 ${rate(14 * 14 * 384 * 64, pwMs)}; conv2d 224→112 3→32 ${rate(112 * 112 * 32 * 27, convMs)}; depthwise 56×56×144 ${rate(56 * 56 * 144 * 9, dwMs)}`);
    expect(pwMs).toBeGreaterThan(0);
  });
});
