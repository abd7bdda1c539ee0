// A model's layers as the papers tabulate them: input and output shapes, stride, expansion, learned
// values and multiply-adds of each layer, read from the ModelSpec (weights are counted, never decoded).
import { samePadding } from '../model/same-padding.js';
import { weightsOf, type Layer, type ModelSpec } from '../model/spec.js';

/** Height, width, channels of an NHWC tensor (batch 1). */
export type TensorShape = readonly [h: number, w: number, c: number];

export const elements = ([h, w, c]: TensorShape): number => h * w * c;

export interface LayerCost {
  index: number;
  type: Layer['type'];
  /** Side of the convolution kernel (k×k); null for layers without one. */
  kernel: number | null;
  input: TensorShape;
  output: TensorShape;
  /** null for layers without a spatial window (pool, classifier, softmax). */
  stride: number | null;
  /** A bottleneck's expanded channels ÷ its input channels; null for other layers. */
  expansion: number | null;
  /** Whether a bottleneck adds its input to its output; null for other layers. */
  residual: boolean | null;
  /** Weights + biases: the element counts of the layer's tensors. */
  parameters: number;
  /** Convolutions and the classifier; pooling, residual adds, biases and activations count none. */
  multiplyAdds: number;
}

/** Weights + biases of a layer part, from the lengths of its tensors (still-encoded ones stay so). */
export const tensorValues = (part: object): number => weightsOf(part, 'weights').length + weightsOf(part, 'bias').length;

function spatial(input: TensorShape, kernel: number, stride: number, channels: number): TensorShape {
  return [samePadding(input[0], kernel, stride).out, samePadding(input[1], kernel, stride).out, channels];
}

function costOf(layer: Layer, index: number, input: TensorShape): LayerCost {
  const [inH, inW] = input;
  const base = { index, type: layer.type, input, kernel: null, stride: null, expansion: null, residual: null, parameters: 0, multiplyAdds: 0 };
  switch (layer.type) {
    case 'conv2d': {
      const output = spatial(input, layer.kernel, layer.stride, layer.outC);
      const macs = output[0] * output[1] * layer.outC * layer.kernel ** 2 * layer.inC;
      return { ...base, kernel: layer.kernel, output, stride: layer.stride, parameters: tensorValues(layer), multiplyAdds: macs };
    }
    case 'depthwise': {
      const output = spatial(input, layer.kernel, layer.stride, layer.channels);
      const macs = output[0] * output[1] * layer.channels * layer.kernel ** 2;
      return { ...base, kernel: layer.kernel, output, stride: layer.stride, parameters: tensorValues(layer), multiplyAdds: macs };
    }
    case 'pointwise':
      return {
        ...base, kernel: 1, output: [inH, inW, layer.outC], stride: 1,
        parameters: tensorValues(layer), multiplyAdds: inH * inW * layer.inC * layer.outC,
      };
    case 'bottleneck': {
      const { expand, depthwise, project } = layer;
      const output = spatial(input, depthwise.kernel, layer.stride, layer.outC);
      const outPixels = output[0] * output[1];
      const macs = (expand ? inH * inW * layer.inC * layer.expandC : 0)
        + outPixels * layer.expandC * depthwise.kernel ** 2
        + outPixels * layer.expandC * layer.outC;
      return {
        ...base, kernel: depthwise.kernel, output, stride: layer.stride, expansion: layer.expandC / layer.inC, residual: layer.residual,
        parameters: (expand ? tensorValues(expand) : 0) + tensorValues(depthwise) + tensorValues(project), multiplyAdds: macs,
      };
    }
    case 'avgpool':
      return { ...base, output: [1, 1, input[2]] };
    case 'fc':
      return { ...base, output: [1, 1, layer.outC], parameters: tensorValues(layer), multiplyAdds: layer.inC * layer.outC };
    case 'softmax':
      return { ...base, output: input };
  }
}

/** Every layer of the model in order, each fed the previous one's output (the input: resolution² × 3). */
export function layerCosts(spec: ModelSpec): LayerCost[] {
  let input: TensorShape = [spec.resolution, spec.resolution, 3];
  return spec.layers.map((layer, index) => {
    const cost = costOf(layer, index, input);
    input = cost.output;
    return cost;
  });
}
