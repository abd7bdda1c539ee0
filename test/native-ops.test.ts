// The C++ addon against the TypeScript reference (runPlan), op by op, for every ISA this CPU can
// run and for 1 and 2 threads, on awkward shapes (odd sizes, channel tails, both strides, all
// activations); plus the addon's error handling and concurrency contract.
import { describe, expect, it } from 'vitest';
import type { ActCode, Plan, PointwiseStep } from '../src/engine/plan.js';
import { loadAddon } from '../src/engine/native.js';
import { runPlan } from '../src/engine/reference/run.js';
import { randomArray, seededRandom } from '../src/model/random-model.js';
import {
  avgpoolPlan, bottleneckPlan, conv2dPlan, depthwisePlan, fcPlan, multiStepPlan, pointwisePlan,
  softmaxPlan, type BottleneckArgs,
} from './helpers/random-plan.js';

const loaded = loadAddon();
if ('error' in loaded) throw loaded.error;
const { addon } = loaded;
const ISAS = addon.supportedIsas();
const THREADS = [1, 2];
const TOLERANCE = 1e-4;

function inputFor(plan: Plan, seed: number, scale = 1): Float32Array {
  return randomArray(seededRandom(seed), plan.inputH * plan.inputW * plan.inputC, scale);
}

/** max |got - want| / max(1, |want|) must stay within TOLERANCE; NaN or a wrong length fails. */
function expectClose(got: Float32Array, want: Float32Array): void {
  expect(got).toBeInstanceOf(Float32Array);
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Infinity : err;
      at = i;
    }
  }
  expect(worst, `max relative error ${worst} at ${at}: got ${got[at]}, want ${want[at]}`).toBeLessThanOrEqual(TOLERANCE);
}

async function check(plan: Plan, isa: string, threads: number, seed = 1, inputScale = 1): Promise<void> {
  const input = inputFor(plan, seed, inputScale);
  const want = runPlan(plan, input);
  // A test whose reference output is all zeros could not notice a broken kernel.
  expect(want.some((v) => v !== 0)).toBe(true);
  const model = new addon.Model(plan, { isa, threads });
  try {
    expect(model.isa).toBe(isa);
    expect(model.threads).toBe(threads);
    expect(model.arenaBytes).toBe(plan.arenaSize * 4);
    expectClose(await model.run(input), want);
  } finally {
    model.dispose();
  }
}

/** ReLU6 only clamps from above when outputs exceed 6: scale those weights up. */
const gainFor = (act: ActCode) => (act === 2 ? 6 : 1);

const CONV_CASES = [
  { h: 7, w: 9, inC: 3, outC: 5, stride: 2, act: 0 },
  { h: 1, w: 1, inC: 3, outC: 17, stride: 2, act: 1 },
  { h: 2, w: 3, inC: 3, outC: 33, stride: 1, act: 2 },
  { h: 15, w: 13, inC: 3, outC: 47, stride: 2, act: 2 },
  { h: 16, w: 16, inC: 3, outC: 32, stride: 2, act: 1 },
  { h: 9, w: 7, inC: 5, outC: 96, stride: 1, act: 0 },
  { h: 8, w: 11, inC: 1, outC: 3, stride: 2, act: 1, kernel: 5 },
  { h: 6, w: 5, inC: 17, outC: 8, stride: 2, act: 0, kernel: 1 },
  // interior columns go through the indirect GEMM (input read in place), border ones through im2col
  { h: 17, w: 19, inC: 3, outC: 40, stride: 1, act: 2 },
  { h: 23, w: 21, inC: 5, outC: 17, stride: 2, act: 1 },
  { h: 24, w: 30, inC: 3, outC: 33, stride: 2, act: 0 },
  { h: 12, w: 31, inC: 3, outC: 70, stride: 2, act: 1, kernel: 5 },
  { h: 5, w: 40, inC: 2, outC: 7, stride: 1, act: 0, kernel: 5 },
] as const;

