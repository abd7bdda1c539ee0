// The native int8 kernels (native/ops/qs8, addon.QuantModel through createNativeInt8Backend) against
// the TypeScript integer reference (src/engine/int8/ops.ts), byte for byte: every op on awkward
// shapes and quantizations (test/helpers/random-qplan.ts: uint8-style weight zero points, int8
// per-channel multipliers, extreme zero points and shifts, accumulators that wrap), whole v1-like
// and v2-like chains with every intermediate tensor compared, for every int8 ISA this CPU runs and
// for 1 and 2 threads, in both requantization schemes (TFLite's fixed point; XNNPACK's float32 scales,
// test/helpers/random-xnnplan.ts); then plan validation, arguments, the ISA cap and the native
// object's contract.
import { describe, expect, it } from 'vitest';
import type { QPlan, QStep } from '../src/engine/int8/plan.js';
import { createNativeInt8Backend } from '../src/engine/int8/native-backend.js';
import { loadAddon } from '../src/engine/native.js';
import { runQPlanReference } from './helpers/qplan-reference.js';
import { xnnpackPlan } from './helpers/random-xnnplan.js';
import {
  chainPlan, planInput, qavgpoolStep, qbottleneckStep, qconv2dStep, qdepthwiseStep, qfcStep, qmeanStep, qpointwiseStep,
  qsoftmaxStep, singleStepPlan, v1LikePlan, v2LikePlan, type QBottleneckArgs, type QStepBody, type QuantStyle,
} from './helpers/random-qplan.js';

const loaded = loadAddon();
if ('error' in loaded) throw loaded.error;
const { addon } = loaded;
const ISAS = addon.supportedIsas('int8');
const THREADS = [1, 2];
const STYLES: QuantStyle[] = ['uint8', 'int8', 'extreme'];
const SCHEMES = ['tflite', 'xnnpack'] as const;
type Scheme = (typeof SCHEMES)[number];

/** The plan in `scheme` (random-qplan's plans are TFLite's). */
const inScheme = (plan: QPlan, scheme: Scheme, seed: number) => (scheme === 'xnnpack' ? xnnpackPlan(plan, seed) : plan);

/** The first differing byte, or null. */
function firstDifference(got: Int8Array, want: Int8Array): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return `byte ${i} is ${got[i]}, expected ${want[i]}`;
  return null;
}

async function expectSame(plan: QPlan, isa: string, threads: number, seed = 1): Promise<void> {
  const input = planInput(plan, seed);
  const want = runQPlanReference(plan, input);
  const backend = createNativeInt8Backend(plan, { isa, threads });
  try {
    expect(backend.name).toBe('native');
    expect(backend.isa).toBe(isa);
    expect(backend.threads).toBe(threads);
    const got = await backend.run(input);
    expect(got).toBeInstanceOf(Int8Array);
    expect(firstDifference(got, want)).toBeNull();
  } finally {
    backend.dispose();
  }
}

/**
 * A single-op case in each quantization style (seeded by the case, so each style's data differs).
 * An output of one repeated value could not show a broken kernel: the realistic styles must vary
 * (the extreme one saturates on purpose).
 */
async function expectOp(
  make: (style: QuantStyle, seed: number) => QStepBody, isa: string, threads: number, index: number, scheme: Scheme,
) {
  for (const [s, style] of STYLES.entries()) {
    const seed = 100 * index + s + 1;
    const plan = inScheme(singleStepPlan(make(style, seed)), scheme, seed);
    expect(plan.rounding).toBe(scheme);
    const want = runQPlanReference(plan, planInput(plan, 1));
    if (style !== 'extreme' && want.length > 1) expect(new Set(want).size, `${style}: a constant reference output`).toBeGreaterThan(1);
    await expectSame(plan, isa, threads);
  }
}

const CONV_CASES = [
  { h: 7, w: 9, inC: 3, outC: 5, stride: 2 },
  { h: 1, w: 1, inC: 3, outC: 17, stride: 2 },
  { h: 2, w: 3, inC: 3, outC: 33, stride: 1 },
  { h: 15, w: 13, inC: 3, outC: 47, stride: 2 },
  { h: 16, w: 16, inC: 3, outC: 32, stride: 2 },
  { h: 9, w: 7, inC: 5, outC: 96, stride: 1 },
  { h: 8, w: 11, inC: 1, outC: 3, stride: 2, kernel: 5 },
  { h: 6, w: 5, inC: 17, outC: 8, stride: 2, kernel: 1 },
  { h: 23, w: 21, inC: 5, outC: 17, stride: 2 },
  { h: 24, w: 30, inC: 3, outC: 65, stride: 2 },
] as const;

