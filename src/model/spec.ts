// A MobileNet as a list of layers with their weights, independent of where the weights came from
// (a TFLite file or a random generator) and of how it will be executed.
//
// Weight layouts follow TFLite (NHWC tensors, channels innermost):
//   conv2d     [outC, k, k, inC]
//   depthwise  [k, k, C]
//   pointwise  [outC, inC]
//   fc         [outC, inC]
// Padding of every spatial layer is TensorFlow's SAME rule (see src/model/shapes.ts).

export type Arch = 'v1' | 'v2';
export type Activation = 'none' | 'relu' | 'relu6';

export interface Conv2dLayer {
  type: 'conv2d';
  kernel: number;
  stride: number;
  inC: number;
  outC: number;
  act: Activation;
  weights: Float32Array;
  bias: Float32Array;
}

export interface DepthwiseLayer {
  type: 'depthwise';
  kernel: number;
  stride: number;
  channels: number;
  act: Activation;
  weights: Float32Array;
  bias: Float32Array;
}

export interface PointwiseLayer {
  type: 'pointwise';
  inC: number;
  outC: number;
  act: Activation;
  weights: Float32Array;
  bias: Float32Array;
}

/** MobileNet v2 inverted residual: [expand 1×1] → depthwise 3×3 → linear project 1×1 [+ input]. */
export interface BottleneckLayer {
  type: 'bottleneck';
  inC: number;
  expandC: number;
  outC: number;
  stride: number;
  residual: boolean;
  /** Absent when the expansion factor is 1 (the first v2 block). */
  expand: PointwiseLayer | null;
  depthwise: DepthwiseLayer;
  project: PointwiseLayer;
}

/** Global average pool: H×W×C → C. */
export interface AvgPoolLayer {
  type: 'avgpool';
}

export interface FullyConnectedLayer {
  type: 'fc';
  inC: number;
  outC: number;
  weights: Float32Array;
  bias: Float32Array;
}

export interface SoftmaxLayer {
  type: 'softmax';
}

export type Layer =
  | Conv2dLayer
  | DepthwiseLayer
  | PointwiseLayer
  | BottleneckLayer
  | AvgPoolLayer
  | FullyConnectedLayer
  | SoftmaxLayer;

/** How RGB pixels in 0..255 become the network input: (pixel - mean[c]) / std[c]. */
export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ModelSpec {
  arch: Arch;
  alpha: number;
  resolution: number;
  numClasses: number;
  layers: Layer[];
  normalization: Normalization;
  /** Class names, index-aligned with the output; absent when the source had none. */
  labels?: string[];
}
