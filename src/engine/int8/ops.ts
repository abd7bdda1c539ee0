// Pure-TypeScript integer reference of every op of the quantized MobileNets, bit-exact with TFLite's
// reference kernels (LiteRT v2.2.0 tflite/kernels/internal/reference/, see quantize.ts for the pin):
//   conv2d, pointwise     ← reference/conv.h (uint8) and reference/integer_ops/conv.h ConvPerChannel (int8)
//   depthwise             ← reference/depthwiseconv_uint8.h (uint8, kAwayFromZero = the default
//                           MultiplyByQuantizedMultiplier) and reference/integer_ops/depthwise_conv.h
//   fc                    ← reference/fully_connected.h and reference/integer_ops/fully_connected.h
//   add                   ← reference/add.h AddElementwise (uint8) = reference/integer_ops/add.h (int8)
//   avgpool               ← reference/pooling.h AveragePool (uint8) and reference/integer_ops/pooling.h (int8)
//   mean                  ← reference/reduce.h QuantizedMeanOrSum (what reduce.cc's reference MEAN runs)
//   softmax               ← reference/softmax.h Softmax<InputT, OutputT> (gemmlowp fixed-point exp)
//   quantize / requantize ← reference/quantize.h AffineQuantize, reference/requantize.h Requantize
//   dequantize            ← reference/dequantize.h Dequantize
//
// Tensors are NHWC, batch 1, shapes named as in src/engine/plan.ts (padTop/padLeft: the zero rows /
// columns before the input; the rest of SAME padding is implied by outH/outW, exactly TFLite's
// padding_values). All activations are Int8Array in the storage domain (quantize.ts: uint8 data as
// q − 128, zero point − 128); weights likewise, with one weight zero point per tensor (TFLite's
// filter_offset: the uint8 files' zero point, 0 for the int8 files' symmetric weights).
//
// Accumulation: Σ (w − w_zp)(x − x_zp) + bias. The C++ int32 accumulator is emulated by accumulating
// small-integer products in a double (exact below 2^53) and wrapping once with |0 — the same value,
// since int32 wrap-around is addition modulo 2^32, whatever the summation order. For the same reason
// x_zp may be folded into the bias (bias − x_zp·Σw', wrapped) wherever every tap is present (1×1
// convolutions, interior depthwise pixels), so the inner loops read the stored input directly; the
// weights are copied once per call with their zero point subtracted (Int16Array).
import {
  multiplyByQuantizedMultiplier as requantize, roundHalfAwayFromZero, roundingDivideByPOT, saturatingRoundingDoublingHighMul,
  type QuantType,
} from './quantize.js';
import type { AddParams, MeanParams, OutputStage, RequantizeParams, SoftmaxParams } from './params.js';
import { expOnNegativeValues, getReciprocal, rescale } from './fixedpoint.js';
import { xnnMeanValue, xnnRequantize, type XnnAddParams, type XnnMeanParams } from './xnnpack.js';
import type { Spatial } from '../plan.js';


/** Quantized weights: storage values, their (single) zero point and the int32 bias (scale in_s·w_s, zero point 0). */
export interface QWeights {
  weights: Int8Array;
  weightZeroPoint: number;
  bias: Int32Array;
}

/** Full k×k convolution (the stem). weights [outC, k, k, inC]. */
export interface QConv2d extends Spatial, QWeights {
  kernel: number;
  inC: number;
  outC: number;
  inputZeroPoint: number;
  requant: OutputStage;
}

/** Depthwise k×k convolution, depth multiplier 1. weights [k, k, C] (TFLite's [1, k, k, C]). */
export interface QDepthwise extends Spatial, QWeights {
  kernel: number;
  channels: number;
  inputZeroPoint: number;
  requant: OutputStage;
}

/** 1×1 convolution over h×w pixels. weights [outC, inC]. */
export interface QPointwise extends QWeights {
  h: number;
  w: number;
  inC: number;
  outC: number;
  inputZeroPoint: number;
  requant: OutputStage;
}

/** Fully connected. weights [outC, inC]. */
export interface QFullyConnected extends QWeights {
  inC: number;
  outC: number;
  inputZeroPoint: number;
  requant: OutputStage;
}

