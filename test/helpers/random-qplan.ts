// Random integer plans (src/engine/int8/plan.ts QPlan) for the native int8 kernel tests: single
// steps on awkward shapes and quantizations, and whole v1-like / v2-like chains placed in a byte
// arena the way plan.ts says (each step's output apart from its input, offsets at odd bytes).
//
// Quantization styles:
//   'uint8'   TF1 files: one multiplier per tensor, weight zero points anywhere in [-128, 127];
//   'int8'    TF2 files: symmetric weights (zero point 0), one multiplier per output channel;
//   'extreme' zero points at -128 / 127, multipliers from tiny to > 1 (shifts from about -31 to
//             +12, some exactly 0), biases near the int32 limits (the accumulator wraps around).
// Multipliers are otherwise chosen from the accumulator's spread so that outputs cover the int8
// range rather than all clamping: a test that only sees -128 and 127 could not notice a bug.
import type {
  QAvgPoolStep, QBottleneckStep, QConv2dStep, QDepthwiseStep, QFullyConnectedStep, QMeanStep, QPlan,
  QPointwiseStep, QSoftmaxStep, QStep,
} from '../../src/engine/int8/plan.js';
import type { QDepthwise, QPointwise } from '../../src/engine/int8/ops.js';
import type { AddParams, MeanParams, OutputStage } from '../../src/engine/int8/params.js';
import { addParams, meanParams, softmaxParams } from '../../src/engine/int8/params.js';
import { quantizeMultiplier, type QuantType } from '../../src/engine/int8/quantize.js';
import { seededRandom } from '../../src/model/random-model.js';
import { same } from './random-plan.js';

export type QuantStyle = 'uint8' | 'int8' | 'extreme';
type Rng = () => number;
/** A step without its placement in the arena. */
export type QStepBody<S extends QStep = QStep> = S extends QStep ? Omit<S, 'input' | 'output'> : never;
type Body<S extends QStep> = QStepBody<S>;

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, values: readonly T[]): T => values[Math.floor(rng() * values.length)]!;

/** A zero point of the style: anywhere, or mostly the extremes. */
function zeroPoint(rng: Rng, style: QuantStyle): number {
  return style === 'extreme' && rng() < 0.7 ? pick(rng, [-128, 127]) : int(rng, -128, 127);
}

export function randomInt8(rng: Rng, n: number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(rng, -128, 127);
  return out;
}

/** Mean square of (v − zp) for v uniform on [-128, 127]. */
const spread = (zp: number) => 5461.25 + (zp + 0.5) ** 2;

/**
 * Mean square of (x − x_zp) of a tensor another random step wrote: values about ±45 around its
 * zero point, half of them clamped there by a ReLU.
 */
export const CHAIN_SPREAD = 1000;

/**
 * Weights, their zero point and the bias of a conv-like op (n outputs of fanIn taps). inputSpread:
 * the mean square of (x − x_zp) (default: x uniform on the int8 range).
 */
function convWeights(rng: Rng, style: QuantStyle, n: number, fanIn: number, inputZero: number, inputSpread = spread(inputZero)) {
  const weightZeroPoint = style === 'int8' ? 0 : zeroPoint(rng, style);
  let weights: Int8Array;
  let weightSpread: number;
  if (style === 'uint8') {
    // As in the TF1 files: weights spread about their zero point (±90, clipped to the range).
    weights = new Int8Array(n * fanIn);
    for (let i = 0; i < weights.length; i++) {
      weights[i] = Math.max(-128, Math.min(127, weightZeroPoint + Math.round((rng() + rng() - 1) * 90)));
    }
    weightSpread = 1350;
  } else {
    weights = randomInt8(rng, n * fanIn);
    weightSpread = spread(weightZeroPoint);
  }
  const accSpread = Math.sqrt(fanIn * weightSpread * inputSpread);
  const bias = new Int32Array(n);
  for (let c = 0; c < n; c++) {
    bias[c] = Math.round((rng() * 2 - 1) * accSpread);
    if (style === 'extreme' && rng() < 0.15) bias[c] = pick(rng, [2 ** 31 - 1 - int(rng, 0, 1000), -(2 ** 31) + int(rng, 0, 1000)]);
  }
  return { weights, weightZeroPoint, bias, accSpread };
}

