// Fast model load: a model file's weights stay in the file's encoding (LazyWeights) through the
// reader and the planner; the native addon decodes them while repacking, the reference backend when
// it first reads them. Both decodings must give the very same floats: the addon fed encoded weights
// must compute bit-identical outputs to the addon fed the TypeScript decoder's Float32Arrays, for
// every encoding, channel layout, packing (GEMM panels, depthwise blocks, raw) and ISA.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/index.js';
import { loadAddon } from '../src/engine/native.js';
import type { Plan, Step } from '../src/engine/plan.js';
import { planModel } from '../src/engine/planner.js';
import { runPlan } from '../src/engine/reference/run.js';
import { randomArray, seededRandom } from '../src/model/random-model.js';
import {
  defineWeights, encodedWeights, LazyWeights, weightsOf, type EncodedWeights, type Layer, type ModelSpec, type WeightEncoding,
} from '../src/model/spec.js';
import { decodeWeights, firstNonFinite } from '../src/tflite/dequantize.js';
import { parseTflite } from '../src/tflite/index.js';
import { bottleneckPlan, conv2dPlan, depthwisePlan, fcPlan, pointwisePlan } from './helpers/random-plan.js';
import { modelPath, requireShared, SHARED_MODELS } from './helpers/shared.js';

const loaded = loadAddon();
if ('error' in loaded) throw loaded.error;
const { addon } = loaded;
const ISAS = addon.supportedIsas();
const runShared = requireShared();

/** Every weights / bias holder of a spec's layers or a plan's steps (bottleneck parts included). */
function holders(items: readonly (Layer | Step)[]): object[] {
  return items.flatMap((item): object[] => {
    if ('expand' in item) return [item.expand, item.depthwise, item.project].filter((p) => p !== null);
    return 'weights' in item ? [item] : [];
  });
}

// ---- encoded tensors of every kind -------------------------------------------------------------

const RANGES: Record<Exclude<WeightEncoding, 'f32' | 'f16'>, [number, number, number]> = {
  // [lowest code, highest code, bytes]
  u8: [0, 255, 1], i8: [-128, 127, 1], i16: [-32768, 32767, 2], i32: [-(2 ** 31), 2 ** 31 - 1, 4], i64: [-(2 ** 62), 2 ** 62, 8],
};

/**
 * `length` random values encoded as `type`: quantized ones with `channels` scales / zero points along
 * runs of `inner` elements (scales chosen so that values stay around ±1), floats at an odd byte offset.
 */
function encode(type: WeightEncoding, length: number, seed: number, channels = 1, inner = length, zeroKind: 'int' | 'fraction' = 'int'): EncodedWeights {
  const rng = seededRandom(seed);
  const int = (lo: number, hi: number) => Math.floor(lo + rng() * (hi - lo + 1));
  if (type === 'f32' || type === 'f16') {
    const size = type === 'f32' ? 4 : 2;
    const data = new Uint8Array(length * size + 1).subarray(1); // unaligned on purpose
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < length; i++) {
      if (type === 'f32') view.setFloat32(4 * i, rng() * 2 - 1, true);
      // Halves up to ±2 (exponents 0..15: subnormals included), both signs.
      else view.setUint16(2 * i, (int(0, 1) << 15) | (int(0, 15) << 10) | int(0, 1023), true);
    }
    return { type, data, length, scale: new Float32Array(0), zeroPoint: new Float64Array(0), inner: 1 };
  }
  const [lo, hi, size] = RANGES[type];
  const data = new Uint8Array(length * size);
  const view = new DataView(data.buffer);
  const span = Math.min(hi - lo, 2 ** 40);
  const scale = Float32Array.from({ length: channels }, () => (0.5 + rng()) * 2 / span);
  const zeroPoint = Float64Array.from({ length: channels }, () => {
    const z = type === 'u8' ? int(0, 255) : type === 'i8' ? int(-20, 20) : int(-1000, 1000);
    return zeroKind === 'fraction' ? z + 0.5 : z;
  });
  for (let i = 0; i < length; i++) {
    const q = type === 'i64' ? 0 : int(lo, hi);
    if (type === 'u8') view.setUint8(i, q);
    else if (type === 'i8') view.setInt8(i, q);
    else if (type === 'i16') view.setInt16(2 * i, q, true);
    else if (type === 'i32') view.setInt32(4 * i, q, true);
    // Some int64 codes beyond 2^53: both sides must round them to double the same way.
    else view.setBigInt64(8 * i, BigInt(int(-(2 ** 40), 2 ** 40)) * (i % 3 === 0 ? 4097n : 1n) + (i % 5 === 0 ? 2n ** 60n + 1n : 0n), true);
  }
  if (type === 'i64') scale.fill(2 ** -60);
  return { type, data, length, scale, zeroPoint, inner };
}