/** (weights − zeroPoint) as Int16Array: every 8-bit value minus an 8-bit zero point fits. */
function centered(data: Int8Array, zeroPoint: number): Int16Array {
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! - zeroPoint;
  return out;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new RangeError(message);
}

/** One output value: requantize, add the zero point, clamp (the general, slower path). */
function outputValue(acc: number, multiplier: number, shift: number, zeroPoint: number, lo: number, hi: number): number {
  const v = requantize(acc, multiplier, shift) + zeroPoint;
  return v < lo ? lo : v > hi ? hi : v;
}

const TWO_30 = 1073741824;
const TWO_52 = 4503599627370496;
const INV_TWO_31 = 1 / 2147483648;

/**
 * An output stage with each channel's shift split for the hot loop: left shift and 2^−right; or, for
 * the 'xnnpack' rounding, its float32 scales (`scale`; the loops then take xnnRequantize).
 */
interface Prepared {
  multiplier: Int32Array;
  shift: Int32Array;
  left: Int32Array;
  rightScale: Float64Array;
  scale: Float32Array | undefined;
  zeroPoint: number;
  lo: number;
  hi: number;
}

function prepare(stage: OutputStage, channels: number): Prepared {
  check(stage.multiplier.length >= channels && stage.shift.length >= channels, `requantization for ${channels} channels expected`);
  check(stage.actMin <= stage.actMax, 'empty activation range');
  check(!stage.scale || stage.scale.length >= channels, `requantization scales for ${channels} channels expected`);
  const left = new Int32Array(channels);
  const rightScale = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const shift = stage.shift[c]!;
    check(shift >= -31 && shift <= 31, `shift ${shift} out of range`);
    left[c] = shift > 0 ? shift : 0;
    rightScale[c] = 2 ** -(shift > 0 ? 0 : -shift);
  }
  return {
    multiplier: stage.multiplier, shift: stage.shift, left, rightScale, scale: stage.scale,
    zeroPoint: stage.zeroPoint, lo: stage.actMin, hi: stage.actMax,
  };
}

/**
 * requantize(acc, multiplier, shift) + zero point, clamped — multiplyByQuantizedMultiplier with the
 * shift pre-split, in double arithmetic that is exact whenever |a·M| < 2^52 (a = acc·2^left):
 * SaturatingRoundingDoublingHighMul is floor((a·M + 2^30) / 2^31) for a·M ≥ 0 and
 * −floor((2^30 − 1 − a·M) / 2^31) otherwise (truncation toward zero of the nudged quotient), and
 * RoundingDivideByPOT of h = ±g by 2^right is ±floor(g·2^−right + 1/2) (halves away from zero); every
 * intermediate is an integer or a half below 2^53, and scaling by powers of two is exact. Larger
 * products take the general path. Tested equal to the BigInt formulas.
 */
export function requantizeOutput(acc: number, m: number, left: number, rightScale: number, shift: number, zp: number, lo: number, hi: number): number {
  const ab = (acc << left) * m;
  let v: number;
  if (ab >= 0) {
    if (ab >= TWO_52) return outputValue(acc, m, shift, zp, lo, hi);
    v = Math.floor(Math.floor((ab + TWO_30) * INV_TWO_31) * rightScale + 0.5) + zp;
  } else {
    if (ab <= -TWO_52) return outputValue(acc, m, shift, zp, lo, hi);
    v = zp - Math.floor(Math.floor((TWO_30 - 1 - ab) * INV_TWO_31) * rightScale + 0.5);
  }
  return v < lo ? lo : v > hi ? hi : v;
}

/** bias − x_zp · Σ_k w'[n, k]: folds the input zero point into the bias (exact modulo 2^32). */
function foldInputZeroPoint(bias: Int32Array, w: Int16Array, N: number, K: number, inputZeroPoint: number): Int32Array {
  const out = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let k = 0; k < K; k++) sum += w[n * K + k]!;
    out[n] = (bias[n]! - inputZeroPoint * sum) | 0;
  }
  return out;
}

/**
 * [pixels, K] × [N, K]ᵀ + bias with the output stage: the core of conv2d (after im2col), pointwise
 * and fc. x is the input as stored (the input zero point folded into `bias`), w the centered
 * weights. Blocks of 2 pixels × 4 output channels keep 8 accumulators in registers, each input value
 * and weight loaded once per block: about twice the speed of one dot product at a time.
 */
