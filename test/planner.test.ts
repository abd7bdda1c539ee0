import { describe, expect, it } from 'vitest';
import { samePadding } from '../src/model/same-padding.js';
import { createRandomModel } from '../src/model/random-model.js';
import { planModel, PlanError } from '../src/engine/planner.js';
import { stepSizes } from '../src/engine/reference/run.js';
import type { ModelSpec } from '../src/model/spec.js';

describe('TensorFlow SAME padding', () => {
  it('puts the odd padding row after the input for stride 2 on an even size', () => {
    expect(samePadding(224, 3, 2)).toEqual({ out: 112, padBefore: 0 });
    expect(samePadding(7, 3, 2)).toEqual({ out: 4, padBefore: 1 });
    expect(samePadding(112, 3, 1)).toEqual({ out: 112, padBefore: 1 });
    expect(samePadding(1, 3, 2)).toEqual({ out: 1, padBefore: 1 });
  });
});

describe('planModel', () => {
  it('chains shapes of MobileNet v2 224 down to 7×7 and 1001 outputs', () => {
    const plan = planModel(createRandomModel({ arch: 'v2', resolution: 224 }));
    expect([plan.inputH, plan.inputW, plan.inputC]).toEqual([224, 224, 3]);
    expect(plan.steps[0]).toMatchObject({ op: 'conv2d', outH: 112, padTop: 0, padLeft: 0 });
    const last = plan.steps.filter((s) => s.op === 'bottleneck').at(-1)!;
    expect(last).toMatchObject({ outH: 7, outW: 7, outC: 320 });
    expect(plan.outputSize).toBe(1001);
  });

  it('never lets a step write over its own input, and keeps every tensor inside the arena', () => {
    for (const arch of ['v1', 'v2'] as const) {
      const plan = planModel(createRandomModel({ arch, alpha: 0.5, resolution: 97 }));
      for (const step of plan.steps) {
        const { inSize, outSize } = stepSizes(step);
        const disjoint = step.input + inSize <= step.output || step.output + outSize <= step.input;
        expect(disjoint).toBe(true);
        expect(Math.max(step.input + inSize, step.output + outSize)).toBeLessThanOrEqual(plan.arenaSize);
        expect(Math.min(step.input, step.output)).toBeGreaterThanOrEqual(0);
      }
      for (let i = 1; i < plan.steps.length; i++) expect(plan.steps[i].input).toBe(plan.steps[i - 1].output);
    }
  });

  it('needs far less activation memory than keeping every tensor', () => {
    const plan = planModel(createRandomModel({ arch: 'v2', resolution: 224 }));
    // The first bottleneck's input (112·112·32) + output (112·112·16) is the largest pair of live
    // tensors; its expanded tensor never exists whole, so it is not in the arena.
    expect(plan.arenaSize).toBe(112 * 112 * (32 + 16));
  });

  it('runs each v1 depthwise + pointwise pair as one fused step', () => {
    const plan = planModel(createRandomModel({ arch: 'v1', resolution: 224 }));
    expect(plan.steps.map((s) => s.op)).toEqual(['conv2d', ...Array(13).fill('bottleneck'), 'avgpool', 'fc', 'softmax']);
    expect(plan.steps[1]).toMatchObject({ inC: 32, expandC: 32, outC: 64, expand: null, residual: false, stride: 1 });
    // Stem output + first block output: the 112×112×32 depthwise output is never stored.
    expect(plan.arenaSize).toBe(112 * 112 * (32 + 64));
  });

  it('refuses weights of the wrong size, naming the layer', () => {
    const spec: ModelSpec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32 });
    const layer = spec.layers[3];
    if (layer.type !== 'depthwise') throw new Error('expected a depthwise layer');
    layer.weights = layer.weights.subarray(1);
    expect(() => planModel(spec)).toThrow(PlanError);
    expect(() => planModel(spec)).toThrow(/layer 3 \(depthwise\) weights: expected 144 values, got 143/);
  });

  it('refuses layers whose channels do not chain', () => {
    const spec = createRandomModel({ arch: 'v1', alpha: 0.25, resolution: 32 });
    spec.layers.splice(2, 1);
    expect(() => planModel(spec)).toThrow(/layer 2 \(depthwise\): expects 16 input channels, the previous layer gives 8/);
  });
});
