// Row-band fusion in the addon (native/ops/bottleneck.cc fuse_steps): a conv2d whose output only
// the next bottleneck (no expand, no residual) reads is computed by that bottleneck into its ring,
// row by row; the conv step itself does nothing. Checked against the TypeScript reference for
// every ISA and several thread counts, on fusable plans and on plans that must not be fused (the
// conv output read later or being the model's output, the bottleneck writing over the conv input).
import { describe, expect, it } from 'vitest';
import type { Plan, Step } from '../src/engine/plan.js';
import { loadAddon } from '../src/engine/native.js';
import { runPlan } from '../src/engine/reference/run.js';
import { randomArray, seededRandom } from '../src/model/random-model.js';
import { bottleneckStep, conv2dStep, pointwiseStep } from './helpers/random-plan.js';

const loaded = loadAddon();
if ('error' in loaded) throw loaded.error;
const { addon } = loaded;
const ISAS = addon.supportedIsas();
const TOLERANCE = 1e-4;

interface Shape {
  h: number; w: number; convStride: number; c: number; outC: number; stride: number;
}

/** conv 3x3 (3 -> c) then a bottleneck without expand (c -> outC), in two regions of the arena. */
function convBottleneck(a: Shape, seed: number): { plan: Plan; conv: Step; bneck: Step; sizes: number[] } {
  const conv = conv2dStep({ h: a.h, w: a.w, inC: 3, outC: a.c, stride: a.convStride, act: 2, seed, gain: 3 });
  const b = bottleneckStep({
    h: conv.outH, w: conv.outW, stride: a.stride, inC: a.c, expandC: null, outC: a.outC, residual: false,
    acts: [0, 2, 1], seed: seed + 1, gain: 2,
  });
  const inSize = a.h * a.w * 3;
  const convSize = conv.outH * conv.outW * a.c;
  const outSize = b.outH * b.outW * a.outC;
  const input = 5;
  const convOut = input + inSize + 3;
  const bOut = convOut + convSize + 7;
  const steps: Step[] = [{ ...conv, input, output: convOut } as Step, { ...b, input: convOut, output: bOut } as Step];
  return {
    plan: { inputH: a.h, inputW: a.w, inputC: 3, input, output: bOut, outputSize: outSize, arenaSize: bOut + outSize, steps },
    conv: steps[0],
    bneck: steps[1],
    sizes: [inSize, convSize, outSize],
  };
}

const SHAPES: Shape[] = [
  { h: 32, w: 32, convStride: 2, c: 32, outC: 16, stride: 1 }, // v2's stem + first block, small
  { h: 30, w: 27, convStride: 2, c: 32, outC: 64, stride: 2 }, // odd sizes, stride-2 block
  { h: 17, w: 40, convStride: 1, c: 24, outC: 33, stride: 1 }, // long rows, channel tails
  { h: 9, w: 7, convStride: 2, c: 5, outC: 3, stride: 2 },
  { h: 3, w: 2, convStride: 1, c: 17, outC: 8, stride: 1 },
];

async function expectMatches(plan: Plan, isa: string, threads: number, seed: number): Promise<number> {
  const input = randomArray(seededRandom(seed), plan.inputH * plan.inputW * plan.inputC, 1);
  const want = runPlan(plan, input);
  expect(want.some((v) => v !== 0)).toBe(true);
  const model = new addon.Model(plan, { isa, threads });
  try {
    // Two runs: the second must not see anything the first left in the arena or scratch.
    for (let run = 0; run < 2; run++) {
      const got = await model.run(input);
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
        worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
      }
      expect(worst, `run ${run}: max relative error`).toBeLessThanOrEqual(TOLERANCE);
    }
    return model.scratchBytes;
  } finally {
    model.dispose();
  }
}

describe.each(ISAS.flatMap((isa) => [1, 2, 3].map((threads) => ({ isa, threads }))))(
  'native conv2d + bottleneck fusion: isa $isa, threads $threads',
  ({ isa, threads }) => {
    it.each(SHAPES.map((s, i) => ({ ...s, i })))(
      'fused: $h x $w /$convStride -> $c, then /$stride -> $outC',
      async (s) => {
        const { plan } = convBottleneck(s, 10 + s.i);
        await expectMatches(plan, isa, threads, s.i);
      },
    );

    it('not fused when a later step reads the conv output', async () => {
      const { plan, conv, bneck, sizes } = convBottleneck(SHAPES[0], 20);
      const c = conv as Step & { outH: number; outW: number; outC: number };
      const pw = pointwiseStep({ h: c.outH, w: c.outW, inC: c.outC, outC: 4, act: 0, seed: 21 });
      const pwOut = bneck.output + sizes[2] + 2;
      const pwSize = c.outH * c.outW * 4;
      const steps = [...plan.steps, { ...pw, input: conv.output, output: pwOut } as Step];
      await expectMatches({ ...plan, steps, output: pwOut, outputSize: pwSize, arenaSize: pwOut + pwSize }, isa, threads, 1);
    });

    it('not fused when the conv output is the model output', async () => {
      const { plan, conv, sizes } = convBottleneck(SHAPES[1], 30);
      await expectMatches({ ...plan, output: conv.output, outputSize: sizes[1] }, isa, threads, 2);
    });

    it('not fused when the bottleneck writes over the conv input', async () => {
      const { plan, conv, bneck, sizes } = convBottleneck(SHAPES[2], 40);
      // Arena: [conv output][image][rest]; the bottleneck's output starts where the image does.
      const image = sizes[1] + 9;
      const steps = [
        { ...conv, input: image, output: 0 } as Step,
        { ...bneck, input: 0, output: image } as Step,
      ];
      const arenaSize = image + Math.max(sizes[0], sizes[2]);
      await expectMatches({ ...plan, input: image, output: image, steps, arenaSize }, isa, threads, 3);
    });
  },
);

describe('native conv2d + bottleneck fusion: planning', () => {
  it('keeps the conv rows in per-thread scratch only when fused', async () => {
    const { plan, conv, sizes } = convBottleneck(SHAPES[0], 50);
    const fused = await expectMatches(plan, ISAS[0], 1, 4);
    const unfused = await expectMatches({ ...plan, output: conv.output, outputSize: sizes[1] }, ISAS[0], 1, 4);
    // Fused: a ring of conv output rows (and the conv's im2col patch) next to the band buffer.
    expect(fused).toBeGreaterThan(unfused);
  });
});
