// Random single-op (and small multi-op) plans for the native kernel tests: seeded data in [-1, 1],
// weights scaled ~1/sqrt(fan-in) times an optional gain (so ReLU6 really clamps), TF SAME padding.
import type {
  ActCode, AvgPoolStep, BottleneckStep, Conv2dStep, ConvWeights, DepthwiseStep, FullyConnectedStep, Plan,
  PointwiseStep, SoftmaxStep, Step,
} from '../../src/engine/plan.js';
import { randomArray, seededRandom } from '../../src/model/random-model.js';

/** TensorFlow SAME: output size and the zero rows/columns before the input. */
export function same(inSize: number, kernel: number, stride: number): { out: number; pad: number } {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  return { out, pad: Math.floor(total / 2) };
}

type StepBody<S extends Step> = Omit<S, 'input' | 'output'>;

/** A plan with one step: input at 0, output right after it, arena = both. */
export function singleStepPlan(
  step: StepBody<Step>, input: [number, number, number], inSize: number, outSize: number,
): Plan {
  const full = { ...step, input: 0, output: inSize } as Step;
  return {
    inputH: input[0], inputW: input[1], inputC: input[2], input: 0,
    output: inSize, outputSize: outSize, arenaSize: inSize + outSize, steps: [full],
  };
}

function weights(rng: () => number, n: number, fanIn: number, gain: number): Float32Array {
  return randomArray(rng, n, gain / Math.sqrt(fanIn));
}

function convWeights(rng: () => number, outC: number, inC: number, act: ActCode, gain: number): ConvWeights {
  return { weights: weights(rng, outC * inC, inC, gain), bias: randomArray(rng, outC, 0.5), act };
}

export interface SpatialArgs {
  h: number; w: number; stride: number; act: ActCode; seed: number; gain?: number;
}

export function conv2dStep(a: SpatialArgs & { inC: number; outC: number; kernel?: number }): StepBody<Conv2dStep> {
  const rng = seededRandom(a.seed);
  const k = a.kernel ?? 3;
  const y = same(a.h, k, a.stride);
  const x = same(a.w, k, a.stride);
  return {
    op: 'conv2d', inH: a.h, inW: a.w, outH: y.out, outW: x.out, stride: a.stride, padTop: y.pad, padLeft: x.pad,
    kernel: k, inC: a.inC, outC: a.outC, act: a.act,
    weights: weights(rng, a.outC * k * k * a.inC, k * k * a.inC, a.gain ?? 1), bias: randomArray(rng, a.outC, 0.5),
  };
}

export function conv2dPlan(a: Parameters<typeof conv2dStep>[0]): Plan {
  const s = conv2dStep(a);
  return singleStepPlan(s, [s.inH, s.inW, s.inC], s.inH * s.inW * s.inC, s.outH * s.outW * s.outC);
}

export function depthwiseStep(a: SpatialArgs & { channels: number; kernel?: number }): StepBody<DepthwiseStep> {
  const rng = seededRandom(a.seed);
  const k = a.kernel ?? 3;
  const y = same(a.h, k, a.stride);
  const x = same(a.w, k, a.stride);
  return {
    op: 'depthwise', inH: a.h, inW: a.w, outH: y.out, outW: x.out, stride: a.stride, padTop: y.pad, padLeft: x.pad,
    kernel: k, channels: a.channels, act: a.act,
    weights: weights(rng, k * k * a.channels, k * k, a.gain ?? 1), bias: randomArray(rng, a.channels, 0.5),
  };
}

export function depthwisePlan(a: Parameters<typeof depthwiseStep>[0]): Plan {
  const s = depthwiseStep(a);
  return singleStepPlan(s, [s.inH, s.inW, s.channels], s.inH * s.inW * s.channels, s.outH * s.outW * s.channels);
}

export function pointwiseStep(
  a: { h: number; w: number; inC: number; outC: number; act: ActCode; seed: number; gain?: number },
): StepBody<PointwiseStep> {
  const rng = seededRandom(a.seed);
  return { op: 'pointwise', h: a.h, w: a.w, inC: a.inC, outC: a.outC, ...convWeights(rng, a.outC, a.inC, a.act, a.gain ?? 1) };
}

export function pointwisePlan(a: Parameters<typeof pointwiseStep>[0]): Plan {
  const s = pointwiseStep(a);
  return singleStepPlan(s, [s.h, s.w, s.inC], s.h * s.w * s.inC, s.h * s.w * s.outC);
}