function gemm(
  pixels: number, K: number, N: number, x: Int8Array, w: Int16Array, bias: Int32Array, q: Prepared,
  output: Int8Array,
): void {
  if (q.scale) {
    gemmXnnpack(pixels, K, N, x, w, bias, q.scale, q, output);
    return;
  }
  const { multiplier, shift, left, rightScale, zeroPoint: zp, lo, hi } = q;
  let p = 0;
  for (; p + 1 < pixels; p += 2) {
    const xa = p * K;
    const xb = xa + K;
    const oa = p * N;
    const ob = oa + N;
    let n = 0;
    for (; n + 3 < N; n += 4) {
      const w0 = n * K;
      const w1 = w0 + K;
      const w2 = w1 + K;
      const w3 = w2 + K;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = x[xa + k]!;
        const x1 = x[xb + k]!;
        let v = w[w0 + k]!;
        a0 += v * x0;
        b0 += v * x1;
        v = w[w1 + k]!;
        a1 += v * x0;
        b1 += v * x1;
        v = w[w2 + k]!;
        a2 += v * x0;
        b2 += v * x1;
        v = w[w3 + k]!;
        a3 += v * x0;
        b3 += v * x1;
      }
      let c = n;
      let m = multiplier[c]!, l = left[c]!, r = rightScale[c]!, sh = shift[c]!, bc = bias[c]!;
      output[oa + c] = requantizeOutput((a0 + bc) | 0, m, l, r, sh, zp, lo, hi);
      output[ob + c] = requantizeOutput((b0 + bc) | 0, m, l, r, sh, zp, lo, hi);
      c++;
      m = multiplier[c]!; l = left[c]!; r = rightScale[c]!; sh = shift[c]!; bc = bias[c]!;
      output[oa + c] = requantizeOutput((a1 + bc) | 0, m, l, r, sh, zp, lo, hi);
      output[ob + c] = requantizeOutput((b1 + bc) | 0, m, l, r, sh, zp, lo, hi);
      c++;
      m = multiplier[c]!; l = left[c]!; r = rightScale[c]!; sh = shift[c]!; bc = bias[c]!;
      output[oa + c] = requantizeOutput((a2 + bc) | 0, m, l, r, sh, zp, lo, hi);
      output[ob + c] = requantizeOutput((b2 + bc) | 0, m, l, r, sh, zp, lo, hi);
      c++;
      m = multiplier[c]!; l = left[c]!; r = rightScale[c]!; sh = shift[c]!; bc = bias[c]!;
      output[oa + c] = requantizeOutput((a3 + bc) | 0, m, l, r, sh, zp, lo, hi);
      output[ob + c] = requantizeOutput((b3 + bc) | 0, m, l, r, sh, zp, lo, hi);
    }
    for (; n < N; n++) {
      const wb = n * K;
      let a = 0;
      let b = 0;
      for (let k = 0; k < K; k++) {
        const v = w[wb + k]!;
        a += v * x[xa + k]!;
        b += v * x[xb + k]!;
      }
      output[oa + n] = requantizeOutput((a + bias[n]!) | 0, multiplier[n]!, left[n]!, rightScale[n]!, shift[n]!, zp, lo, hi);
      output[ob + n] = requantizeOutput((b + bias[n]!) | 0, multiplier[n]!, left[n]!, rightScale[n]!, shift[n]!, zp, lo, hi);
    }
  }
  for (; p < pixels; p++) {
    const xa = p * K;
    for (let n = 0; n < N; n++) {
      const wb = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a += w[wb + k]! * x[xa + k]!;
      output[p * N + n] = requantizeOutput((a + bias[n]!) | 0, multiplier[n]!, left[n]!, rightScale[n]!, shift[n]!, zp, lo, hi);
    }
  }
}

/** gemm with XNNPACK's output stage: one dot product at a time (the reference, not the fast path). */
function gemmXnnpack(
  pixels: number, K: number, N: number, x: Int8Array, w: Int16Array, bias: Int32Array, scale: Float32Array, q: Prepared,
  output: Int8Array,
): void {
  const { zeroPoint: zp, lo, hi } = q;
  for (let p = 0; p < pixels; p++) {
    const xa = p * K;
    for (let n = 0; n < N; n++) {
      const wb = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a += w[wb + k]! * x[xa + k]!;
      output[p * N + n] = xnnRequantize((a + bias[n]!) | 0, scale[n]!, zp, lo, hi);
    }
  }
}

