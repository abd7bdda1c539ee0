// What depthwise separation saves: each depthwise k×k + pointwise 1×1 pair (a v1 block, or the
// depthwise + linear projection of a v2 bottleneck) against the standard k×k convolution with the same
// input channels, output channels and stride that it replaces (the v1 paper's section 3.1 and table 4).
// A bottleneck's 1×1 expansion is not part of the pair: it stays as it is in both networks.
import type { Layer } from '../model/spec.js';
import { tensorValues, type LayerCost, type TensorShape } from './layers.js';

export interface Cost {
  parameters: number;
  multiplyAdds: number;
}

export interface SeparableBlock {
  /** Indices of the model's layers that make the block (a v1 pair, or one v2 bottleneck). */
  layers: number[];
  /** What the standard convolution would read and write: the pair's input and output. */
  input: TensorShape;
  output: TensorShape;
  kernel: number;
  stride: number;
  /** The depthwise + pointwise pair as the model has it. */
  separable: Cost;
  /** A standard k×k convolution from the pair's input channels to its output channels, with bias. */
  standard: Cost;
  /** standard ÷ separable. */
  factor: Cost;
}

function block(layers: number[], input: TensorShape, output: TensorShape, kernel: number, stride: number, separable: Cost): SeparableBlock {
  const standard = {
    parameters: kernel ** 2 * input[2] * output[2] + output[2],
    multiplyAdds: output[0] * output[1] * kernel ** 2 * input[2] * output[2],
  };
  return {
    layers, input, output, kernel, stride, separable, standard,
    factor: { parameters: standard.parameters / separable.parameters, multiplyAdds: standard.multiplyAdds / separable.multiplyAdds },
  };
}

/** Every depthwise-separable pair of the model, in order. */
export function separableBlocks(layers: readonly Layer[], costs: readonly LayerCost[]): SeparableBlock[] {
  const blocks: SeparableBlock[] = [];
  layers.forEach((layer, i) => {
    const next = layers[i + 1];
    if (layer.type === 'depthwise' && next?.type === 'pointwise') {
      const [dw, pw] = [costs[i], costs[i + 1]];
      blocks.push(block([i, i + 1], dw.input, pw.output, layer.kernel, layer.stride, {
        parameters: dw.parameters + pw.parameters,
        multiplyAdds: dw.multiplyAdds + pw.multiplyAdds,
      }));
    } else if (layer.type === 'bottleneck') {
      const { depthwise, project, expandC, outC } = layer;
      const [outH, outW] = costs[i].output;
      // The pair reads the expanded tensor (the block input when there is no expansion).
      const pairInput: TensorShape = [costs[i].input[0], costs[i].input[1], expandC];
      blocks.push(block([i], pairInput, costs[i].output, depthwise.kernel, layer.stride, {
        parameters: tensorValues(depthwise) + tensorValues(project),
        multiplyAdds: outH * outW * expandC * (depthwise.kernel ** 2 + outC),
      }));
    }
  });
  return blocks;
}