const DW_CASES = [
  { h: 7, w: 9, channels: 1, stride: 1, act: 0 },
  { h: 7, w: 9, channels: 5, stride: 2, act: 1 },
  { h: 1, w: 1, channels: 3, stride: 1, act: 2 },
  { h: 1, w: 1, channels: 47, stride: 2, act: 0 },
  { h: 2, w: 3, channels: 17, stride: 1, act: 1 },
  { h: 2, w: 3, channels: 33, stride: 2, act: 2 },
  { h: 15, w: 13, channels: 33, stride: 2, act: 0 },
  { h: 15, w: 13, channels: 47, stride: 1, act: 2 },
  { h: 8, w: 8, channels: 144, stride: 2, act: 2 },
  { h: 14, w: 14, channels: 96, stride: 1, act: 1 },
  { h: 6, w: 4, channels: 16, stride: 2, act: 0 },
  // rows of >= 16 outputs (the AVX-512 kernel's long-row order) with groups of 8, 4, 2 and 1
  { h: 5, w: 37, channels: 40, stride: 1, act: 2 },
  { h: 6, w: 38, channels: 64, stride: 2, act: 1 },
  { h: 3, w: 35, channels: 17, stride: 2, act: 0 },
  { h: 9, w: 6, channels: 7, stride: 1, act: 1, kernel: 5 },
] as const;

const PW_CASES = [
  { h: 7, w: 9, inC: 1, outC: 3, act: 0 },
  { h: 1, w: 1, inC: 5, outC: 17, act: 1 },
  { h: 2, w: 3, inC: 33, outC: 47, act: 2 },
  { h: 2, w: 3, inC: 96, outC: 144, act: 0 }, // few pixels: threads split output channels
  { h: 15, w: 13, inC: 96, outC: 144, act: 2 },
  { h: 4, w: 4, inC: 144, outC: 96, act: 1 },
  { h: 8, w: 8, inC: 17, outC: 33, act: 0 },
  { h: 30, w: 30, inC: 16, outC: 24, act: 1 }, // many pixels: threads split pixel tiles
  { h: 3, w: 5, inC: 1280, outC: 47, act: 0 },
] as const;

const BOTTLENECK_CASES: Omit<BottleneckArgs, 'seed'>[] = [
  { h: 7, w: 9, stride: 1, inC: 5, expandC: 17, outC: 5, residual: true, acts: [2, 2, 0] },
  { h: 7, w: 9, stride: 1, inC: 5, expandC: 17, outC: 5, residual: false, acts: [1, 1, 0] },
  { h: 15, w: 13, stride: 2, inC: 17, expandC: 96, outC: 33, residual: false, acts: [2, 2, 0] },
  { h: 8, w: 8, stride: 2, inC: 16, expandC: 96, outC: 24, residual: false, acts: [2, 2, 0] },
  { h: 2, w: 3, stride: 1, inC: 33, expandC: null, outC: 17, residual: false, acts: [0, 2, 0] },
  { h: 9, w: 7, stride: 1, inC: 32, expandC: null, outC: 32, residual: true, acts: [0, 1, 2] },
  { h: 6, w: 7, stride: 2, inC: 3, expandC: null, outC: 3, residual: false, acts: [0, 0, 1] },
  { h: 1, w: 1, stride: 1, inC: 47, expandC: 144, outC: 47, residual: true, acts: [2, 2, 0] },
  { h: 1, w: 1, stride: 2, inC: 5, expandC: 33, outC: 3, residual: false, acts: [0, 0, 0] },
  { h: 14, w: 14, stride: 1, inC: 24, expandC: 144, outC: 24, residual: true, acts: [2, 2, 0] },
  { h: 13, w: 11, stride: 1, inC: 24, expandC: 144, outC: 33, residual: false, acts: [1, 2, 2] },
  // big enough for several row bands per thread (ring buffer reuse and wrap-around, partial last band)
  { h: 28, w: 28, stride: 1, inC: 32, expandC: 192, outC: 32, residual: true, acts: [2, 2, 0] },
  { h: 56, w: 55, stride: 2, inC: 16, expandC: 96, outC: 24, residual: false, acts: [2, 2, 0] },
  { h: 40, w: 41, stride: 1, inC: 96, expandC: null, outC: 17, residual: false, acts: [0, 2, 1] },
  // small image, >= 128K weights: with several threads, whole-image phases through a shared buffer
  // (expand and project split by channel panels, plus pixel blocks when panels are too few)
  { h: 7, w: 5, stride: 1, inC: 40, expandC: 1000, outC: 97, residual: false, acts: [2, 2, 0] },
  { h: 9, w: 6, stride: 2, inC: 33, expandC: 700, outC: 190, residual: false, acts: [1, 2, 2] },
  { h: 6, w: 7, stride: 1, inC: 130, expandC: 530, outC: 130, residual: true, acts: [2, 2, 0] },
  { h: 5, w: 4, stride: 1, inC: 400, expandC: null, outC: 333, residual: false, acts: [0, 1, 1] },
  { h: 7, w: 7, stride: 2, inC: 380, expandC: null, outC: 350, residual: false, acts: [0, 2, 2] },
  { h: 1, w: 1, stride: 1, inC: 64, expandC: 1024, outC: 100, residual: false, acts: [2, 2, 0] },
];

