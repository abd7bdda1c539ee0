// What TFLite's kernels compute once, at Prepare, from the tensors' scales and zero points: the
// fixed-point multipliers and clamp bounds the integer ops then use. Each function names the kernel
// whose Prepare it follows (LiteRT v2.2.0, tflite/kernels/; see quantize.ts for the pin).
//
// Scales are float32 in the file and TFLite computes with them as floats or doubles exactly as noted;
// every scale is passed through Math.fround first so a double that is not a float32 cannot slip in.
// Zero points are in the storage domain (quantize.ts: a uint8 zero point minus 128).
import { ACT_NONE, ACT_RELU, ACT_RELU6, type ActCode } from '../plan.js';
import { xnnActivationRange, xnnAddParams, xnnRequantizationScale, type RealRange, type XnnAddParams } from './xnnpack.js';
import {
  activationRange,
  quantizeMultiplier,
  quantizeMultiplierGreaterThanOne,
  quantizeMultiplierSmallerThanOneExp,
  type ActivationRange,
  type QuantType,
} from './quantize.js';

/** Scale and (storage) zero point of a per-tensor quantized activation. */
export interface TensorQuant {
  scale: number;
  zeroPoint: number;
}

/**
 * How a plan requantizes: as TFLite's reference kernels (fixed-point multiplier, double rounding) or
 * as XNNPACK (float32 scale, round to nearest-even; xnnpack.ts), what LiteRT.js's CPU path runs.
 */
export type Rounding = 'tflite' | 'xnnpack';

/**
 * Output stage of a conv / depthwise / FC op: acc → MultiplyByQuantizedMultiplier(acc, multiplier[c],
 * shift[c]) + zeroPoint, clamped to [actMin, actMax]. shift > 0 shifts left (TFLite's convention in
 * the per-channel kernels; the uint8 kernels receive the same value through op_params.output_shift).
 * With `scale` (the 'xnnpack' rounding) the op computes XNNPACK's clamp(rint(float(acc) · scale[c]) +
 * zeroPoint) instead and multiplier / shift are unused; actMin / actMax are then XNNPACK's bounds.
 */
export interface OutputStage {
  multiplier: Int32Array;
  shift: Int32Array;
  zeroPoint: number;
  actMin: number;
  actMax: number;
  scale?: Float32Array;
}

function perChannel(channels: number, at: (c: number) => number): { multiplier: Int32Array; shift: Int32Array } {
  const multiplier = new Int32Array(channels);
  const shift = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const q = quantizeMultiplier(at(c));
    multiplier[c] = q.multiplier;
    shift[c] = q.shift;
  }
  return { multiplier, shift };
}

/** GetQuantizedConvolutionMultipler (kernel_util.cc): the float32 product in_s·w_s, then / out_s in double. */
function legacyMultiplier(inputScale: number, filterScale: number, outputScale: number): number {
  return Math.fround(Math.fround(inputScale) * Math.fround(filterScale)) / Math.fround(outputScale);
}

/** The per-channel rule of PopulateConvolutionQuantizationParams: in_s·w_s[c]/out_s all in double. */
function channelMultiplier(inputScale: number, filterScale: number, outputScale: number): number {
  return (Math.fround(inputScale) * Math.fround(filterScale)) / Math.fround(outputScale);
}

/**
 * CONV_2D and DEPTHWISE_CONV_2D (conv.cc, depthwise_conv.cc → kernel_util.cc
 * PopulateConvolutionQuantizationParams + CalculateActivationRangeQuantized).
 * - uint8 input (TF1 files): the uint8 kernels (EvalQuantized) use the single legacy multiplier
 *   QuantizeMultiplier(float(in_s·w_s) / out_s) — per-tensor weights only.
 * - int8 input (TF2 files): EvalQuantizedPerChannel uses one multiplier per output channel,
 *   QuantizeMultiplier(in_s·w_s[c] / out_s) in double, a per-tensor weight scale broadcast.
 * The two can differ in the last bit of the multiplier for the same scales.
 */
