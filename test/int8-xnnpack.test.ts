// The 'xnnpack' rounding of the int8 reference (src/engine/int8/xnnpack.ts): its arithmetic against
// answers worked out by hand and against the magic-bias formulation XNNPACK's wasm kernels use, the
// ops choosing it by their parameters, the planner's option, and the backends' handling of it. That
// it reproduces LiteRT.js byte for byte on the shared models is test/litert-oracle.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/index.js';
import { isQuantizedBackend } from '../src/engine/int8/engine.js';
import { createNativeInt8Backend } from '../src/engine/int8/native-backend.js';
import type { QStep } from '../src/engine/int8/plan.js';
import * as ops from '../src/engine/int8/ops.js';
import { activationRange } from '../src/engine/int8/quantize.js';
import { addParams, convOutputStage, xnnOutputStage } from '../src/engine/int8/params.js';
import { planQuantized } from '../src/engine/int8/planner.js';
import {
  roundHalfEven, xnnActivationRange, xnnAddParams, xnnMeanParams, xnnMeanValue, xnnRequantizationScale, xnnRequantize,
} from '../src/engine/int8/xnnpack.js';
import { ACT_NONE, ACT_RELU6 } from '../src/engine/plan.js';
import { seededRandom } from '../src/model/random-model.js';
import { parseTflite } from '../src/tflite/index.js';
import { modelPath, requireShared } from './helpers/shared.js';

/**
 * The wasmsimd kernels' output stage, literally: float32 product, + 0x1.8p23 (the float addition
 * rounds to an integer, halves to even), integer max with the shifted minimum, − (magic − zp), min.
 */
function magicBiasRequantize(acc: number, scale: number, zp: number, lo: number, hi: number): number {
  const f = new Float32Array(1);
  const bits = new Int32Array(f.buffer);
  f[0] = 12582912;
  const magic = bits[0]!;
  f[0] = Math.fround(Math.fround(acc) * scale) + 12582912;
  const v = Math.max(bits[0]!, magic + (lo - zp)) - (magic - zp);
  return Math.min(v, hi);
}