/** Wide-mode cases (small image, large weights) from BOTTLENECK_CASES. */
const isWide = (c: Omit<BottleneckArgs, 'seed'>) =>
  c.h * c.w <= 49 && (c.expandC === null ? 0 : c.inC * c.expandC) + (c.expandC ?? c.inC) * c.outC >= 128 * 1024;

describe('native addon: supportedIsas', () => {
  it('lists usable ISAs best first, always ending with scalar', () => {
    expect(ISAS.length).toBeGreaterThan(0);
    expect(ISAS[ISAS.length - 1]).toBe('scalar');
    for (const isa of ISAS) expect(['avx512', 'avx2', 'neon', 'scalar']).toContain(isa);
    expect(new Set(ISAS).size).toBe(ISAS.length);
  });

  it('MOBILENET_ISA drops the better ISAs', () => {
    const saved = process.env.MOBILENET_ISA;
    try {
      process.env.MOBILENET_ISA = 'scalar';
      expect(addon.supportedIsas()).toEqual(['scalar']);
      process.env.MOBILENET_ISA = ISAS[ISAS.length - 2] ?? 'scalar';
      expect(addon.supportedIsas()).toEqual(ISAS.slice(-2).length === 2 ? ISAS.slice(-2) : ['scalar']);
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_ISA;
      else process.env.MOBILENET_ISA = saved;
    }
  });
});

describe.each(ISAS.flatMap((isa) => THREADS.map((threads) => ({ isa, threads }))))(
  'native ops vs reference: isa $isa, threads $threads',
  ({ isa, threads }) => {
    it.each(CONV_CASES.map((c, i) => ({ ...c, i })))(
      'conv2d $h x $w x $inC -> $outC, k ${kernel}, stride $stride, act $act',
      async (c) => {
        await check(conv2dPlan({ ...c, seed: 100 + c.i, gain: gainFor(c.act) }), isa, threads, c.i);
      },
    );

    it.each(DW_CASES.map((c, i) => ({ ...c, i })))(
      'depthwise $h x $w x $channels, k ${kernel}, stride $stride, act $act',
      async (c) => {
        await check(depthwisePlan({ ...c, seed: 200 + c.i, gain: gainFor(c.act) }), isa, threads, c.i);
      },
    );

    it.each(PW_CASES.map((c, i) => ({ ...c, i })))(
      'pointwise $h x $w, $inC -> $outC, act $act',
      async (c) => {
        await check(pointwisePlan({ ...c, seed: 300 + c.i, gain: gainFor(c.act) }), isa, threads, c.i);
      },
    );

    it.each(BOTTLENECK_CASES.map((c, i) => ({ ...c, i })))(
      'bottleneck $h x $w, $inC -> $expandC -> $outC, stride $stride, residual $residual, acts $acts',
      async (c) => {
        const gain = c.acts.includes(2) ? 3 : 1;
        await check(bottleneckPlan({ ...c, seed: 400 + c.i, gain }), isa, threads, c.i);
      },
    );

    it.each([
      { h: 7, w: 9, channels: 5 },
      { h: 1, w: 1, channels: 17 },
      { h: 15, w: 13, channels: 144 },
      { h: 7, w: 7, channels: 1280 },
    ])('avgpool $h x $w x $channels', async (c) => {
      await check(avgpoolPlan(c), isa, threads, c.channels);
    });

    it.each([
      { inC: 1, outC: 1 },
      { inC: 17, outC: 5 },
      { inC: 144, outC: 33 },
      { inC: 1280, outC: 1001 },
    ])('fc $inC -> $outC', async (c) => {
      await check(fcPlan({ ...c, seed: 500 + c.outC }), isa, threads, c.inC);
    });

    it.each([1, 5, 47, 1001])('softmax n=%i (large logits: needs max subtraction)', async (n) => {
      await check(softmaxPlan(n), isa, threads, n, 200);
    });

    it('multi-step plan: conv → bottlenecks → pointwise → avgpool → fc → softmax at odd offsets', async () => {
      const plan = multiStepPlan(7);
      await check(plan, isa, threads, 3);
      // the softmax output is not degenerate (one-hot) for this plan
      const out = runPlan(plan, inputFor(plan, 3));
      expect(Math.max(...out)).toBeLessThan(0.99);
    });
  },
);