/**
 * Full convolution as im2col + gemm: each output pixel's k×k×inC patch of stored inputs, in the
 * weights' [ky, kx, ic] order. A tap outside the image (SAME padding) holds the input zero point, so
 * its (x − x_zp) is 0 — TFLite's "omit the taps outside the image" — and the zero point is folded
 * into the bias like the other taps'.
 */
export function conv2d(s: QConv2d, input: Int8Array, output: Int8Array): void {
  const { kernel: k, inC, outC, inH, inW, outH, outW, stride, padTop, padLeft } = s;
  check(input.length >= inH * inW * inC && output.length >= outH * outW * outC, 'conv2d: buffer too small');
  check(s.weights.length === outC * k * k * inC && s.bias.length === outC, 'conv2d: weights / bias size');
  const q = prepare(s.requant, outC);
  const K = k * k * inC;
  const patches = new Int8Array(outH * outW * K);
  const zp = s.inputZeroPoint;
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      let at = (oy * outW + ox) * K;
      for (let ky = 0; ky < k; ky++) {
        const iy = oy * stride + ky - padTop;
        for (let kx = 0; kx < k; kx++) {
          const ix = ox * stride + kx - padLeft;
          if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) {
            for (let ic = 0; ic < inC; ic++) patches[at++] = zp;
          } else {
            const xb = (iy * inW + ix) * inC;
            for (let ic = 0; ic < inC; ic++) patches[at++] = input[xb + ic]!;
          }
        }
      }
    }
  }
  const w = centered(s.weights, s.weightZeroPoint);
  gemm(outH * outW, K, outC, patches, w, foldInputZeroPoint(s.bias, w, outC, K, zp), q, output);
}

/**
 * Depthwise convolution. Per output pixel the taps inside the image are listed once; the channel
 * loop then runs over them. An interior pixel of a 3×3 kernel has all 9 taps, unrolled, on the
 * stored input with the input zero point folded into the bias; border pixels subtract it per tap.
 * Accumulators go to a scratch row first and are requantized in a second loop (fewer live values).
 */
export function depthwise(s: QDepthwise, input: Int8Array, output: Int8Array): void {
  const { kernel: k, channels: C, inH, inW, outH, outW, stride, padTop, padLeft } = s;
  check(input.length >= inH * inW * C && output.length >= outH * outW * C, 'depthwise: buffer too small');
  check(s.weights.length === k * k * C && s.bias.length === C, 'depthwise: weights / bias size');
  const q = prepare(s.requant, C);
  const { multiplier, shift, left, rightScale, scale, zeroPoint: zp, lo, hi } = q;
  const xz = s.inputZeroPoint;
  const w = centered(s.weights, s.weightZeroPoint);
  const bias = s.bias;
  // Interior pixels: Σ_t w'(x − x_zp) = Σ_t w'·x − x_zp·Σ_t w'.
  const interiorBias = new Int32Array(C);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let t = 0; t < k * k; t++) sum += w[t * C + c]!;
    interiorBias[c] = (bias[c]! - xz * sum) | 0;
  }
  const xo = new Int32Array(k * k);
  const wo = new Int32Array(k * k);
  const acc = new Int32Array(C);
  const unrolled = k === 3;
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      let taps = 0;
      for (let ky = 0; ky < k; ky++) {
        const iy = oy * stride + ky - padTop;
        if (iy < 0 || iy >= inH) continue;
        for (let kx = 0; kx < k; kx++) {
          const ix = ox * stride + kx - padLeft;
          if (ix < 0 || ix >= inW) continue;
          xo[taps] = (iy * inW + ix) * C;
          wo[taps] = (ky * k + kx) * C;
          taps++;
        }
      }
      if (unrolled && taps === 9) {
        const x0 = xo[0]!, x1 = xo[1]!, x2 = xo[2]!, x3 = xo[3]!, x4 = xo[4]!, x5 = xo[5]!, x6 = xo[6]!, x7 = xo[7]!, x8 = xo[8]!;
        for (let c = 0; c < C; c++) {
          acc[c] = w[c]! * input[x0 + c]! + w[C + c]! * input[x1 + c]! + w[2 * C + c]! * input[x2 + c]!
            + w[3 * C + c]! * input[x3 + c]! + w[4 * C + c]! * input[x4 + c]! + w[5 * C + c]! * input[x5 + c]!
            + w[6 * C + c]! * input[x6 + c]! + w[7 * C + c]! * input[x7 + c]! + w[8 * C + c]! * input[x8 + c]!
            + interiorBias[c]!;
        }
      } else {
        for (let c = 0; c < C; c++) {
          let sum = 0;
          for (let t = 0; t < taps; t++) sum += w[wo[t]! + c]! * (input[xo[t]! + c]! - xz);
          acc[c] = sum + bias[c]!;
        }
      }
      const ob = (oy * outW + ox) * C;
      if (scale) {
        for (let c = 0; c < C; c++) output[ob + c] = xnnRequantize(acc[c]!, scale[c]!, zp, lo, hi);
      } else {
        for (let c = 0; c < C; c++) {
          output[ob + c] = requantizeOutput(acc[c]!, multiplier[c]!, left[c]!, rightScale[c]!, shift[c]!, zp, lo, hi);
        }
      }
    }
  }
}