/** Requantization of n channels whose accumulators spread about accSpread. */
export function outputStage(rng: Rng, style: QuantStyle, n: number, accSpread: number, relu = rng() < 0.5): OutputStage {
  const multiplier = new Int32Array(n);
  const shift = new Int32Array(n);
  const base = 45 / accSpread;
  const perTensor = style === 'uint8' ? quantizeMultiplier(base * (0.5 + rng())) : null;
  for (let c = 0; c < n; c++) {
    let q = perTensor ?? quantizeMultiplier(base * (0.5 + rng()));
    if (style === 'extreme') {
      const r = rng();
      if (r < 0.1) q = { multiplier: 0, shift: 0 };
      else if (r < 0.3) q = quantizeMultiplier(base * 2 ** int(rng, -20, 14));
      else if (r < 0.4) q = { multiplier: int(rng, 2 ** 30, 2 ** 31 - 1), shift: int(rng, -31, -20) };
    }
    multiplier[c] = q.multiplier;
    shift[c] = q.shift;
  }
  const zero = zeroPoint(rng, style);
  const top = Math.min(127, zero + int(rng, 20, 200));
  const ranges: Array<[number, number]> = [[-128, 127], [Math.max(zero, -128), 127], [zero, Math.max(zero, top)]];
  const [actMin, actMax] = relu ? pick(rng, ranges.slice(1)) : ranges[0]!;
  return { multiplier, shift, zeroPoint: zero, actMin, actMax };
}

export interface SpatialQArgs {
  h: number;
  w: number;
  stride: number;
  seed: number;
  style: QuantStyle;
  inputZero?: number;
  /** Mean square of (x − x_zp) of the input (default: uniform on the int8 range). */
  inputSpread?: number;
}

export function qconv2dStep(a: SpatialQArgs & { inC: number; outC: number; kernel?: number }): Body<QConv2dStep> {
  const rng = seededRandom(a.seed);
  const k = a.kernel ?? 3;
  const y = same(a.h, k, a.stride);
  const x = same(a.w, k, a.stride);
  const inputZeroPoint = a.inputZero ?? zeroPoint(rng, a.style);
  const cw = convWeights(rng, a.style, a.outC, k * k * a.inC, inputZeroPoint, a.inputSpread);
  return {
    op: 'conv2d', inH: a.h, inW: a.w, outH: y.out, outW: x.out, stride: a.stride, padTop: y.pad, padLeft: x.pad,
    kernel: k, inC: a.inC, outC: a.outC, inputZeroPoint, weights: cw.weights, weightZeroPoint: cw.weightZeroPoint, bias: cw.bias,
    requant: outputStage(rng, a.style, a.outC, cw.accSpread),
  };
}

function depthwiseParams(rng: Rng, a: SpatialQArgs & { channels: number; kernel?: number }): QDepthwise {
  const k = a.kernel ?? 3;
  const y = same(a.h, k, a.stride);
  const x = same(a.w, k, a.stride);
  const inputZeroPoint = a.inputZero ?? zeroPoint(rng, a.style);
  const cw = convWeights(rng, a.style, a.channels, k * k, inputZeroPoint, a.inputSpread);
  return {
    inH: a.h, inW: a.w, outH: y.out, outW: x.out, stride: a.stride, padTop: y.pad, padLeft: x.pad, kernel: k,
    channels: a.channels, inputZeroPoint, weights: cw.weights, weightZeroPoint: cw.weightZeroPoint, bias: cw.bias,
    requant: outputStage(rng, a.style, a.channels, cw.accSpread),
  };
}

export function qdepthwiseStep(a: SpatialQArgs & { channels: number; kernel?: number }): Body<QDepthwiseStep> {
  return { op: 'depthwise', ...depthwiseParams(seededRandom(a.seed), a) };
}