// More threads than this CPU may have cores: chunks are stolen, threads run several chunks each
// (ring reuse across a thread's adjacent chunks, fresh ring for stolen ones), and the pool must
// still hand out every item exactly once.
describe.each([3, 5])('native dynamic split: threads %i', (threads) => {
  const isa = ISAS[0];
  it.each(BOTTLENECK_CASES.map((c, i) => ({ ...c, i })).filter((c) => c.h >= 13 || isWide(c)))(
    'bottleneck $h x $w, $inC -> $expandC -> $outC, stride $stride',
    async (c) => {
      const gain = c.acts.includes(2) ? 3 : 1;
      await check(bottleneckPlan({ ...c, seed: 400 + c.i, gain }), isa, threads, c.i);
    },
  );
  it('conv2d, pointwise (pixel and channel split), fc, multi-step plan', async () => {
    await check(conv2dPlan({ h: 61, w: 17, inC: 3, outC: 40, stride: 2, act: 1, seed: 7 }), isa, threads, 1);
    await check(pointwisePlan({ h: 30, w: 30, inC: 16, outC: 24, act: 1, seed: 8 }), isa, threads, 2);
    await check(pointwisePlan({ h: 2, w: 3, inC: 96, outC: 400, act: 0, seed: 9 }), isa, threads, 3);
    await check(fcPlan({ inC: 1280, outC: 1001, seed: 10 }), isa, threads, 4);
    for (let i = 0; i < 5; i++) await check(multiStepPlan(7), isa, threads, 5 + i);
  });
});