/** 1×1 convolution: gemm on the stored input, the input zero point folded into the bias. */
export function pointwise(s: QPointwise, input: Int8Array, output: Int8Array): void {
  const pixels = s.h * s.w;
  check(input.length >= pixels * s.inC && output.length >= pixels * s.outC, 'pointwise: buffer too small');
  check(s.weights.length === s.outC * s.inC && s.bias.length === s.outC, 'pointwise: weights / bias size');
  const q = prepare(s.requant, s.outC);
  const w = centered(s.weights, s.weightZeroPoint);
  gemm(pixels, s.inC, s.outC, input, w, foldInputZeroPoint(s.bias, w, s.outC, s.inC, s.inputZeroPoint), q, output);
}

export function fc(s: QFullyConnected, input: Int8Array, output: Int8Array): void {
  check(input.length >= s.inC && output.length >= s.outC, 'fc: buffer too small');
  check(s.weights.length === s.outC * s.inC && s.bias.length === s.outC, 'fc: weights / bias size');
  const q = prepare(s.requant, s.outC);
  const w = centered(s.weights, s.weightZeroPoint);
  gemm(1, s.inC, s.outC, input, w, foldInputZeroPoint(s.bias, w, s.outC, s.inC, s.inputZeroPoint), q, output);
}

/**
 * ADD of two same-shape tensors. Per element: (q + offset) · 2^20 rescaled per input
 * (MultiplyByQuantizedMultiplierSmallerThanOneExp), summed, rescaled to the output, + zero point,
 * clamped. The per-input rescaling depends on the 8-bit value only, so it is tabulated (256 entries,
 * the same arithmetic). XNNPACK's params (xnnpack.ts) select its integer ADD instead.
 */
export function add(p: AddParams | XnnAddParams, input1: Int8Array, input2: Int8Array, output: Int8Array, size = output.length): void {
  check(input1.length >= size && input2.length >= size && output.length >= size, 'add: buffer too small');
  if ('scheme' in p) {
    addXnnpack(p, input1, input2, output, size);
    return;
  }
  const t1 = new Int32Array(256);
  const t2 = new Int32Array(256);
  for (let q = -128; q < 128; q++) {
    t1[q + 128] = requantize((q + p.input1Offset) << p.leftShift, p.input1Multiplier, p.input1Shift);
    t2[q + 128] = requantize((q + p.input2Offset) << p.leftShift, p.input2Multiplier, p.input2Shift);
  }
  for (let i = 0; i < size; i++) {
    const sum = (t1[input1[i]! + 128]! + t2[input2[i]! + 128]!) | 0;
    output[i] = outputValue(sum, p.outputMultiplier, p.outputShift, p.outputOffset, p.actMin, p.actMax);
  }
}

/** XNNPACK's ADD: ((bias + a·aMultiplier + b·bMultiplier) >> shift) + zp, clamped (no int32 overflow: |terms| < 2^30). */
function addXnnpack(p: XnnAddParams, input1: Int8Array, input2: Int8Array, output: Int8Array, size: number): void {
  const { aMultiplier, bMultiplier, bias, shift, outputZeroPoint, actMin, actMax } = p;
  check(shift >= 1 && shift <= 31, `add: shift ${shift} out of range`);
  for (let i = 0; i < size; i++) {
    const v = ((bias + input1[i]! * aMultiplier + input2[i]! * bMultiplier) >> shift) + outputZeroPoint;
    output[i] = v < actMin ? actMin : v > actMax ? actMax : v;
  }
}