export function convOutputStage(
  inputType: QuantType, input: TensorQuant, filterScales: ArrayLike<number>, output: TensorQuant,
  channels: number, act: ActCode,
): OutputStage {
  if (filterScales.length !== 1 && filterScales.length !== channels) {
    throw new RangeError(`${filterScales.length} filter scales for ${channels} output channels`);
  }
  let stage: { multiplier: Int32Array; shift: Int32Array };
  if (inputType === 'uint8') {
    if (filterScales.length !== 1) throw new RangeError('uint8 convolutions take per-tensor weights only');
    const q = quantizeMultiplier(legacyMultiplier(input.scale, filterScales[0]!, output.scale));
    stage = { multiplier: new Int32Array(channels).fill(q.multiplier), shift: new Int32Array(channels).fill(q.shift) };
  } else {
    stage = perChannel(channels, (c) =>
      channelMultiplier(input.scale, filterScales[filterScales.length === 1 ? 0 : c]!, output.scale));
  }
  const range = activationRange(act, output.scale, output.zeroPoint);
  return { ...stage, zeroPoint: output.zeroPoint, actMin: range.min, actMax: range.max };
}

/**
 * FULLY_CONNECTED (fully_connected.cc Prepare): per-tensor weights use the legacy float-product
 * multiplier (GetQuantizedConvolutionMultipler) for uint8 and int8 alike; per-channel weights (int8)
 * the double rule.
 */
export function fullyConnectedOutputStage(
  input: TensorQuant, filterScales: ArrayLike<number>, output: TensorQuant, channels: number, act: ActCode,
): OutputStage {
  let stage: { multiplier: Int32Array; shift: Int32Array };
  if (filterScales.length === 1) {
    const q = quantizeMultiplier(legacyMultiplier(input.scale, filterScales[0]!, output.scale));
    stage = { multiplier: new Int32Array(channels).fill(q.multiplier), shift: new Int32Array(channels).fill(q.shift) };
  } else if (filterScales.length === channels) {
    stage = perChannel(channels, (c) => channelMultiplier(input.scale, filterScales[c]!, output.scale));
  } else {
    throw new RangeError(`${filterScales.length} filter scales for ${channels} output channels`);
  }
  const range = activationRange(act, output.scale, output.zeroPoint);
  return { ...stage, zeroPoint: output.zeroPoint, actMin: range.min, actMax: range.max };
}

/** A fused activation as the delegate hands it to XNNPACK: a range of reals. */
function realRange(act: ActCode): RealRange {
  if (act === ACT_RELU6) return { min: 0, max: 6 };
  if (act === ACT_RELU) return { min: 0, max: Infinity };
  if (act === ACT_NONE) return { min: -Infinity, max: Infinity };
  throw new RangeError(`unknown activation ${String(act)}`);
}

/**
 * The 'xnnpack' output stage of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED alike (qu8 with its
 * per-tensor weights, qs8 with per-channel or broadcast ones): scale[c] = float32(in_s·w_s[c]) / out_s
 * in float32, the activation bounds by xnnActivationRange.
 */
export function xnnOutputStage(
  type: QuantType, input: TensorQuant, filterScales: ArrayLike<number>, output: TensorQuant, channels: number, act: ActCode,
): OutputStage {
  if (filterScales.length !== 1 && filterScales.length !== channels) {
    throw new RangeError(`${filterScales.length} filter scales for ${channels} output channels`);
  }
  const scale = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = xnnRequantizationScale(input.scale, filterScales[filterScales.length === 1 ? 0 : c]!, output.scale);
  }
  const range = xnnActivationRange(realRange(act), type, output.scale, output.zeroPoint);
  return {
    multiplier: new Int32Array(channels), shift: new Int32Array(channels), zeroPoint: output.zeroPoint,
    actMin: range.min, actMax: range.max, scale,
  };
}

/** The 'xnnpack' residual ADD (xnnpack.ts xnnAddParams) with the activation's bounds. */
export function xnnResidualParams(type: QuantType, a: TensorQuant, b: TensorQuant, output: TensorQuant, act: ActCode): XnnAddParams {
  const range = xnnActivationRange(realRange(act), type, output.scale, output.zeroPoint);
  return xnnAddParams(a, b, output, range.min, range.max);
}

/** Parameters of the 8-bit ADD (add.cc Prepare, the general rescaling path). */
export interface AddParams {
  /** 20 for 8-bit inputs: both inputs are scaled up by 2^20 before rescaling, so rounding is fine. */
  leftShift: number;
  input1Offset: number;
  input1Multiplier: number;
  input1Shift: number;
  input2Offset: number;
  input2Multiplier: number;
  input2Shift: number;
  outputOffset: number;
  outputMultiplier: number;
  outputShift: number;
  actMin: number;
  actMax: number;
}

/**
 * add.cc Prepare: twice_max = 2·max(s1, s2) (float); input multipliers s_i / twice_max and the
 * output multiplier twice_max / (2^20 · s_out) (that product in float), each through
 * QuantizeMultiplierSmallerThanOneExp (shifts ≤ 0; TFLite aborts when a multiplier is not below 1).
 */