export interface BottleneckArgs {
  h: number; w: number; stride: number; inC: number;
  /** null: no expansion conv (expandC = inC). */
  expandC: number | null;
  outC: number; residual: boolean;
  acts: [ActCode, ActCode, ActCode]; // expand, depthwise, project
  seed: number; gain?: number;
}

export function bottleneckStep(a: BottleneckArgs): StepBody<BottleneckStep> {
  const rng = seededRandom(a.seed);
  const g = a.gain ?? 1;
  const expandC = a.expandC ?? a.inC;
  const y = same(a.h, 3, a.stride);
  const x = same(a.w, 3, a.stride);
  return {
    op: 'bottleneck', inH: a.h, inW: a.w, outH: y.out, outW: x.out, stride: a.stride, padTop: y.pad, padLeft: x.pad,
    inC: a.inC, expandC, outC: a.outC, residual: a.residual,
    expand: a.expandC === null ? null : convWeights(rng, expandC, a.inC, a.acts[0], g),
    depthwise: { weights: weights(rng, 9 * expandC, 9, g), bias: randomArray(rng, expandC, 0.5), act: a.acts[1] },
    project: convWeights(rng, a.outC, expandC, a.acts[2], g),
  };
}

export function bottleneckPlan(a: BottleneckArgs): Plan {
  const s = bottleneckStep(a);
  return singleStepPlan(s, [s.inH, s.inW, s.inC], s.inH * s.inW * s.inC, s.outH * s.outW * s.outC);
}

export function avgpoolPlan(a: { h: number; w: number; channels: number }): Plan {
  const s: StepBody<AvgPoolStep> = { op: 'avgpool', h: a.h, w: a.w, channels: a.channels };
  return singleStepPlan(s, [a.h, a.w, a.channels], a.h * a.w * a.channels, a.channels);
}

export function fcStep(a: { inC: number; outC: number; seed: number }): StepBody<FullyConnectedStep> {
  const rng = seededRandom(a.seed);
  return { op: 'fc', inC: a.inC, outC: a.outC, weights: weights(rng, a.outC * a.inC, a.inC, 1), bias: randomArray(rng, a.outC, 0.5) };
}

export function fcPlan(a: { inC: number; outC: number; seed: number }): Plan {
  return singleStepPlan(fcStep(a), [1, 1, a.inC], a.inC, a.outC);
}

export function softmaxPlan(n: number): Plan {
  const s: StepBody<SoftmaxStep> = { op: 'softmax', n };
  return singleStepPlan(s, [1, 1, n], n, n);
}

/**
 * conv 3x3/2 → bottleneck (expand, stride 2) → bottleneck (residual) → pointwise → avgpool → fc
 * → softmax, with the tensors ping-ponging between two regions at odd offsets (not at 0).
 */
export function multiStepPlan(seed: number): Plan {
  const rng = () => seed++;
  const conv = conv2dStep({ h: 15, w: 13, inC: 3, outC: 16, stride: 2, act: 2, seed: rng(), gain: 3 }); // 8x7x16
  const b1 = bottleneckStep({
    h: 8, w: 7, stride: 2, inC: 16, expandC: 96, outC: 24, residual: false, acts: [2, 2, 0], seed: rng(), gain: 2,
  }); // 4x4x24
  const b2 = bottleneckStep({
    h: 4, w: 4, stride: 1, inC: 24, expandC: 144, outC: 24, residual: true, acts: [2, 2, 0], seed: rng(), gain: 2,
  });
  const pw = pointwiseStep({ h: 4, w: 4, inC: 24, outC: 40, act: 2, seed: rng(), gain: 2 });
  const fc = fcStep({ inC: 40, outC: 10, seed: rng() });
  // Region A at 37 (the largest tensor there is the pointwise output, 4*4*40 = 640), region B after.
  const A = 37;
  const B = A + 640 + 11;
  const steps: Step[] = [
    { ...conv, input: A, output: B } as Step, // 896 floats at B
    { ...b1, input: B, output: A } as Step, // 384 at A
    { ...b2, input: A, output: B } as Step, // 384 at B
    { ...pw, input: B, output: A } as Step, // 640 at A
    { op: 'avgpool', h: 4, w: 4, channels: 40, input: A, output: B },
    { ...fc, input: B, output: A } as Step,
    { op: 'softmax', n: 10, input: A, output: B + 5 },
  ];
  return {
    inputH: 15, inputW: 13, inputC: 3, input: A, output: B + 5, outputSize: 10,
    arenaSize: B + 8 * 7 * 16 + 3, steps,
  };
}