describe('XNNPACK arithmetic', () => {
  it('rounds halves to even, everything else to nearest', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, -7, 0].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3, -7, 0]);
  });

  it('requantizes through float32: the accumulator and the product are rounded to float32 first', () => {
    // 2^24 + 1 is not a float32: it becomes 2^24, and 2^24 · 2^-4 = 2^20 exactly.
    expect(xnnRequantize(2 ** 24 + 1, 2 ** -4, 0, -(2 ** 30), 2 ** 30)).toBe(2 ** 20);
    // 5 · 0.5 = 2.5 → 2 (TFLite: 3), 7 · 0.5 = 3.5 → 4, −5 · 0.5 = −2.5 → −2; then + zp, clamp.
    expect([5, 7, -5].map((acc) => xnnRequantize(acc, 0.5, 10, -128, 127))).toEqual([12, 14, 8]);
    expect(xnnRequantize(1000, 0.5, 10, -128, 127)).toBe(127);
    expect(xnnRequantize(-1000, 0.5, 10, -20, 127)).toBe(-20);
  });

  it('equals the magic-bias formulation on random accumulators and scales', () => {
    const rng = seededRandom(11);
    for (let i = 0; i < 20000; i++) {
      // Every other case a power of two, so that exact halves are frequent.
      const scale = i % 2 ? 2 ** -Math.floor(1 + rng() * 8) : Math.fround(2 ** (-14 + rng() * 14));
      const acc = Math.round((rng() - 0.5) * 2 ** (8 + rng() * 14));
      const zp = Math.floor(rng() * 256) - 128;
      const lo = -128 + Math.floor(rng() * 20);
      expect(xnnRequantize(acc, scale, zp, lo, 127), `acc ${acc}, scale ${scale}`).toBe(magicBiasRequantize(acc, scale, zp, lo, 127));
    }
  });

  it('computes the scale in float32 left to right and refuses what XNNPACK refuses', () => {
    const [a, b, c] = [0.0235294122248888, 0.0291574746370316, 0.0235294122248888];
    expect(xnnRequantizationScale(a, b, c)).toBe(Math.fround(Math.fround(Math.fround(a) * Math.fround(b)) / Math.fround(c)));
    expect(() => xnnRequantizationScale(1, 256, 1)).toThrow(RangeError);
  });

  it('takes the activation bounds as lrintf of val / s + zp, halves to even (TFLite rounds them away from zero)', () => {
    // 6 / float32(2.4) rounds to the float32 2.5: XNNPACK's RELU6 bound is zp + 2, TFLite's zp + 3.
    expect(xnnActivationRange({ min: 0, max: 6 }, 'uint8', 2.4, -128)).toEqual({ min: -128, max: -126 });
    expect(activationRange(ACT_RELU6, 2.4, -128)).toEqual({ min: -128, max: -125 });
    expect(xnnActivationRange({ min: -Infinity, max: Infinity }, 'int8', 0.1, 5)).toEqual({ min: -128, max: 127 });
  });

  it('ADD: 21-bit multipliers, one rounding shift whose halves go up', () => {
    const p = xnnAddParams({ scale: 0.5, zeroPoint: 0 }, { scale: 0.25, zeroPoint: 0 }, { scale: 1, zeroPoint: 0 });
    // Largest ratio 0.5 = 2^-1: shift 21, multipliers 2^20 and 2^19, bias 2^20 (the rounding term).
    expect(p).toMatchObject({ aMultiplier: 2 ** 20, bMultiplier: 2 ** 19, shift: 21, bias: 2 ** 20 });
    const a = Int8Array.of(1, -1, 3, -3, 2);
    const b = Int8Array.of(0, 0, 0, 0, 2);
    const out = new Int8Array(5);
    ops.add(p, a, b, out);
    // 0.5 → 1, −0.5 → 0, 1.5 → 2, −1.5 → −1, 1.5 → 2.
    expect(Array.from(out)).toEqual([1, 0, 2, -1, 2]);
    ops.add(addParams({ scale: 0.5, zeroPoint: 0 }, { scale: 0.25, zeroPoint: 0 }, { scale: 1, zeroPoint: 0 }, ACT_NONE), a, b, out);
    expect(Array.from(out)).toEqual([1, -1, 2, -2, 2]); // TFLite: halves away from zero
  });

  it('MEAN: float32 sum · scale + zero point, on the file\'s values', () => {
    const n = 4;
    const p = xnnMeanParams('int8', { scale: 1, zeroPoint: 1 }, { scale: 1, zeroPoint: 0 }, n);
    expect(p).toEqual({ scheme: 'xnnpack', scale: 0.25, zeroPoint: -1, offset: 0 });
    expect(xnnMeanValue(10, n, p)).toBe(2); // 2.5 − 1 = 1.5 → 2
    expect(xnnMeanValue(6, n, p)).toBe(0); // 1.5 − 1 = 0.5 → 0
    // uint8: the storage sum is shifted back by 128 per value before the float arithmetic.
    const u = xnnMeanParams('uint8', { scale: 1, zeroPoint: 1 - 128 }, { scale: 1, zeroPoint: -128 }, n);
    expect(xnnMeanValue(10 - 128 * n, n, u)).toBe(2 - 128);
  });

  it('the ops pick the arithmetic by the step\'s output stage', () => {
    const input = { scale: 1, zeroPoint: 0 };
    const output = { scale: 1, zeroPoint: 0 };
    const step = (requant: ReturnType<typeof convOutputStage>) => ({
      h: 1, w: 3, inC: 1, outC: 1, inputZeroPoint: 0, weights: Int8Array.of(1), weightZeroPoint: 0, bias: Int32Array.of(0), requant,
    });
    const x = Int8Array.of(5, 7, -5);
    const out = new Int8Array(3);
    ops.pointwise(step(xnnOutputStage('int8', input, [0.5], output, 1, ACT_NONE)), x, out);
    expect(Array.from(out)).toEqual([2, 4, -2]);
    ops.pointwise(step(convOutputStage('int8', input, [0.5], output, 1, ACT_NONE)), x, out);
    expect(Array.from(out)).toEqual([3, 4, -2]); // TFLite's double rounding takes halves up
    const dw = (requant: ReturnType<typeof convOutputStage>) => ({
      inH: 1, inW: 1, outH: 1, outW: 1, stride: 1, padTop: 1, padLeft: 1, kernel: 3, channels: 3, inputZeroPoint: 0,
      weights: new Int8Array(27).fill(0).fill(1, 12, 15), weightZeroPoint: 0, bias: new Int32Array(3), requant,
    });
    ops.depthwise(dw(xnnOutputStage('int8', input, [0.5], output, 3, ACT_NONE)), x, out);
    expect(Array.from(out)).toEqual([2, 4, -2]);
  });
});