const DW_CASES = [
  { h: 7, w: 9, channels: 1, stride: 1 },
  { h: 7, w: 9, channels: 5, stride: 2 },
  { h: 1, w: 1, channels: 3, stride: 1 },
  { h: 1, w: 1, channels: 47, stride: 2 },
  { h: 2, w: 3, channels: 17, stride: 1 },
  { h: 2, w: 3, channels: 33, stride: 2 },
  { h: 15, w: 13, channels: 33, stride: 2 },
  { h: 15, w: 13, channels: 47, stride: 1 },
  { h: 8, w: 8, channels: 144, stride: 2 },
  { h: 14, w: 14, channels: 96, stride: 1 },
  { h: 5, w: 6, channels: 64, stride: 1 },
  { h: 3, w: 70, channels: 65, stride: 2 },
  { h: 9, w: 6, channels: 7, stride: 1, kernel: 5 },
  { h: 4, w: 4, channels: 9, stride: 2, kernel: 1 },
] as const;

const PW_CASES = [
  { h: 7, w: 9, inC: 1, outC: 3 },
  { h: 1, w: 1, inC: 5, outC: 17 },
  { h: 2, w: 3, inC: 33, outC: 47 },
  { h: 2, w: 3, inC: 96, outC: 144 }, // few pixels: threads split output channels
  { h: 15, w: 13, inC: 96, outC: 144 },
  { h: 4, w: 4, inC: 144, outC: 96 },
  { h: 8, w: 8, inC: 17, outC: 33 },
  { h: 30, w: 30, inC: 16, outC: 24 }, // many pixels: threads split pixel tiles
  { h: 3, w: 5, inC: 1280, outC: 47 },
  { h: 1, w: 3, inC: 320, outC: 1280 },
] as const;

const FC_CASES = [
  { inC: 1, outC: 1 },
  { inC: 17, outC: 3 },
  { inC: 64, outC: 65 },
  { inC: 1280, outC: 1001 },
] as const;

const BOTTLENECK_CASES: Array<Omit<QBottleneckArgs, 'seed' | 'style'>> = [
  { h: 7, w: 9, stride: 1, inC: 5, expandC: 17, outC: 5, residual: true },
  { h: 7, w: 9, stride: 1, inC: 5, expandC: 17, outC: 5, residual: false },
  { h: 15, w: 13, stride: 2, inC: 17, expandC: 96, outC: 33, residual: false },
  { h: 8, w: 8, stride: 2, inC: 16, expandC: 96, outC: 24, residual: false },
  { h: 2, w: 3, stride: 1, inC: 33, expandC: null, outC: 17, residual: false },
  { h: 9, w: 7, stride: 1, inC: 32, expandC: null, outC: 32, residual: true },
  { h: 6, w: 7, stride: 2, inC: 3, expandC: null, outC: 3, residual: false },
  { h: 1, w: 1, stride: 1, inC: 47, expandC: 144, outC: 47, residual: true },
  { h: 1, w: 1, stride: 2, inC: 5, expandC: 33, outC: 3, residual: false },
  { h: 14, w: 14, stride: 1, inC: 24, expandC: 144, outC: 24, residual: true },
  { h: 13, w: 11, stride: 1, inC: 24, expandC: 144, outC: 33, residual: false },
  // several row bands per thread: the ring of built rows reused, wrapping, a partial last band
  { h: 28, w: 28, stride: 1, inC: 32, expandC: 192, outC: 32, residual: true },
  { h: 56, w: 55, stride: 2, inC: 16, expandC: 96, outC: 24, residual: false },
  { h: 40, w: 41, stride: 1, inC: 96, expandC: null, outC: 17, residual: false },
  { h: 7, w: 7, stride: 1, inC: 160, expandC: 960, outC: 160, residual: true },
  // at most 7x7 outputs with 2 threads: wide mode (GEMMs split by panels, 5 and 3 of them: uneven)
  { h: 14, w: 13, stride: 2, inC: 24, expandC: 80, outC: 40, residual: false },
  { h: 5, w: 6, stride: 1, inC: 40, expandC: 72, outC: 40, residual: true },
];

