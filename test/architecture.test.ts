import { describe, expect, it } from 'vitest';
import { architectureShapes, makeDivisible } from '../src/model/architecture.js';
import { createRandomModel } from '../src/model/random-model.js';
import { planModel } from '../src/engine/planner.js';
import { stepMacs, stepParams } from '../src/engine/cost.js';

const total = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('architecture tables', () => {
  it('v1 has a stem, 13 depthwise-separable blocks and the classifier', () => {
    const shapes = architectureShapes('v1', 1, 1001);
    expect(shapes.length).toBe(1 + 26 + 3);
    expect(shapes.filter((s) => s.type === 'depthwise').map((s) => (s as { stride: number }).stride))
      .toEqual([1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]);
    expect(shapes.at(-2)).toEqual({ type: 'fc', inC: 1024, outC: 1001 });
  });

  it('v1 narrows channels by α with a floor of 8', () => {
    const quarter = architectureShapes('v1', 0.25, 1001);
    expect(quarter[0]).toMatchObject({ type: 'conv2d', outC: 8 });
    expect(quarter.at(-2)).toEqual({ type: 'fc', inC: 256, outC: 1001 });
    expect(architectureShapes('v1', 0.75, 1001)[0]).toMatchObject({ outC: 24 });
  });

  it('v2 has 17 bottlenecks with the paper\'s t/c/n/s table', () => {
    const blocks = architectureShapes('v2', 1, 1001).filter((s) => s.type === 'bottleneck');
    expect(blocks.length).toBe(17);
    expect(blocks.map((b) => b.outC)).toEqual([16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]);
    expect(blocks.map((b) => b.stride)).toEqual([1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]);
    expect(blocks[0]).toEqual({ type: 'bottleneck', inC: 32, expandC: 32, outC: 16, stride: 1, residual: false });
    expect(blocks[1].expandC).toBe(96);
    expect(blocks.filter((b) => b.residual).length).toBe(10);
  });

  it('v2 rounds channels to multiples of 8 and keeps 1280 final channels for α ≤ 1', () => {
    expect(makeDivisible(16 * 0.35)).toBe(8);
    expect(makeDivisible(24 * 0.35)).toBe(8);
    expect(makeDivisible(32 * 0.75)).toBe(24);
    expect(makeDivisible(96 * 1.4)).toBe(136);
    const shapes = architectureShapes('v2', 0.5, 1001);
    expect(shapes.at(-4)).toMatchObject({ type: 'pointwise', outC: 1280 });
    expect(architectureShapes('v2', 1.4, 1001).at(-4)).toMatchObject({ type: 'pointwise', outC: 1792 });
  });

  it('rejects a non-positive width multiplier', () => {
    expect(() => architectureShapes('v2', 0, 1001)).toThrow(/width multiplier/);
  });
});

describe('cost matches the papers', () => {
  // Published multiply-adds and parameters (Howard et al. 2017 tables 6-7; Sandler et al. 2018 table 4;
  // the TF-slim checkpoint table for v2 1.4 and 0.35).
  const cases = [
    { arch: 'v1', alpha: 1, resolution: 224, macs: 569e6, params: 4.2e6 },
    { arch: 'v1', alpha: 0.5, resolution: 160, macs: 76e6, params: 1.32e6 },
    { arch: 'v1', alpha: 0.25, resolution: 128, macs: 14e6, params: 0.47e6 },
    { arch: 'v2', alpha: 1, resolution: 224, macs: 300e6, params: 3.4e6 },
    { arch: 'v2', alpha: 1.4, resolution: 224, macs: 582e6, params: 6.06e6 },
    { arch: 'v2', alpha: 0.35, resolution: 96, macs: 11e6, params: 1.66e6 },
  ] as const;
  for (const c of cases) {
    it(`${c.arch} ${c.alpha} ${c.resolution}: ~${c.macs / 1e6}M MACs, ~${c.params / 1e6}M params`, () => {
      const plan = planModel(createRandomModel({ arch: c.arch, alpha: c.alpha, resolution: c.resolution }));
      const macs = total(plan.steps.map(stepMacs));
      const params = total(plan.steps.map(stepParams));
      expect(Math.abs(macs / c.macs - 1)).toBeLessThan(0.09);
      expect(Math.abs(params / c.params - 1)).toBeLessThan(0.06);
    });
  }
});