describe('native addon: contract', () => {
  const isa = ISAS[0];
  const small = () => bottleneckPlan({
    h: 9, w: 7, stride: 1, inC: 8, expandC: 48, outC: 8, residual: true, acts: [2, 2, 0], seed: 9,
  });

  it('defaults to the best ISA and one thread; reports arena and scratch sizes', () => {
    const plan = small();
    const m1 = new addon.Model(plan, {});
    const m2 = new addon.Model(plan, { threads: 2 });
    try {
      expect(m1.isa).toBe(isa);
      expect(m1.threads).toBe(1);
      expect(m1.arenaBytes).toBe(plan.arenaSize * 4);
      expect(m1.scratchBytes).toBeGreaterThan(0);
      expect(m2.scratchBytes).toBe(2 * m1.scratchBytes);
    } finally {
      m1.dispose();
      m2.dispose();
    }
  });

  it('keeps per-thread scratch of wide layers within the 256 KB band budget', () => {
    const plan = bottleneckPlan({
      h: 112, w: 112, stride: 2, inC: 16, expandC: 96, outC: 24, residual: false, acts: [2, 2, 0], seed: 3,
    });
    for (const threads of THREADS) {
      const model = new addon.Model(plan, { isa, threads });
      try {
        expect(model.scratchBytes).toBeGreaterThan(0);
        expect(model.scratchBytes / threads).toBeLessThanOrEqual(256 * 1024 + 64 * 2);
      } finally {
        model.dispose();
      }
    }
  });

  it('small images with large weights share one buffer across threads (wide mode)', () => {
    const plan = bottleneckPlan({
      h: 7, w: 7, stride: 1, inC: 160, expandC: 960, outC: 160, residual: true, acts: [2, 2, 0], seed: 4,
    });
    // expanded and depthwise tensors, and 4 KiB to place the latter clear of 4K aliasing
    const shared = (7 * 7 * 960 + 7 * 7 * 960 + 1024) * 4;
    for (const threads of [2, 3]) {
      const model = new addon.Model(plan, { isa, threads });
      try {
        expect(model.scratchBytes).toBe(shared);
      } finally {
        model.dispose();
      }
    }
    const one = new addon.Model(plan, { isa, threads: 1 });
    try {
      expect(one.scratchBytes).toBeLessThan(shared);
    } finally {
      one.dispose();
    }
  });

  it('throws a TypeError on input of the wrong length or type', () => {
    const plan = small();
    const model = new addon.Model(plan, { isa });
    try {
      const n = plan.inputH * plan.inputW * plan.inputC;
      expect(() => model.run(new Float32Array(n + 1))).toThrow(TypeError);
      expect(() => model.run(new Float32Array(n - 1))).toThrow(TypeError);
      expect(() => model.run(new Float32Array(0))).toThrow(TypeError);
      expect(() => model.run(new Float64Array(n) as unknown as Float32Array)).toThrow(TypeError);
    } finally {
      model.dispose();
    }
  });

  it('rejects a plan whose weights are too short, naming the step (no crash)', () => {
    const plan = multiStepPlan(7);
    const step = plan.steps[3] as PointwiseStep;
    step.weights = step.weights.subarray(1);
    expect(() => new addon.Model(plan, { isa })).toThrow(/step 3/);

    const b = small();
    const bs = b.steps[0];
    if (bs.op !== 'bottleneck') throw new Error('unexpected');
    bs.project = { ...bs.project, bias: bs.project.bias.subarray(0, 3) };
    expect(() => new addon.Model(b, { isa })).toThrow(/step 0/);

    const e = small();
    const es = e.steps[0];
    if (es.op !== 'bottleneck' || !es.expand) throw new Error('unexpected');
    es.expand = { ...es.expand, weights: new Float32Array(5) };
    expect(() => new addon.Model(e, { isa })).toThrow(/step 0/);
  });

  it('rejects plans that do not fit the arena or are malformed', () => {
    const tooSmall = small();
    tooSmall.arenaSize -= 1;
    expect(() => new addon.Model(tooSmall, { isa })).toThrow(/arena/);

    const badOffset = multiStepPlan(7);
    badOffset.steps[4] = { ...badOffset.steps[4], output: badOffset.arenaSize - 2 };
    expect(() => new addon.Model(badOffset, { isa })).toThrow(/step 4/);

    const overlap = small();
    overlap.steps[0] = { ...overlap.steps[0], output: 1 };
    expect(() => new addon.Model(overlap, { isa })).toThrow(/step 0/);

    const unknownOp = small();
    unknownOp.steps[0] = { ...unknownOp.steps[0], op: 'maxpool' } as unknown as Plan['steps'][number];
    expect(() => new addon.Model(unknownOp, { isa })).toThrow(/step 0/);

    const missing = small();
    missing.steps = [{ op: 'conv2d', input: 0, output: 10 } as unknown as Plan['steps'][number]];
    expect(() => new addon.Model(missing, { isa })).toThrow(/step 0/);

    const badAct = pointwisePlan({ h: 2, w: 2, inC: 3, outC: 4, act: 0, seed: 1 });
    (badAct.steps[0] as { act: number }).act = 7;
    expect(() => new addon.Model(badAct, { isa })).toThrow(/act/);

    expect(() => new addon.Model(null as unknown as Plan)).toThrow(TypeError);
    expect(() => new addon.Model(small(), { threads: 0 })).toThrow(TypeError);
  });

  it('throws on unknown or unsupported isa names, listing the valid ones', () => {
    expect(() => new addon.Model(small(), { isa: 'sse9' })).toThrow(`unknown isa 'sse9' (valid: ${ISAS.join(', ')})`);
    const unsupported = ['avx512', 'avx2', 'neon'].find((name) => !ISAS.includes(name));
    if (unsupported) expect(() => new addon.Model(small(), { isa: unsupported })).toThrow(/not supported/);
  });

  it('serialises concurrent run() calls on one model, each with its own answer', async () => {
    const plan = multiStepPlan(11);
    for (const threads of THREADS) {
      const model = new addon.Model(plan, { isa, threads });
      try {
        const inputs = [1, 2, 3, 4].map((seed) => inputFor(plan, seed));
        const outputs = await Promise.all(inputs.map((input) => model.run(input)));
        outputs.forEach((out, i) => expectClose(out, runPlan(plan, inputs[i])));
        expect(outputs[0]).not.toEqual(outputs[1]);
      } finally {
        model.dispose();
      }
    }
  });

  it('returns a fresh output array per run and rejects use after dispose', async () => {
    const plan = small();
    const model = new addon.Model(plan, { isa });
    const input = inputFor(plan, 1);
    const a = await model.run(input);
    const b = await model.run(input);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
    // dispose() lets a run already under way finish (it keeps what it needs) and rejects a queued
    // one: which of the two this run is depends on timing (see native-robustness.test.ts).
    const pending = model.run(input).then((out) => out, (error: Error) => error);
    model.dispose();
    const settled = await pending;
    if (settled instanceof Error) expect(settled.message).toMatch(/model disposed/);
    else expectClose(settled, runPlan(plan, input));
    expect(() => model.run(input)).toThrow(/disposed/);
  });
});