describe('supportedIsas("int8")', () => {
  it('lists the int8 kernel tables usable here, best first, ending with scalar', () => {
    expect(ISAS[ISAS.length - 1]).toBe('scalar');
    for (const isa of ISAS) expect(['avx512vnni', 'avx2', 'neon-dot', 'neon', 'scalar']).toContain(isa);
    expect(new Set(ISAS).size).toBe(ISAS.length);
    expect(() => addon.supportedIsas('float16' as 'int8')).toThrow(TypeError);
  });
});

describe.each(ISAS.flatMap((isa) => THREADS.flatMap((threads) => SCHEMES.map((scheme) => ({ isa, threads, scheme })))))(
  'native int8 ops vs ops.ts: isa $isa, threads $threads, rounding $scheme',
  ({ isa, threads, scheme }) => {
    it.each(CONV_CASES.map((c, i) => ({ ...c, i })))('conv2d $h x $w x $inC -> $outC, stride $stride', async (c) => {
      await expectOp((style, seed) => qconv2dStep({ ...c, seed, style }), isa, threads, c.i, scheme);
    });

    it.each(DW_CASES.map((c, i) => ({ ...c, i })))('depthwise $h x $w x $channels, stride $stride', async (c) => {
      await expectOp((style, seed) => qdepthwiseStep({ ...c, seed, style }), isa, threads, c.i, scheme);
    });

    it.each(PW_CASES.map((c, i) => ({ ...c, i })))('pointwise $h x $w x $inC -> $outC', async (c) => {
      await expectOp((style, seed) => qpointwiseStep({ ...c, seed, style }), isa, threads, c.i, scheme);
    });

    it.each(FC_CASES.map((c, i) => ({ ...c, i })))('fc $inC -> $outC', async (c) => {
      await expectOp((style, seed) => qfcStep({ ...c, seed, style }), isa, threads, c.i, scheme);
    });

    it.each(BOTTLENECK_CASES.map((c, i) => ({ ...c, i })))(
      'bottleneck $h x $w x $inC -> $expandC -> $outC, stride $stride, residual $residual',
      async (c) => {
        await expectOp((style, seed) => qbottleneckStep({ ...c, seed, style }), isa, threads, c.i, scheme);
      },
    );

    it('avgpool (uint8 rounds the raw sum half up, int8 half away from zero) and mean', async () => {
      const cases = [[1, 1, 5], [4, 4, 17], [7, 7, 33], [3, 5, 64], [2, 2, 1]] as const;
      for (const [i, [h, w, channels]] of cases.entries()) {
        for (const type of ['uint8', 'int8'] as const) {
          await expectSame(inScheme(singleStepPlan(qavgpoolStep({ h, w, channels, type, seed: i + 1 })), scheme, i), isa, threads);
        }
        for (const style of STYLES) {
          await expectSame(inScheme(singleStepPlan(qmeanStep({ h, w, channels, seed: i + 7, style })), scheme, i + 7), isa, threads);
        }
      }
    });

    it('softmax (the reference fixed-point kernel)', async () => {
      // large scales: many inputs below diff_min (skipped), the rest repeating values (one exp per value)
      for (const [n, scale] of [[1, 0.1], [5, 0.3], [40, 0.05], [1001, 0.12], [300, 1.5], [500, 0.9]] as const) {
        const plan = inScheme(chainPlan([qfcStep({ inC: 33, outC: n, seed: n, style: 'int8' }), qsoftmaxStep({ n, scale })]), scheme, n);
        await expectSame(plan, isa, threads);
      }
    });

    for (const style of ['uint8', 'int8'] as const) {
      for (const [kind, make] of [['v1', v1LikePlan], ['v2', v2LikePlan]] as const) {
        it(`a ${kind}-like chain (${style}): every intermediate tensor`, async () => {
          const plan = inScheme(make({ seed: kind === 'v1' ? 11 : 12, style, size: 35, alpha: kind === 'v1' ? 0.25 : 0.35 }), scheme, 21);
          await expectSame(plan, isa, threads, 3);
          for (let end = 1; end < plan.steps.length; end++) {
            const prefix = chainPlan(plan.steps.slice(0, end).map(withoutPlacement));
            await expectSame({ ...prefix, rounding: plan.rounding }, isa, threads, 3);
          }
        });
      }
    }
  },
);

function withoutPlacement(step: QStep): QStepBody {
  const { input: _input, output: _output, ...body } = step;
  return body as QStepBody;
}

