// The integer execution plan: a quantized MobileNet as a flat list of steps whose every shape,
// padding, Prepare-time parameter (multipliers, shifts, clamps, zero points) and arena offset is
// resolved. The TS reference (ops.ts, run by reference-backend.ts) and the native int8 kernels execute
// exactly this structure and must give identical bytes.
//
// Tensors are NHWC, batch 1, in the storage domain of quantize.ts (Int8Array; uint8 data as q − 128
// with zero point − 128), in one byte arena; offsets and sizes are counted in bytes. Each step's
// parameters are the reference op's own parameter object (ops.ts), so a step is also a valid argument
// of the op it names.
//
// Weights and biases: in a plan built from a model file (planner.ts) a step's `weights` / `bias` are
// lazy (lazy-weights.ts): they hold the file's bytes and become the Int8Array / Int32Array of the
// storage domain on first read. Reading them is always valid; copying a step with a spread reads
// them too. The native backend reads neither: it hands the addon the file's bytes (QEncodedTensor)
// and the addon converts them while packing. Plans built otherwise (tests) hold plain arrays.
import type { Rounding, SoftmaxParams } from './params.js';
import type { QAvgPool, QBottleneck, QConv2d, QDepthwise, QFullyConnected, QMean, QPointwise } from './ops.js';
import type { QuantType } from './quantize.js';

interface Placed {
  /** Arena byte offset of the step's input tensor. */
  input: number;
  /** Arena byte offset of the step's output tensor; never overlaps the input. */
  output: number;
}

export interface QConv2dStep extends Placed, QConv2d {
  op: 'conv2d';
}

export interface QDepthwiseStep extends Placed, QDepthwise {
  op: 'depthwise';
}

export interface QPointwiseStep extends Placed, QPointwise {
  op: 'pointwise';
}

/**
 * Inverted residual block (or v1's depthwise + pointwise pair: expand and residual null), to be run
 * fused by the native kernels: the expanded tensor never exists whole. The requantized intermediate
 * tensors are the ones TFLite materialises, so fusion changes nothing in the bytes.
 */
export interface QBottleneckStep extends Placed, QBottleneck {
  op: 'bottleneck';
}

/** AVERAGE_POOL_2D over the whole map (the TF1 files). */
export interface QAvgPoolStep extends Placed, QAvgPool {
  op: 'avgpool';
}

/** MEAN over H and W (the TF2 files' global pool). */
export interface QMeanStep extends Placed, QMean {
  op: 'mean';
}

export interface QFullyConnectedStep extends Placed, QFullyConnected {
  op: 'fc';
}

export interface QSoftmaxStep extends Placed {
  op: 'softmax';
  n: number;
  params: SoftmaxParams;
}

export type QStep =
  | QConv2dStep
  | QDepthwiseStep
  | QPointwiseStep
  | QBottleneckStep
  | QAvgPoolStep
  | QMeanStep
  | QFullyConnectedStep
  | QSoftmaxStep;

/**
 * A weight or bias tensor as the model file stores it: u8 (storage value q − 128, i.e. q ^ 0x80) or
 * i8 weights, little-endian i32 bias at any alignment; `data` holds exactly its values.
 */
export interface QEncodedTensor {
  type: 'u8' | 'i8' | 'i32';
  data: Uint8Array;
}

/** How an 8-bit tensor at the edge of the plan maps to real numbers: real = scale · (q − zeroPoint). */
export interface EdgeQuant {
  /** The model file's type of the tensor (uint8 or int8); the plan stores both as int8. */
  type: QuantType;
  scale: number;
  /** In the storage domain (a uint8 zero point − 128). */
  zeroPoint: number;
}

export interface QPlan {
  dtype: 'int8';
  /**
   * Whose arithmetic the steps' parameters are for: TFLite's reference kernels (the default; what the
   * native kernels compute too) or XNNPACK's (LiteRT.js's CPU path; the native kernels compute it too).
   */
  rounding: Rounding;
  /** Input tensor [inputH, inputW, inputC] at arena byte offset `input`. */
  inputH: number;
  inputW: number;
  inputC: number;
  input: number;
  inputQuant: EdgeQuant;
  /** Output tensor of `outputSize` bytes at arena byte offset `output` (the last step's output). */
  output: number;
  outputSize: number;
  outputQuant: EdgeQuant;
  /** Bytes the arena must hold (activations only; kernels' own scratch is extra). */
  arenaBytes: number;
  steps: QStep[];
  /** The quantization of each step's output, to read an intermediate result (an embedding). */
  stepQuant: EdgeQuant[];
}

/** Bytes of a step's output tensor. */
export function qStepOutputSize(step: QStep): number {
  switch (step.op) {
    case 'conv2d': return step.outH * step.outW * step.outC;
    case 'depthwise': return step.outH * step.outW * step.channels;
    case 'pointwise': return step.h * step.w * step.outC;
    case 'bottleneck': return step.project.h * step.project.w * step.project.outC;
    case 'avgpool':
    case 'mean': return step.channels;
    case 'fc': return step.outC;
    case 'softmax': return step.n;
  }
}