function pointwiseParams(
  rng: Rng, style: QuantStyle, h: number, w: number, inC: number, outC: number, inputZero?: number, relu?: boolean, inputSpread?: number,
): QPointwise {
  const inputZeroPoint = inputZero ?? zeroPoint(rng, style);
  const cw = convWeights(rng, style, outC, inC, inputZeroPoint, inputSpread);
  return {
    h, w, inC, outC, inputZeroPoint, weights: cw.weights, weightZeroPoint: cw.weightZeroPoint, bias: cw.bias,
    requant: outputStage(rng, style, outC, cw.accSpread, relu),
  };
}

interface MatrixArgs {
  inC: number;
  outC: number;
  seed: number;
  style: QuantStyle;
  inputZero?: number;
  inputSpread?: number;
}

export function qpointwiseStep(a: MatrixArgs & { h: number; w: number }): Body<QPointwiseStep> {
  return { op: 'pointwise', ...pointwiseParams(seededRandom(a.seed), a.style, a.h, a.w, a.inC, a.outC, a.inputZero, undefined, a.inputSpread) };
}

export function qfcStep(a: MatrixArgs): Body<QFullyConnectedStep> {
  const p = pointwiseParams(seededRandom(a.seed), a.style, 1, 1, a.inC, a.outC, a.inputZero, false, a.inputSpread);
  return {
    op: 'fc', inC: p.inC, outC: p.outC, inputZeroPoint: p.inputZeroPoint, weights: p.weights,
    weightZeroPoint: p.weightZeroPoint, bias: p.bias, requant: p.requant,
  };
}

export interface QBottleneckArgs extends SpatialQArgs {
  inC: number;
  /** null: no expansion (v1's depthwise + pointwise pair, v2's first block). */
  expandC: number | null;
  outC: number;
  residual: boolean;
}

/** TFLite-scheme parameters: the residual is TFLite's ADD. */
export function qbottleneckStep(a: QBottleneckArgs): Body<QBottleneckStep> & { residual: AddParams | null } {
  const rng = seededRandom(a.seed);
  const inputZero = a.inputZero ?? zeroPoint(rng, a.style);
  const channels = a.expandC ?? a.inC;
  const expand = a.expandC === null ? null
    : pointwiseParams(rng, a.style, a.h, a.w, a.inC, a.expandC, inputZero, true, a.inputSpread);
  const depthwise = depthwiseParams(rng, {
    ...a, channels, inputZero: expand ? expand.requant.zeroPoint : inputZero, inputSpread: expand ? CHAIN_SPREAD : a.inputSpread,
  });
  const project = pointwiseParams(rng, a.style, depthwise.outH, depthwise.outW, channels, a.outC, depthwise.requant.zeroPoint, false, CHAIN_SPREAD);
  let residual = null;
  if (a.residual) {
    // add.cc's rescaling from random scales (the first input is the projection, the second the block input).
    const scale = () => 0.005 * 2 ** (rng() * 6);
    residual = addParams(
      { scale: scale(), zeroPoint: project.requant.zeroPoint }, { scale: scale(), zeroPoint: inputZero },
      { scale: scale(), zeroPoint: zeroPoint(rng, a.style) }, rng() < 0.5 ? 0 : 1,
    );
  }
  return { op: 'bottleneck', expand, depthwise, project, residual };
}

export function qavgpoolStep(a: { h: number; w: number; channels: number; type: QuantType; seed: number }): Body<QAvgPoolStep> {
  const rng = seededRandom(a.seed);
  const zero = int(rng, -128, 60);
  const [actMin, actMax] = pick(rng, [[-128, 127], [zero, 127], [zero, zero + 67]] as const);
  return { op: 'avgpool', h: a.h, w: a.w, channels: a.channels, type: a.type, actMin, actMax };
}