/** The plain float value of element i, straight from the definition (for decodeWeights itself). */
function valueAt(e: EncodedWeights, i: number): number {
  const view = new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  if (e.type === 'f32') return view.getFloat32(4 * i, true);
  if (e.type === 'f16') {
    const h = view.getUint16(2 * i, true);
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    return Math.fround(exp === 0 ? sign * man * 2 ** -24 : sign * (1 + man / 1024) * 2 ** (exp - 15));
  }
  const q = { u8: () => view.getUint8(i), i8: () => view.getInt8(i), i16: () => view.getInt16(2 * i, true),
    i32: () => view.getInt32(4 * i, true), i64: () => Number(view.getBigInt64(8 * i, true)) }[e.type]();
  const c = Math.floor(i / e.inner) % e.scale.length;
  return Math.fround(e.scale[c]! * (q - e.zeroPoint[c]!));
}

describe('decodeWeights', () => {
  for (const type of ['u8', 'i8', 'i16', 'i32', 'i64', 'f16', 'f32'] as const) {
    it(`${type}: scale · (q − zero point) per channel, rounded once to float32`, () => {
      const e = encode(type, 60, 3, 4, 5);
      const floats = decodeWeights(e);
      expect(floats).toBeInstanceOf(Float32Array);
      expect(Array.from(floats)).toEqual(Array.from({ length: 60 }, (_, i) => valueAt(e, i)));
    });
  }
});

// ---- the addon decodes exactly like TypeScript ---------------------------------------------------

type WeightsHolder = { weights: Float32Array; bias: Float32Array };

/** Replaces a holder's weights and bias by encoded ones; returns the same values as floats for the twin plan. */
function encodeInto(target: WeightsHolder, twin: WeightsHolder, weights: EncodedWeights, bias: EncodedWeights): void {
  (target as unknown as Record<string, unknown>).weights = weights;
  (target as unknown as Record<string, unknown>).bias = bias;
  twin.weights = decodeWeights(weights);
  twin.bias = decodeWeights(bias);
}

function clonePlan(plan: Plan): Plan {
  return { ...plan, steps: plan.steps.map((s) => structuredClone(s)) };
}

interface Case {
  name: string;
  plan: () => Plan;
  /** Encodes the weights of `encoded` (and the same floats into `floats`). */
  encode: (encoded: Step, floats: Step, type: WeightEncoding) => void;
}

const bias = (type: WeightEncoding, n: number, seed: number) =>
  encode(type === 'f32' || type === 'f16' ? type : 'i32', n, seed, n, 1);

const CASES: Case[] = [
  {
    // GEMM panels, per-channel along the output rows (axis 0), channel tail.
    name: 'fc 37 → 45, per output channel',
    plan: () => fcPlan({ inC: 37, outC: 45, seed: 1 }),
    encode: (e, f, t) => encodeInto(e as never, f as never, encode(t, 45 * 37, 2, 45, 37), bias(t, 45, 3)),
  },
  {
    // GEMM panels, per-channel along the input axis (inner 1): a layout no converter writes, decoded all the same.
    name: 'pointwise 5×3×19 → 21, per input channel, fractional zero points',
    plan: () => pointwisePlan({ h: 5, w: 3, inC: 19, outC: 21, act: 0, seed: 4 }),
    encode: (e, f, t) => encodeInto(e as never, f as never, encode(t, 21 * 19, 5, 19, 1, 'fraction'), bias(t, 21, 6)),
  },
  {
    // Stem: K = 3·3·inC GEMM rows, one tensor-wide scale.
    name: 'conv2d 3×3/2 9×7×3 → 10, per tensor',
    plan: () => conv2dPlan({ h: 9, w: 7, inC: 3, outC: 10, stride: 2, act: 0, seed: 7 }),
    encode: (e, f, t) => encodeInto(e as never, f as never, encode(t, 10 * 27, 8), bias(t, 10, 9)),
  },
  {
    // Depthwise blocks, per channel along the last axis (inner 1).
    name: 'depthwise 3×3 6×5×21, per channel',
    plan: () => depthwisePlan({ h: 6, w: 5, channels: 21, stride: 1, act: 0, seed: 10 }),
    encode: (e, f, t) => encodeInto(e as never, f as never, encode(t, 9 * 21, 11, 21, 1), bias(t, 21, 12)),
  },
  {
    // Raw depthwise weights (kernel ≠ 3), decoded as a whole.
    name: 'depthwise 5×5 7×6×9, per tensor',
    plan: () => depthwisePlan({ h: 7, w: 6, channels: 9, stride: 1, act: 0, seed: 13, kernel: 5 }),
    encode: (e, f, t) => encodeInto(e as never, f as never, encode(t, 25 * 9, 14), bias(t, 9, 15)),
  },
  {
    name: 'bottleneck 8×8×12 → 40 → 12 + residual, all three parts encoded',
    plan: () => bottleneckPlan({ h: 8, w: 8, stride: 1, inC: 12, expandC: 40, outC: 12, residual: true, acts: [2, 2, 0], seed: 16 }),
    encode: (e, f, t) => {
      if (e.op !== 'bottleneck' || f.op !== 'bottleneck') throw new Error('expected a bottleneck');
      encodeInto(e.expand as never, f.expand as never, encode(t, 40 * 12, 17, 40, 12), bias(t, 40, 18));
      encodeInto(e.depthwise as never, f.depthwise as never, encode(t, 9 * 40, 19, 40, 1), bias(t, 40, 20));
      encodeInto(e.project as never, f.project as never, encode(t, 12 * 40, 21, 12, 40), bias(t, 12, 22));
    },
  },
];