describe('native int8: runs, profiles, memory', () => {
  const plan = v2LikePlan({ seed: 5, style: 'uint8', size: 33, alpha: 0.35 });
  const input = planInput(plan, 2);

  it('profile() gives one non-negative time per step; run() is repeatable; activation bytes are arena + scratch', async () => {
    const backend = createNativeInt8Backend(plan, { threads: 2 });
    const model = new addon.QuantModel!(plan, { threads: 2 });
    try {
      const times = await backend.profile(input);
      expect(times).toBeInstanceOf(Float64Array);
      expect(times.length).toBe(plan.steps.length);
      for (const t of times) expect(t).toBeGreaterThanOrEqual(0);
      const want = runQPlanReference(plan, input);
      const [a, b] = await Promise.all([backend.run(input), backend.run(input)]);
      expect(firstDifference(a, want)).toBeNull();
      expect(firstDifference(b, want)).toBeNull();
      expect(model.arenaBytes).toBe(plan.arenaBytes);
      expect(model.scratchBytes).toBeGreaterThan(0);
      expect(backend.activationBytes).toBe(model.arenaBytes + model.scratchBytes);
      expect(backend.isa).toBe(ISAS[0]);
    } finally {
      backend.dispose();
      model.dispose();
    }
  });

  it('more threads than cores or rows: the same bytes', async () => {
    await expectSame(plan, ISAS[0]!, 3, 4);
    await expectSame(singleStepPlan(qbottleneckStep({ h: 3, w: 5, stride: 1, inC: 8, expandC: 48, outC: 8, residual: true, seed: 9, style: 'uint8' })), ISAS[0]!, 8);
  });

  it('a softmax whose exps sum to 512 or more rejects the run (TFLite aborts, ops.ts throws)', async () => {
    const flat = chainPlan([qsoftmaxStep({ n: 1001, scale: 1e-4 })]);
    const logits = new Int8Array(1001).fill(3);
    expect(() => runQPlanReference(flat, logits)).toThrow(/softmax: exponent out of range/);
    const backend = createNativeInt8Backend(flat, {});
    try {
      await expect(backend.run(logits)).rejects.toThrow(/inference failed: softmax: the exps sum to 512 or more/);
    } finally {
      backend.dispose();
    }
  });

  it('bad inputs reject with a TypeError; a disposed model rejects', async () => {
    const backend = createNativeInt8Backend(plan, { isa: 'scalar' });
    await expect(backend.run(new Int8Array(5))).rejects.toThrow(/input has 5 values, expected 3267/);
    await expect(backend.run(new Float32Array(3267) as unknown as Int8Array)).rejects.toThrow(/must be an Int8Array/);
    backend.dispose();
    await expect(backend.run(input)).rejects.toThrow(/disposed/);
  });
});

