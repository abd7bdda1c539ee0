// Fast int8 load: a QPlan built from a model file keeps each step's weights and bias lazy (the file's
// bytes, lazy-weights.ts); the native backend hands the addon those bytes, which it converts while
// packing (uint8 → storage as q ^ 0x80, int32 bias read little-endian at any alignment), so no JS
// copy of the weights is made. The addon fed the file's bytes must compute the very bytes of the
// TypeScript reference, which converts the weights on its own first read.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineQWeights, encodedQWeights } from '../src/engine/int8/lazy-weights.js';
import { createNativeInt8Backend } from '../src/engine/int8/native-backend.js';
import type { QEncodedTensor, QPlan, QStep } from '../src/engine/int8/plan.js';
import { planQuantized } from '../src/engine/int8/planner.js';
import { uint8ToStorage } from '../src/engine/int8/quantize.js';
import { parseTflite } from '../src/tflite/index.js';
import { int8Pattern } from './helpers/int8-mobilenet.js';
import { runQPlanReference } from './helpers/qplan-reference.js';
import { chainPlan, planInput, qpointwiseStep } from './helpers/random-qplan.js';
import { modelPath, requireShared } from './helpers/shared.js';

const runShared = requireShared();

/** Every weights / bias holder of a plan's steps (bottleneck parts included). */
function holders(steps: readonly QStep[]): object[] {
  return steps.flatMap((step): object[] => {
    if (step.op === 'bottleneck') return [step.expand, step.depthwise, step.project].filter((p) => p !== null);
    return 'weights' in step ? [step] : [];
  });
}

describe('lazy int8 weights', () => {
  it('convert on first read (u8: q − 128; i32: little-endian), then are plain properties; assigning replaces them', () => {
    const u8: QEncodedTensor = { type: 'u8', data: Uint8Array.of(0, 1, 127, 128, 255) };
    const bias = new Uint8Array(9).subarray(1); // unaligned on purpose
    new DataView(bias.buffer, bias.byteOffset).setInt32(0, -2, true);
    new DataView(bias.buffer, bias.byteOffset).setInt32(4, 70000, true);
    const part = defineQWeights({ weightZeroPoint: 3 }, u8, { type: 'i32', data: bias });
    expect(encodedQWeights(part, 'weights')).toBe(u8);
    expect(Object.keys(part)).toEqual(['weightZeroPoint', 'weights', 'bias']);
    const weights = part.weights;
    expect(Array.from(weights)).toEqual([-128, -127, -1, 0, 127]);
    expect(part.weights).toBe(weights);
    expect(encodedQWeights(part, 'weights')).toBeUndefined();
    expect(Array.from(part.bias)).toEqual([-2, 70000]);
    const i8 = defineQWeights({}, { type: 'i8', data: Uint8Array.of(0xff, 5) }, { type: 'i32', data: new Uint8Array(4) });
    i8.bias = Int32Array.of(9);
    expect(encodedQWeights(i8, 'bias')).toBeUndefined();
    expect(Array.from(i8.weights)).toEqual([-1, 5]);
  });
});

describe.runIf(runShared)('the native int8 backend loads a model without a JS copy of its weights', () => {
  // A uint8 file (TF1, one zero point per tensor) and an int8 one (TF2, per-channel weights).
  for (const name of ['mobilenet_v2_1.0_224_quant', 'tf2_mobilenet_v2_1.0_224_ptq']) {
    it(`${name}: every weight still the file's bytes after loading; the reference's output bytes`, async () => {
      const bytes = readFileSync(modelPath(name));
      const plan = planQuantized(parseTflite(bytes, name));
      const backend = createNativeInt8Backend(plan, { threads: 2 });
      try {
        const parts = holders(plan.steps);
        expect(parts.length).toBeGreaterThan(15);
        for (const part of parts) {
          expect(encodedQWeights(part, 'weights')?.data.buffer).toBe(bytes.buffer);
          expect(encodedQWeights(part, 'bias')?.data.buffer).toBe(bytes.buffer);
        }
        const input = uint8ToStorage(int8Pattern(plan.inputH, plan.inputW, 1));
        const got = await backend.run(input);
        expect(encodedQWeights(parts[0]!, 'weights')).toBeDefined(); // running reads nothing either
        const want = runQPlanReference(plan, input); // reads (converts) every weight
        expect(encodedQWeights(parts[0]!, 'weights')).toBeUndefined();
        expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      } finally {
        backend.dispose();
      }
    });
  }
});

describe('the addon takes encoded int8 weights and plain arrays alike', () => {
  /** A one-step plan, its weights and bias replaced by encoded bytes of the same values. */
  function encodedTwin(style: 'uint8' | 'int8'): { plain: QPlan; encoded: QPlan; step: Record<string, unknown> } {
    const make = () => chainPlan([qpointwiseStep({ h: 3, w: 2, inC: 21, outC: 19, seed: 4, style })]);
    const plain = make();
    const encoded = make();
    const step = encoded.steps[0] as unknown as Record<string, unknown>;
    const weights = (plain.steps[0] as Extract<QStep, { op: 'pointwise' }>).weights;
    const bias = (plain.steps[0] as Extract<QStep, { op: 'pointwise' }>).bias;
    const biasBytes = new Uint8Array(4 * bias.length + 3).subarray(3); // unaligned on purpose
    for (let i = 0; i < bias.length; i++) new DataView(biasBytes.buffer, biasBytes.byteOffset).setInt32(4 * i, bias[i]!, true);
    step.weights = style === 'uint8'
      ? { type: 'u8', data: Uint8Array.from(weights, (q) => q + 128) }
      : { type: 'i8', data: new Uint8Array(weights.buffer, weights.byteOffset, weights.length) };
    step.bias = { type: 'i32', data: biasBytes };
    return { plain, encoded, step };
  }

  for (const style of ['uint8', 'int8'] as const) {
    it(`${style} weights as file bytes: the same output bytes`, async () => {
      const { plain, encoded } = encodedTwin(style);
      const input = planInput(plain, 3);
      const a = createNativeInt8Backend(plain, { isa: 'scalar' });
      const b = createNativeInt8Backend(encoded, {});
      try {
        const want = runQPlanReference(plain, input);
        expect(Buffer.from(await a.run(input)).equals(Buffer.from(want))).toBe(true);
        expect(Buffer.from(await b.run(input)).equals(Buffer.from(want))).toBe(true);
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }

  it('refuses malformed encoded tensors, naming the step and the field', () => {
    const cases: Array<[string, (step: Record<string, unknown>) => void, RegExp]> = [
      ['bias type', (s) => { (s.bias as { type: string }).type = 'i8'; }, /step 0 \(pointwise\): 'bias': encoding type 'i8' is not i32/],
      ['weights type', (s) => { (s.weights as { type: string }).type = 'f32'; }, /'weights': encoding type 'f32' is not u8 or i8/],
      ['too few bytes', (s) => { const w = s.weights as QEncodedTensor; w.data = w.data.subarray(1); }, /'weights' has 398 bytes of u8, expected 399 values/],
      ['bias bytes', (s) => { const b = s.bias as QEncodedTensor; b.data = b.data.subarray(2); }, /'bias' has 74 bytes of i32, expected 19 values/],
      ['data not bytes', (s) => { (s.weights as { data: unknown }).data = new Int8Array(399); }, /'weights'\.data must be a Uint8Array/],
    ];
    for (const [what, spoil, message] of cases) {
      const { encoded, step } = encodedTwin('uint8');
      spoil(step);
      expect(() => createNativeInt8Backend(encoded, { isa: 'scalar' }), what).toThrow(message);
    }
  });
});