describe('the addon decodes encoded weights into the same floats as TypeScript', () => {
  for (const isa of ISAS) {
    for (const c of CASES) {
      it(`${isa}: ${c.name}: every encoding, bit-identical to the decoded floats`, async () => {
        for (const type of ['u8', 'i8', 'i16', 'i32', 'i64', 'f16', 'f32'] as const) {
          const base = c.plan();
          const encoded = clonePlan(base);
          const floats = clonePlan(base);
          c.encode(encoded.steps[0]!, floats.steps[0]!, type);
          const input = randomArray(seededRandom(99), base.inputH * base.inputW * base.inputC, 1);
          const a = new addon.Model(encoded as never, { isa, threads: 2 });
          const b = new addon.Model(floats, { isa, threads: 2 });
          try {
            const [got, want] = await Promise.all([a.run(input), b.run(input)]);
            expect(Array.from(got), `${type}`).toEqual(Array.from(want));
            // And the network is a real test: the reference agrees on the floats.
            const ref = runPlan(floats, input);
            for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(ref[i]!)));
          } finally {
            a.dispose();
            b.dispose();
          }
        }
      });
    }
  }

  it('refuses malformed encoded weights, naming the step and the field', () => {
    const good = () => {
      const plan = fcPlan({ inC: 4, outC: 3, seed: 1 });
      const step = plan.steps[0] as unknown as Record<string, unknown>;
      step.weights = encode('u8', 12, 1, 3, 4);
      return { plan, step, w: step.weights as EncodedWeights };
    };
    const model = (plan: Plan) => new addon.Model(plan as never, { isa: ISAS[0] });
    model(good().plan).dispose();
    const cases: [string, (g: ReturnType<typeof good>) => void, RegExp][] = [
      ['unknown type', (g) => { (g.w as { type: string }).type = 'u4'; }, /step 0 \(fc\): 'weights': unknown encoding type 'u4'/],
      ['data not bytes', (g) => { (g.w as { data: unknown }).data = new Float32Array(3); }, /'weights'\.data must be a Uint8Array/],
      ['too few bytes', (g) => { g.w.data = g.w.data.subarray(1); }, /'weights' has 11 bytes of u8, expected 12 values/],
      ['too many bytes', (g) => { g.w.data = new Uint8Array(13); }, /'weights' has 13 bytes of u8, expected 12 values/],
      ['scale count', (g) => { g.w.scale = new Float32Array([1, 1]); }, /'weights': 2 scales and 3 zero points/],
      ['no scales', (g) => { g.w.scale = new Float32Array(0); g.w.zeroPoint = new Float64Array(0); }, /'weights': 0 scales and 0 zero points/],
      ['zero points not Float64Array', (g) => { (g.w as { zeroPoint: unknown }).zeroPoint = [0, 0, 0]; }, /'weights'\.zeroPoint must be a Float64Array/],
      ['scale ≤ 0', (g) => { g.w.scale[1] = 0; }, /'weights': scale 1 is not a positive number/],
      ['NaN scale', (g) => { g.w.scale[2] = NaN; }, /'weights': scale 2 is not a positive number/],
      ['infinite zero point', (g) => { g.w.zeroPoint[0] = Infinity; }, /'weights': zero point 0 is not finite/],
      ['channels do not divide', (g) => { g.w.inner = 5; }, /'weights': 3 channels of 5 do not divide 12 values/],
      ['bad inner', (g) => { g.w.inner = 0; }, /'inner' must be an integer >= 1/],
      ['not a tensor', (g) => { g.step.weights = 'weights'; }, /'weights' must be a Float32Array or an encoded tensor/],
    ];
    for (const [what, spoil, message] of cases) {
      const g = good();
      spoil(g);
      expect(() => model(g.plan), what).toThrow(message);
    }
  });
});

// ---- lazy weights through the reader, the planner and the backends --------------------------------