describe('native int8: invalid plans are errors naming the step', () => {
  const base = () => chainPlan([qpointwiseStep({ h: 2, w: 2, inC: 3, outC: 4, seed: 1, style: 'uint8' })]);
  const pw = (plan: QPlan) => plan.steps[0] as Extract<QStep, { op: 'pointwise' }>;
  const fails = (plan: QPlan, message: RegExp | string) => expect(() => createNativeInt8Backend(plan, { isa: 'scalar' })).toThrow(message);

  it('values the integer kernels do not take', () => {
    let plan = base();
    pw(plan).requant.multiplier[2] = -5;
    fails(plan, 'invalid plan: step 0 (pointwise) requant: multiplier 2 is -5 (must be in [0, 2^31))');
    plan = base();
    pw(plan).requant.shift[0] = 32;
    fails(plan, 'step 0 (pointwise) requant: shift 0 is 32 (must be in [-31, 31])');
    plan = base();
    pw(plan).inputZeroPoint = 128;
    fails(plan, "step 0 (pointwise): 'inputZeroPoint' must be an integer in [-128, 127] (got 128)");
    plan = base();
    pw(plan).requant.actMin = 10;
    pw(plan).requant.actMax = 9;
    fails(plan, 'step 0 (pointwise) requant: actMin > actMax');
  });

  it('arrays of the wrong type or size', () => {
    let plan = base();
    pw(plan).weights = new Int8Array(11);
    fails(plan, "step 0 (pointwise): 'weights' has 11 values, expected 12");
    plan = base();
    (pw(plan) as unknown as { bias: Float32Array }).bias = new Float32Array(4);
    fails(plan, "step 0 (pointwise): 'bias' must be an Int32Array");
    plan = base();
    pw(plan).requant.multiplier = new Int32Array(3);
    fails(plan, "step 0 (pointwise) requant: 'multiplier' has 3 values, expected 4");
  });

  it('shapes and placement', () => {
    let plan = base();
    (plan as { dtype: string }).dtype = 'float32';
    fails(plan, "invalid plan: plan: 'dtype' must be 'int8'");
    plan = base();
    plan.steps[0]!.output = plan.steps[0]!.input + 2;
    fails(plan, 'step 0 (pointwise): output overlaps input');
    plan = base();
    plan.arenaBytes = plan.steps[0]!.output + 10;
    fails(plan, /invalid plan: plan: output \[\d+, \d+\) exceeds arenaBytes \d+/);
    plan = base();
    plan.steps[0]!.input = plan.arenaBytes - 5;
    fails(plan, /invalid plan: step 0 \(pointwise\): input \[\d+, \d+\) exceeds arenaBytes \d+/);
    plan = base();
    (plan.steps[0] as { op: string }).op = 'gelu';
    fails(plan, 'step 0 (gelu): unknown op');
    plan = base();
    plan.arenaBytes = 2 ** 31 - 1;
    fails(plan, /arenaBytes 2147483647 \(2\.00 GiB\) exceeds the 1 GiB limit on activation memory/);
  });

  it('a bottleneck whose parts do not fit together, or a residual across a stride', () => {
    const make = () => chainPlan([qbottleneckStep({ h: 5, w: 5, stride: 1, inC: 4, expandC: 8, outC: 4, residual: true, seed: 1, style: 'int8' })]);
    let plan = make();
    const b = () => plan.steps[0] as Extract<QStep, { op: 'bottleneck' }>;
    b().expand!.outC = 9;
    fails(plan, "step 0 (bottleneck expand): outC must be the depthwise's channels");
    plan = make();
    b().project.inC = 7;
    fails(plan, "step 0 (bottleneck project): inC must be the depthwise's channels");
    plan = make();
    b().depthwise.kernel = 5;
    fails(plan, "step 0 (bottleneck depthwise): 'kernel' must be 3 in a bottleneck");
    plan = make();
    b().depthwise.stride = 2;
    b().depthwise.outH = b().depthwise.outW = 3;
    b().project.h = b().project.w = 3;
    fails(plan, 'step 0 (bottleneck residual): a residual needs stride 1 and identical input and output shapes');
  });

  it('sizes that would overflow', () => {
    const plan = base();
    pw(plan).h = 2 ** 30;
    pw(plan).w = 2 ** 30;
    fails(plan, 'step 0 (pointwise): tensor too large');
  });
});

describe('native int8: instruction set selection', () => {
  const withIsaEnv = <T>(value: string, f: () => T): T => {
    const saved = process.env.MOBILENET_ISA;
    process.env.MOBILENET_ISA = value;
    try {
      return f();
    } finally {
      if (saved === undefined) delete process.env.MOBILENET_ISA;
      else process.env.MOBILENET_ISA = saved;
    }
  };
  const plan = singleStepPlan(qsoftmaxStep({ n: 3, scale: 0.1 }));

  it('an unknown or fp32-only isa option is an error listing the int8 ones', () => {
    expect(() => createNativeInt8Backend(plan, { isa: 'bogus' })).toThrow(`unknown isa 'bogus' (valid: ${ISAS.join(', ')})`);
    expect(() => createNativeInt8Backend(plan, { isa: 'avx512' })).toThrow(`unknown isa 'avx512' (valid: ${ISAS.join(', ')})`);
  });

  it('MOBILENET_ISA caps the int8 tables too (avx512 leaves int8 on avx2; scalar on scalar)', () => {
    withIsaEnv('scalar', () => {
      expect(addon.supportedIsas('int8')).toEqual(['scalar']);
      expect(createNativeInt8Backend(plan, {}).isa).toBe('scalar');
      if (ISAS.length > 1) {
        expect(() => createNativeInt8Backend(plan, { isa: ISAS[0] }))
          .toThrow(`isa '${ISAS[0]}' is disabled by MOBILENET_ISA=scalar (valid: scalar)`);
      }
    });
    if (ISAS.includes('avx512vnni') && ISAS.includes('avx2')) {
      withIsaEnv('avx512', () => expect(addon.supportedIsas('int8')).toEqual(['avx2', 'scalar']));
      withIsaEnv('avx512vnni', () => expect(addon.supportedIsas()).toContain('avx512'));
    }
    withIsaEnv('bogus', () => expect(() => createNativeInt8Backend(plan, {})).toThrow(/MOBILENET_ISA='bogus' is not a known instruction set/));
  });
});