/** Inverted residual block: expand (optional) → depthwise → project [→ ADD with the block input]. */
export interface QBottleneck {
  expand: QPointwise | null;
  depthwise: QDepthwise;
  project: QPointwise;
  /** The residual ADD: input1 = the projection's output, input2 = the block input. */
  residual: AddParams | XnnAddParams | null;
}

/** Runs the pieces in order with materialised intermediate tensors (this is the reference). */
export function bottleneck(s: QBottleneck, input: Int8Array, output: Int8Array): void {
  let expanded = input;
  if (s.expand) {
    expanded = new Int8Array(s.expand.h * s.expand.w * s.expand.outC);
    pointwise(s.expand, input, expanded);
  }
  const d = s.depthwise;
  const filtered = new Int8Array(d.outH * d.outW * d.channels);
  depthwise(d, expanded, filtered);
  const size = s.project.h * s.project.w * s.project.outC;
  if (!s.residual) {
    pointwise(s.project, filtered, output);
    return;
  }
  const projected = new Int8Array(size);
  pointwise(s.project, filtered, projected);
  add(s.residual, projected, input, output, size);
}

/**
 * AVERAGE_POOL_2D over the whole h×w map (filter = map, VALID: one output per channel), input and
 * output sharing scale and zero point as TFLite requires. TFLite sums the raw 8-bit values and
 * rounds: uint8 (acc + n/2) / n; int8 halves away from zero by the sign of acc. The two differ on
 * exact halves (even n), so the op is told the file's type: a uint8 tensor's raw sum is the storage
 * sum + 128·n.
 */
export interface QAvgPool {
  h: number;
  w: number;
  channels: number;
  type: QuantType;
  /** Clamp bounds (storage domain) of the pool's fused activation; [−128, 127] for none. */
  actMin: number;
  actMax: number;
}

export function avgpool(s: QAvgPool, input: Int8Array, output: Int8Array): void {
  const n = s.h * s.w;
  const C = s.channels;
  check(n > 0, 'avgpool: empty window');
  check(input.length >= n * C && output.length >= C, 'avgpool: buffer too small');
  const half = Math.floor(n / 2);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let p = 0; p < n; p++) sum += input[p * C + c]!;
    let v: number;
    if (s.type === 'uint8') {
      v = Math.trunc((sum + 128 * n + half) / n) - 128;
    } else {
      v = sum > 0 ? Math.trunc((sum + half) / n) : Math.trunc((sum - half) / n);
    }
    output[c] = v < s.actMin ? s.actMin : v > s.actMax ? s.actMax : v;
  }
}

/**
 * MEAN over H and W (keep_dims), reference QuantizedMeanOrSum: the 1/n is folded into the multiplier
 * at run time — k = min(floor(log2 n), 32, 31 + shift), multiplier' = (multiplier · 2^k) / n
 * (truncated, 64-bit), shift' = shift − k — then (Σq − zp_in·n) is requantized, + zp_out, clamped to
 * the type's range. (Older TFLite versions' int8 MEAN divided after requantizing instead:
 * reference_integer_ops::Mean; not this.)
 */
export interface QMean {
  h: number;
  w: number;
  channels: number;
  params: MeanParams | XnnMeanParams;
}

export function mean(s: QMean, input: Int8Array, output: Int8Array): void {
  const n = s.h * s.w;
  const C = s.channels;
  check(n > 0, 'mean: empty reduction');
  check(input.length >= n * C && output.length >= C, 'mean: buffer too small');
  if ('scheme' in s.params) {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let p = 0; p < n; p++) sum += input[p * C + c]!;
      output[c] = xnnMeanValue(sum, n, s.params);
    }
    return;
  }
  const { multiplier, shift, inputZeroPoint, outputZeroPoint } = s.params;
  let k = 31 - Math.clz32(n);
  k = Math.min(k, 32, 31 + shift);
  const m = Number((BigInt(multiplier) << BigInt(k)) / BigInt(n));
  const sh = shift - k;
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let p = 0; p < n; p++) sum += input[p * C + c]!;
    const shifted = (sum - inputZeroPoint * n) | 0;
    const v = requantize(shifted, m, sh) + outputZeroPoint;
    output[c] = v < -128 ? -128 : v > 127 ? 127 : v;
  }
}