describe('LazyWeights and the weights properties', () => {
  const e = encode('u8', 6, 1);

  it('decodes once, on first read, and becomes a plain property; assigning replaces it', () => {
    const lazy = new LazyWeights(e, decodeWeights);
    const layer = defineWeights({ type: 'fc', inC: 3, outC: 2 }, lazy, new Float32Array(2));
    expect(Object.keys(layer)).toEqual(['type', 'inC', 'outC', 'weights', 'bias']);
    expect(encodedWeights(layer, 'weights')).toBe(e);
    expect(weightsOf(layer, 'weights')).toBe(lazy);
    expect(lazy.decoded).toBe(false);
    const first = layer.weights;
    expect(lazy.decoded).toBe(true);
    expect(layer.weights).toBe(first);
    expect(Object.getOwnPropertyDescriptor(layer, 'weights')).toMatchObject({ value: first, writable: true, enumerable: true });
    expect(encodedWeights(layer, 'weights')).toBeUndefined();
    // A second holder of the same LazyWeights (a plan step) gets the same array.
    const step = defineWeights({ op: 'fc' }, lazy, new Float32Array(2));
    expect(step.weights).toBe(first);
    const other = new Float32Array(6);
    const fresh = defineWeights({}, new LazyWeights(e, decodeWeights), new Float32Array(2));
    fresh.weights = other;
    expect(fresh.weights).toBe(other);
    expect(encodedWeights(fresh, 'weights')).toBeUndefined();
    // A copy reads the floats; it does not share the laziness.
    const copy = { ...defineWeights({}, new LazyWeights(e, decodeWeights), new Float32Array(2)) };
    expect(copy.weights).toEqual(decodeWeights(e));
    expect(encodedWeights(copy, 'weights')).toBeUndefined();
  });

  it('first non-finite value: found without decoding in the usual case, exactly otherwise', () => {
    expect(firstNonFinite(encode('u8', 50, 1))).toBe(-1);
    const huge = encode('u8', 50, 1);
    huge.scale[0] = 3e38;
    huge.zeroPoint[0] = 0;
    huge.data.fill(0);
    expect(firstNonFinite(huge)).toBe(-1); // every code decodes to 0: fine, though the bound is not
    huge.data[7] = 2;
    expect(firstNonFinite(huge)).toBe(7);
    const f32 = encode('f32', 10, 2);
    new DataView(f32.data.buffer, f32.data.byteOffset).setFloat32(4 * 3, NaN, true);
    expect(firstNonFinite(f32)).toBe(3);
    const f16 = encode('f16', 10, 3);
    new DataView(f16.data.buffer, f16.data.byteOffset).setUint16(2 * 8, 0xfc00, true); // -inf
    expect(firstNonFinite(f16)).toBe(8);
  });
});

describe.skipIf(!runShared)('the published models load without decoding their weights', () => {
  for (const name of SHARED_MODELS) {
    it(`${name}: encoded through reader, planner and native backend; bit-identical to decoded floats`, async () => {
      const bytes = readFileSync(modelPath(name));
      const spec: ModelSpec = parseTflite(bytes, name);
      const plan = planModel(spec);
      const { backend } = createEngine(spec, { backend: 'native', threads: 2, precision: 'fp32' });
      try {
        // Nothing read the floats: every weight and bias is still the file's bytes.
        for (const holder of [...holders(spec.layers), ...holders(plan.steps)]) {
          const w = encodedWeights(holder, 'weights');
          expect(w?.data.buffer).toBe(bytes.buffer);
          expect(encodedWeights(holder, 'bias')).toBeDefined();
        }
        // The same model with every weight decoded by TypeScript first.
        const decoded = parseTflite(bytes, name);
        for (const holder of holders(decoded.layers)) {
          const h = holder as WeightsHolder;
          expect(h.weights).toBeInstanceOf(Float32Array);
          expect(h.bias).toBeInstanceOf(Float32Array);
          expect(encodedWeights(holder, 'weights')).toBeUndefined();
        }
        const twin = createEngine(decoded, { backend: 'native', threads: 2, precision: 'fp32' }).backend;
        try {
          const input = randomArray(seededRandom(5), spec.resolution ** 2 * 3, 1);
          const [got, want] = await Promise.all([backend.run(input), twin.run(input)]);
          expect(Array.from(got)).toEqual(Array.from(want));
        } finally {
          twin.dispose();
        }
        // The reference backend decodes on first use, sharing the arrays between layer and step.
        const reference = createEngine(spec, { backend: 'reference', precision: 'fp32' });
        expect(reference.plan.steps[0]!.op).toBe('conv2d');
        const stem = spec.layers[0] as WeightsHolder;
        expect((reference.plan.steps[0] as unknown as WeightsHolder).weights).toBe(stem.weights);
        expect(encodedWeights(stem, 'weights')).toBeUndefined();
      } finally {
        backend.dispose();
      }
    });
  }
});