export function addParams(input1: TensorQuant, input2: TensorQuant, output: TensorQuant, act: ActCode): AddParams {
  const s1 = Math.fround(input1.scale);
  const s2 = Math.fround(input2.scale);
  const leftShift = 20;
  const twiceMax = 2 * Math.max(s1, s2);
  const m1 = quantizeMultiplierSmallerThanOneExp(s1 / twiceMax);
  const m2 = quantizeMultiplierSmallerThanOneExp(s2 / twiceMax);
  const mo = quantizeMultiplierSmallerThanOneExp(twiceMax / Math.fround((1 << leftShift) * Math.fround(output.scale)));
  const range: ActivationRange = activationRange(act, output.scale, output.zeroPoint);
  return {
    leftShift,
    input1Offset: -input1.zeroPoint,
    input1Multiplier: m1.multiplier,
    input1Shift: m1.shift,
    input2Offset: -input2.zeroPoint,
    input2Multiplier: m2.multiplier,
    input2Shift: m2.shift,
    outputOffset: output.zeroPoint,
    outputMultiplier: mo.multiplier,
    outputShift: mo.shift,
    actMin: range.min,
    actMax: range.max,
  };
}

/** MEAN over H and W (reduce.cc PrepareMeanOrSum): QuantizeMultiplier(in_s / out_s) in double. */
export interface MeanParams {
  multiplier: number;
  shift: number;
  inputZeroPoint: number;
  outputZeroPoint: number;
}

export function meanParams(input: TensorQuant, output: TensorQuant): MeanParams {
  const q = quantizeMultiplier(Math.fround(input.scale) / Math.fround(output.scale));
  return { multiplier: q.multiplier, shift: q.shift, inputZeroPoint: input.zeroPoint, outputZeroPoint: output.zeroPoint };
}

/** SOFTMAX, reference kernel (activations.cc SoftmaxPrepare<kReference>). */
export interface SoftmaxParams {
  inputMultiplier: number;
  inputLeftShift: number;
  /** Differences from the row maximum below this contribute nothing (exp rounds to 0 there). */
  diffMin: number;
}

/**
 * PreprocessSoftmaxScaling (quantization_util.cc, default build): min(beta · s · 2^(31 − integerBits),
 * 2^31 − 1) through QuantizeMultiplierGreaterThanOne.
 */
export function preprocessSoftmaxScaling(beta: number, inputScale: number, inputIntegerBits: number): { multiplier: number; leftShift: number } {
  const real = Math.min(Math.fround(beta) * Math.fround(inputScale) * 2 ** (31 - inputIntegerBits), 2 ** 31 - 1);
  const q = quantizeMultiplierGreaterThanOne(real);
  return { multiplier: q.multiplier, leftShift: q.shift };
}

/**
 * SoftmaxPrepare<kReference>: PreprocessSoftmaxScaling(beta, s, 5) and diff_min =
 * −CalculateInputRadius(5, left_shift).
 */
export function softmaxParams(inputScale: number, beta = 1): SoftmaxParams {
  const kScaledDiffIntegerBits = 5;
  const q = preprocessSoftmaxScaling(beta, inputScale, kScaledDiffIntegerBits);
  return { inputMultiplier: q.multiplier, inputLeftShift: q.leftShift, diffMin: -calculateInputRadius(kScaledDiffIntegerBits, q.leftShift) };
}

/**
 * CalculateInputRadius (quantization_util.cc): the largest input difference whose rescaled value
 * still fits, floor((2^integerBits − 1) · 2^(totalSignedBits − integerBits) / 2^leftShift).
 */
export function calculateInputRadius(inputIntegerBits: number, inputLeftShift: number, totalSignedBits = 31): number {
  return Math.floor((((1 << inputIntegerBits) - 1) * 2 ** (totalSignedBits - inputIntegerBits)) / 2 ** inputLeftShift);
}

/** QUANTIZE from one 8-bit tensor to another (quantize.cc Prepare): QuantizeMultiplier(in_s / out_s). */
export interface RequantizeParams {
  multiplier: number;
  shift: number;
  inputZeroPoint: number;
  outputZeroPoint: number;
}

export function requantizeParams(input: TensorQuant, output: TensorQuant): RequantizeParams {
  const q = quantizeMultiplier(Math.fround(input.scale) / Math.fround(output.scale));
  return { multiplier: q.multiplier, shift: q.shift, inputZeroPoint: input.zeroPoint, outputZeroPoint: output.zeroPoint };
}
