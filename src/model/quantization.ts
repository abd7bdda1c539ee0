// The integer side of a quantized model file: how each activation tensor along the layer chain is
// quantized. With it (and the layers' weights, which keep the file's integer encoding: see
// LazyWeights), the int8 planner (src/engine/int8/planner.ts) rebuilds exactly the integer network
// the file describes. Independent of the file format.

export type QuantType = 'uint8' | 'int8';

/** A per-tensor quantized activation as the file states it: real = scale · (q − zeroPoint). */
export interface TensorQuantization {
  type: QuantType;
  scale: number;
  /** In the file's type: 0..255 for uint8, −128..127 for int8. */
  zeroPoint: number;
}

/**
 * One operator of the integer network, in file order, as the layers consume them: a conv2d,
 * pointwise or fc layer takes one 'conv' or 'fc' op (a 1×1 CONV_2D classifier is 'conv': TFLite
 * computes its multiplier by the convolution rule); a depthwise layer one 'depthwise'; a bottleneck
 * [conv] depthwise conv [add]; the global pool one 'avgpool' or 'mean'; softmax one 'softmax'.
 */
export interface QuantizedOp {
  kind: 'conv' | 'depthwise' | 'fc' | 'add' | 'avgpool' | 'mean' | 'softmax';
  /** Index of the operator in the file (for messages). */
  operator: number;
  input: TensorQuantization;
  /** ADD's other operand. */
  input2?: TensorQuantization;
  output: TensorQuantization;
}

export interface ModelQuantization {
  /** The graph's input tensor: the bytes a caller feeds (pixels, for a uint8 input). */
  input: TensorQuantization;
  ops: QuantizedOp[];
}
