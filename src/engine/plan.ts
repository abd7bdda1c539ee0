// The execution plan: the network as a flat list of steps with every shape, padding and
// activation-arena offset resolved. Both backends execute exactly this structure: the reference
// backend in TypeScript, the native one after handing it to the addon once at load.
//
// Tensors are NHWC with batch 1 and live in one Float32Array "arena"; offsets and sizes are counted
// in floats. Activations are encoded as numbers so the addon reads them without string compares.
// Weight layouts are the canonical ones of src/model/spec.ts; the addon repacks them at load.

export const ACT_NONE = 0;
export const ACT_RELU = 1;
export const ACT_RELU6 = 2;
export type ActCode = typeof ACT_NONE | typeof ACT_RELU | typeof ACT_RELU6;

interface StepIO {
  /** Arena offset of the step's input tensor. */
  input: number;
  /** Arena offset of the step's output tensor; never overlaps the input. */
  output: number;
}

export interface Spatial {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  stride: number;
  /** Zero rows above / columns left of the input; the rest of SAME padding is implied by outH/outW. */
  padTop: number;
  padLeft: number;
}

/** Full 3×3 convolution (the stem). weights [outC, k, k, inC]. */
export interface Conv2dStep extends StepIO, Spatial {
  op: 'conv2d';
  kernel: number;
  inC: number;
  outC: number;
  act: ActCode;
  weights: Float32Array;
  bias: Float32Array;
}

/** Depthwise k×k convolution. weights [k, k, C]. */
export interface DepthwiseStep extends StepIO, Spatial {
  op: 'depthwise';
  kernel: number;
  channels: number;
  act: ActCode;
  weights: Float32Array;
  bias: Float32Array;
}

/** 1×1 convolution over H×W pixels: a GEMM [H·W, inC] × [inC, outC]. weights [outC, inC]. */
export interface PointwiseStep extends StepIO {
  op: 'pointwise';
  h: number;
  w: number;
  inC: number;
  outC: number;
  act: ActCode;
  weights: Float32Array;
  bias: Float32Array;
}

export interface ConvWeights {
  weights: Float32Array;
  bias: Float32Array;
  act: ActCode;
}

/**
 * Inverted residual block, executed fused: the expanded tensor (H·W·expandC) never exists whole.
 * expand: weights [expandC, inC] (null when expandC == inC and there is no expansion conv);
 * depthwise: weights [3, 3, expandC]; project: weights [outC, expandC].
 * residual: output += input (only when stride 1 and inC == outC).
 */
export interface BottleneckStep extends StepIO, Spatial {
  op: 'bottleneck';
  inC: number;
  expandC: number;
  outC: number;
  residual: boolean;
  expand: ConvWeights | null;
  depthwise: ConvWeights;
  project: ConvWeights;
}

/** Global average pool: [h, w, channels] → [channels]. */
export interface AvgPoolStep extends StepIO {
  op: 'avgpool';
  h: number;
  w: number;
  channels: number;
}

/** Fully connected, no activation. weights [outC, inC]. */
export interface FullyConnectedStep extends StepIO {
  op: 'fc';
  inC: number;
  outC: number;
  weights: Float32Array;
  bias: Float32Array;
}

export interface SoftmaxStep extends StepIO {
  op: 'softmax';
  n: number;
}

export type Step =
  | Conv2dStep
  | DepthwiseStep
  | PointwiseStep
  | BottleneckStep
  | AvgPoolStep
  | FullyConnectedStep
  | SoftmaxStep;

export interface Plan {
  /** Input tensor [inputH, inputW, inputC] at arena offset `input`. */
  inputH: number;
  inputW: number;
  inputC: number;
  input: number;
  /** Output tensor of `outputSize` floats at arena offset `output` (the last step's output). */
  output: number;
  outputSize: number;
  /** Floats the arena must hold (activations only; kernels' own scratch is extra). */
  arenaSize: number;
  steps: Step[];
}