export function qmeanStep(a: { h: number; w: number; channels: number; seed: number; style: QuantStyle }): Body<QMeanStep> & { params: MeanParams } {
  const rng = seededRandom(a.seed);
  const inScale = 0.02 * 2 ** (rng() * 4 - 2);
  const outScale = a.style === 'extreme' ? inScale * 2 ** int(rng, -12, 12) : inScale * (0.5 + rng());
  return {
    op: 'mean', h: a.h, w: a.w, channels: a.channels,
    params: meanParams({ scale: inScale, zeroPoint: zeroPoint(rng, a.style) }, { scale: outScale, zeroPoint: zeroPoint(rng, a.style) }),
  };
}

export function qsoftmaxStep(a: { n: number; scale: number }): Body<QSoftmaxStep> {
  return { op: 'softmax', n: a.n, params: softmaxParams(a.scale) };
}

/** Input and output byte sizes of a step. */
export function stepSizes(step: Body<QStep>): { inSize: number; outSize: number } {
  switch (step.op) {
    case 'conv2d':
      return { inSize: step.inH * step.inW * step.inC, outSize: step.outH * step.outW * step.outC };
    case 'depthwise':
      return { inSize: step.inH * step.inW * step.channels, outSize: step.outH * step.outW * step.channels };
    case 'pointwise':
      return { inSize: step.h * step.w * step.inC, outSize: step.h * step.w * step.outC };
    case 'bottleneck': {
      const d = step.depthwise;
      const inC = step.expand ? step.expand.inC : d.channels;
      return { inSize: d.inH * d.inW * inC, outSize: d.outH * d.outW * step.project.outC };
    }
    case 'avgpool':
    case 'mean':
      return { inSize: step.h * step.w * step.channels, outSize: step.channels };
    case 'fc':
      return { inSize: step.inC, outSize: step.outC };
    case 'softmax':
      return { inSize: step.n, outSize: step.n };
  }
}

/** The input shape [h, w, c] a step reads. */
function inputShape(step: Body<QStep>): [number, number, number] {
  switch (step.op) {
    case 'conv2d':
      return [step.inH, step.inW, step.inC];
    case 'depthwise':
      return [step.inH, step.inW, step.channels];
    case 'pointwise':
      return [step.h, step.w, step.inC];
    case 'bottleneck':
      return [step.depthwise.inH, step.depthwise.inW, step.expand ? step.expand.inC : step.depthwise.channels];
    case 'avgpool':
    case 'mean':
      return [step.h, step.w, step.channels];
    case 'fc':
      return [1, 1, step.inC];
    case 'softmax':
      return [1, 1, step.n];
  }
}

const EDGE = { type: 'int8', scale: 1, zeroPoint: 0 } as const;

/**
 * A plan running `steps` in a chain: tensors alternate between two regions of the arena, the
 * second starting at an odd byte after the largest tensor (so no offset is aligned by accident).
 */
export function chainPlan(steps: Array<Body<QStep>>): QPlan {
  const sizes = steps.map(stepSizes);
  const largest = Math.max(...sizes.flatMap((s) => [s.inSize, s.outSize]));
  const regions = [3, largest + 8 + 5];
  const placed = steps.map((step, i) => ({ ...step, input: regions[i % 2]!, output: regions[(i + 1) % 2]! }) as QStep);
  const [inputH, inputW, inputC] = inputShape(steps[0]!);
  const last = placed[placed.length - 1]!;
  return {
    dtype: 'int8', rounding: 'tflite', inputH, inputW, inputC, input: regions[0]!, inputQuant: EDGE,
    output: last.output, outputSize: sizes[sizes.length - 1]!.outSize, outputQuant: EDGE,
    arenaBytes: regions[1]! + largest + 7, steps: placed, stepQuant: placed.map(() => EDGE),
  };
}

export const singleStepPlan = (step: Body<QStep>): QPlan => chainPlan([step]);

/** Random storage-domain input of a plan. */
export function planInput(plan: QPlan, seed: number): Int8Array {
  return randomInt8(seededRandom(seed), plan.inputH * plan.inputW * plan.inputC);
}

interface ChainOptions {
  seed: number;
  style: QuantStyle;
  size: number;
  /** Width multiplier of the channel counts. */
  alpha: number;
}

const ch = (c: number, alpha: number) => Math.max(1, Math.round(c * alpha));