describe.runIf(requireShared())('the xnnpack rounding in plans and engines', () => {
  const spec = () => parseTflite(readFileSync(modelPath('tf2_mobilenet_v2_1.0_224_ptq')), 'ptq');

  it('planQuantized: TFLite\'s rounding by default, XNNPACK\'s parameters when asked', () => {
    const tflite = planQuantized(spec());
    expect(tflite.rounding).toBe('tflite');
    const stem = tflite.steps[0]!;
    if (stem.op !== 'conv2d') throw new Error('expected the stem');
    expect(stem.requant.scale).toBeUndefined();
    const xnnpack = planQuantized(spec(), 'ptq', undefined, { rounding: 'xnnpack' });
    expect(xnnpack.rounding).toBe('xnnpack');
    const xStem = xnnpack.steps[0]!;
    if (xStem.op !== 'conv2d') throw new Error('expected the stem');
    expect(xStem.requant.scale).toBeInstanceOf(Float32Array);
    expect(new Set(xStem.requant.scale).size).toBeGreaterThan(1); // per-channel weight scales
    expect(xnnpack.steps.some((s) => s.op === 'bottleneck' && s.residual && 'scheme' in s.residual)).toBe(true);
    expect(xnnpack.steps.some((s) => s.op === 'mean' && 'scheme' in s.params)).toBe(true);
    expect(() => planQuantized(spec(), 'ptq', undefined, { rounding: 'fast' as never })).toThrow(/unknown int8 rounding/);
  });

  it('createEngine runs it natively under auto and native, on the reference backend when asked', async () => {
    for (const choice of ['auto', 'native', 'reference'] as const) {
      const { backend } = createEngine(spec(), { precision: 'int8', int8Rounding: 'xnnpack', backend: choice });
      try {
        expect(backend.name).toBe(choice === 'reference' ? 'reference' : 'native');
        if (!isQuantizedBackend(backend)) throw new Error('expected an int8 backend');
        expect(backend.qplan.rounding).toBe('xnnpack');
      } finally {
        backend.dispose();
      }
    }
  });

  it('the native kernels reject an xnnpack plan missing its scales or carrying the wrong ADD / MEAN, naming the step', () => {
    const plan = () => planQuantized(spec(), 'ptq', undefined, { rounding: 'xnnpack' });
    const fails = (p: ReturnType<typeof plan>, message: RegExp | string) => expect(() => createNativeInt8Backend(p, { isa: 'scalar' })).toThrow(message);
    let p = plan();
    const stem = p.steps[0]!;
    if (stem.op !== 'conv2d') throw new Error('expected the stem');
    delete stem.requant.scale;
    fails(p, /step 0 \(conv2d\) requant: 'scale' must be a Float32Array/);
    p = plan();
    (p.steps[0] as Extract<QStep, { op: 'conv2d' }>).requant.scale![3] = 300;
    fails(p, "step 0 (conv2d) requant: 'scale' value 3 is 300 (must be in [2.32831e-10, 256))");
    p = plan();
    const residual = p.steps.findIndex((s) => s.op === 'bottleneck' && s.residual);
    const tflite = planQuantized(spec());
    (p.steps[residual] as Extract<QStep, { op: 'bottleneck' }>).residual = (tflite.steps[residual] as Extract<QStep, { op: 'bottleneck' }>).residual;
    fails(p, new RegExp(`step ${residual} \\(bottleneck residual\\): 'scheme' must be 'xnnpack' in a plan of rounding 'xnnpack'`));
    p = plan();
    const mean = p.steps.findIndex((s) => s.op === 'mean');
    (p.steps[mean] as Extract<QStep, { op: 'mean' }>).params = (tflite.steps[mean] as Extract<QStep, { op: 'mean' }>).params;
    fails(p, new RegExp(`step ${mean} \\(mean params\\): 'scheme' must be 'xnnpack' in a plan of rounding 'xnnpack'`));
    p = plan();
    (p as { rounding: string }).rounding = 'fast';
    fails(p, /plan: 'rounding' must be 'tflite' or 'xnnpack'/);
  });
});