/**
 * SOFTMAX of n 8-bit logits, reference kernel: differences from the maximum scaled into Q5.26,
 * gemmlowp's fixed-point exp, the sum in Q12.19, its reciprocal by Newton–Raphson, each probability
 * rounded to 8 bits. The output is always scale 1/256 with storage zero point −128 (TFLite: uint8
 * zero point 0, int8 zero point −128 — the same storage), so both schemes share this. Where the exps
 * sum to 512 or more (hundreds of logits within a step or two of the maximum) the final shift would
 * exceed 31 and TFLite's TFLITE_CHECK aborts; this throws a RangeError instead.
 */
export function softmax(p: SoftmaxParams, input: Int8Array, output: Int8Array, n = input.length): void {
  check(input.length >= n && output.length >= n && n > 0, 'softmax: buffer too small');
  const { inputMultiplier, inputLeftShift, diffMin } = p;
  let max = -128;
  for (let i = 0; i < n; i++) if (input[i]! > max) max = input[i]!;
  const exps = new Int32Array(n);
  let sumOfExps = 0; // FixedPoint<int32, 12>
  for (let i = 0; i < n; i++) {
    const diff = input[i]! - max;
    if (diff >= diffMin) {
      const scaled = saturatingRoundingDoublingHighMul(diff << inputLeftShift, inputMultiplier); // Q5.26
      const e = expOnNegativeValues(scaled, 5);
      exps[i] = e;
      sumOfExps = (sumOfExps + rescale(e, 0, 12)) | 0;
    }
  }
  const { reciprocal, numBitsOverUnit } = getReciprocal(sumOfExps, 12);
  const exponent = numBitsOverUnit + 31 - 8;
  check(exponent >= 0 && exponent <= 31, 'softmax: exponent out of range');
  for (let i = 0; i < n; i++) {
    if (input[i]! - max >= diffMin) {
      const unsat = roundingDivideByPOT(saturatingRoundingDoublingHighMul(reciprocal, exps[i]!), exponent);
      const v = unsat - 128;
      output[i] = v < -128 ? -128 : v > 127 ? 127 : v;
    } else {
      output[i] = -128;
    }
  }
}

/**
 * QUANTIZE float32 → 8 bits (AffineQuantize): round(x / s) (float division, halves away from zero)
 * + zero point, clamped. `zeroPoint` in the storage domain. NaN and ±Infinity (undefined behaviour
 * in TFLite's int32 cast) are clamped: NaN → −128.
 */
export function quantize(input: Float32Array, output: Int8Array, scale: number, zeroPoint: number): void {
  check(output.length >= input.length, 'quantize: buffer too small');
  const s = Math.fround(scale);
  for (let i = 0; i < input.length; i++) {
    const v = roundHalfAwayFromZero(Math.fround(input[i]! / s)) + zeroPoint;
    output[i] = v > 127 ? 127 : v >= -128 ? v : -128; // NaN fails both tests → −128
  }
}

/** DEQUANTIZE: float32(double(scale) · (q − zero point)). `zeroPoint` in the storage domain. */
export function dequantize(input: Int8Array, output: Float32Array, scale: number, zeroPoint: number): void {
  check(output.length >= input.length, 'dequantize: buffer too small');
  const s = Math.fround(scale);
  for (let i = 0; i < input.length; i++) output[i] = s * (input[i]! - zeroPoint);
}

/**
 * QUANTIZE between 8-bit tensors (Requantize): MultiplyByQuantizedMultiplier(q − zp_in) + zp_out,
 * clamped. The uint8 ↔ int8 edges of the TF2 files have equal scales and zero points 128 apart:
 * multiplier 2^30, shift 1 — the identity on the storage values.
 */
export function requantizeOp(p: RequantizeParams, input: Int8Array, output: Int8Array): void {
  check(output.length >= input.length, 'requantize: buffer too small');
  for (let i = 0; i < input.length; i++) {
    const v = requantize(input[i]! - p.inputZeroPoint, p.multiplier, p.shift) + p.outputZeroPoint;
    output[i] = v < -128 ? -128 : v > 127 ? 127 : v;
  }
}
