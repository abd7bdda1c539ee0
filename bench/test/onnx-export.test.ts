// The ONNX exporter of the peer benchmark (bench/onnx-export.mjs) against our reference backend:
// ONNX Runtime must compute the same network, op for op and padding for padding, or the peer
// comparison would be between two different models.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { describeOnnx, nhwcToNchw, onnxOpCounts, planToOnnx } from '../onnx-export.mjs';
import type { Plan } from '../../src/engine/plan.js';
import { planModel } from '../../src/engine/planner.js';
import { runPlan } from '../../src/engine/reference/run.js';
import { createRandomModel, seededRandom } from '../../src/model/random-model.js';

interface OrtTensor { readonly data: Float32Array }
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}
const ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;

/** The plan without its final softmax: logits compare more sharply than saturated probabilities. */
function withoutSoftmax(plan: Plan): Plan {
  const steps = plan.steps.slice(0, -1);
  const last = steps[steps.length - 1];
  if (last.op !== 'fc') throw new Error('expected fc before softmax');
  return { ...plan, steps, output: last.output, outputSize: last.outC };
}

async function maxDiffAgainstOrt(plan: Plan, seed: number): Promise<number> {
  const random = seededRandom(seed);
  const { inputH: h, inputW: w, inputC: c } = plan;
  const input = Float32Array.from({ length: h * w * c }, () => random() * 2 - 1);
  const expected = runPlan(plan, input);
  const session = await ort.InferenceSession.create(planToOnnx(plan), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  try {
    const result = await session.run({ input: new ort.Tensor('float32', nhwcToNchw(input, h, w, c), [1, c, h, w]) });
    const actual = result.output.data;
    expect(actual.length).toBe(expected.length);
    let max = 0;
    for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
    return max;
  } finally {
    await session.release();
  }
}

describe('planToOnnx', () => {
  const cases = [
    // Odd sizes pad stride-2 convolutions on both sides, even ones only after: both must map right.
    { arch: 'v2', alpha: 0.35, resolution: 33 },
    { arch: 'v2', alpha: 0.35, resolution: 32 },
    { arch: 'v1', alpha: 0.25, resolution: 32 },
  ] as const;
  for (const options of cases) {
    const plan = planModel(createRandomModel({ ...options, seed: 5 }));
    const label = `${options.arch} α ${options.alpha} at ${options.resolution}`;

    it(`gives ONNX Runtime the same softmax as our reference backend (${label})`, async () => {
      expect(await maxDiffAgainstOrt(plan, 11)).toBeLessThanOrEqual(1e-4);
    });

    it(`gives ONNX Runtime the same logits as our reference backend (${label})`, async () => {
      expect(await maxDiffAgainstOrt(withoutSoftmax(plan), 12)).toBeLessThanOrEqual(1e-4);
    });
  }

  it('maps every bottleneck to its convolutions, clips and residual adds', () => {
    const plan = planModel(createRandomModel({ arch: 'v2', alpha: 0.35, resolution: 33 }));
    const counts = describeOnnx(plan);
    expect(counts).toEqual({ Conv: 52, Clip: 35, Add: 10, GlobalAveragePool: 1, Flatten: 1, Gemm: 1, Softmax: 1 });
    expect(onnxOpCounts(planToOnnx(plan))).toEqual(counts);
  });
});