/** MobileNet v1's shape at a small scale: stem, depthwise + pointwise pairs, avgpool, fc, softmax. */
export function v1LikePlan(o: ChainOptions): QPlan {
  const rng = seededRandom(o.seed);
  const steps: Array<Body<QStep>> = [];
  let h = o.size, w = o.size, c = 3;
  const next = () => int(rng, 1, 2 ** 30);
  let zero = zeroPoint(rng, o.style);
  const stem = qconv2dStep({ h, w, inC: 3, outC: ch(32, o.alpha), stride: 2, seed: next(), style: o.style, inputZero: zero });
  steps.push(stem);
  [h, w, c, zero] = [stem.outH, stem.outW, stem.outC, stem.requant.zeroPoint];
  for (const [outC, stride] of [[64, 1], [128, 2], [128, 1], [256, 2], [512, 2], [512, 1], [1024, 2]] as const) {
    const b = qbottleneckStep({
      h, w, stride, inC: c, expandC: null, outC: ch(outC, o.alpha), residual: false, seed: next(), style: o.style,
      inputZero: zero, inputSpread: CHAIN_SPREAD,
    });
    steps.push(b);
    [h, w, c, zero] = [b.depthwise.outH, b.depthwise.outW, b.project.outC, b.project.requant.zeroPoint];
  }
  steps.push(qavgpoolStep({ h, w, channels: c, type: o.style === 'int8' ? 'int8' : 'uint8', seed: next() }));
  steps.push(qfcStep({ inC: c, outC: 37, seed: next(), style: o.style, inputZero: zero, inputSpread: CHAIN_SPREAD / 4 }));
  steps.push(qsoftmaxStep({ n: 37, scale: 0.02 + rng() * 0.04 }));
  return chainPlan(steps);
}

/** MobileNet v2's shape at a small scale: stem, inverted residual blocks, 1x1 conv, mean, fc, softmax. */
export function v2LikePlan(o: ChainOptions): QPlan {
  const rng = seededRandom(o.seed);
  const steps: Array<Body<QStep>> = [];
  let h = o.size, w = o.size, c = 3;
  const next = () => int(rng, 1, 2 ** 30);
  let zero = zeroPoint(rng, o.style);
  const stem = qconv2dStep({ h, w, inC: 3, outC: ch(32, o.alpha), stride: 2, seed: next(), style: o.style, inputZero: zero });
  steps.push(stem);
  [h, w, c, zero] = [stem.outH, stem.outW, stem.outC, stem.requant.zeroPoint];
  const blocks = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 2, 2], [6, 96, 2, 1], [6, 160, 2, 2], [6, 320, 1, 1]] as const;
  for (const [t, outC, repeats, firstStride] of blocks) {
    for (let i = 0; i < repeats; i++) {
      const stride = i === 0 ? firstStride : 1;
      const out = ch(outC, o.alpha);
      const b = qbottleneckStep({
        h, w, stride, inC: c, expandC: t === 1 ? null : c * t, outC: out, residual: stride === 1 && out === c,
        seed: next(), style: o.style, inputZero: zero, inputSpread: CHAIN_SPREAD,
      });
      steps.push(b);
      const outZero = b.residual ? b.residual.outputOffset : b.project.requant.zeroPoint;
      [h, w, c, zero] = [b.depthwise.outH, b.depthwise.outW, b.project.outC, outZero];
    }
  }
  const last = qpointwiseStep({ h, w, inC: c, outC: ch(1280, o.alpha), seed: next(), style: o.style, inputZero: zero, inputSpread: CHAIN_SPREAD });
  steps.push(last);
  c = last.outC;
  const mean = qmeanStep({ h, w, channels: c, seed: next(), style: o.style });
  steps.push(mean);
  steps.push(qfcStep({ inC: c, outC: 53, seed: next(), style: o.style, inputZero: mean.params.outputZeroPoint, inputSpread: CHAIN_SPREAD / 4 }));
  steps.push(qsoftmaxStep({ n: 53, scale: 0.02 + rng() * 0.04 }));
  return chainPlan(steps);
}
