// Models with random weights: for tests and for `mobilenet bench` without a weight file.
import { architectureShapes, type LayerShape } from './architecture.js';
import { MAX_ALPHA, MAX_PARAMETERS, MAX_RESOLUTION } from './limits.js';
import type { Activation, Arch, DepthwiseLayer, Layer, ModelSpec, PointwiseLayer } from './spec.js';

/** Small deterministic PRNG (mulberry32): the same seed gives the same model everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-scale, scale]. */
export function randomArray(random: () => number, length: number, scale = 1): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = (random() * 2 - 1) * scale;
  return values;
}

export interface RandomModelOptions {
  arch: Arch;
  alpha?: number;
  resolution?: number;
  numClasses?: number;
  seed?: number;
}

export function createRandomModel(options: RandomModelOptions): ModelSpec {
  const { arch, alpha = 1, resolution = 224, numClasses = 1001, seed = 1 } = options;
  // Checked before a single weight is drawn: α and the class count set how many there are.
  if (!(alpha > 0 && alpha <= MAX_ALPHA)) throw new RangeError(`alpha must be a number in (0, ${MAX_ALPHA}], got ${alpha}`);
  if (!Number.isInteger(resolution) || resolution < 1 || resolution > MAX_RESOLUTION) {
    throw new RangeError(`resolution must be a whole number from 1 to ${MAX_RESOLUTION}, got ${resolution}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be a whole number ≥ 1, got ${numClasses}`);
  const shapes = architectureShapes(arch, alpha, numClasses);
  const parameters = shapes.reduce((sum, shape) => sum + shapeParameters(shape), 0);
  if (parameters > MAX_PARAMETERS) {
    throw new RangeError(`MobileNet ${arch} α=${alpha} with ${numClasses} classes has ${parameters} weights, more than the limit of ${MAX_PARAMETERS}`);
  }
  const random = seededRandom(seed);
  // Uniform weights with variance 2/fanIn (He) keep ReLU activations in a sane range layer after layer.
  const weights = (length: number, fanIn: number) => randomArray(random, length, Math.sqrt(6 / fanIn));
  const bias = (length: number) => randomArray(random, length, 0.1);

  const pointwise = (inC: number, outC: number, act: Activation): PointwiseLayer => ({
    type: 'pointwise', inC, outC, act, weights: weights(inC * outC, inC), bias: bias(outC),
  });
  const depthwise = (channels: number, stride: number, act: Activation): DepthwiseLayer => ({
    type: 'depthwise', kernel: 3, stride, channels, act, weights: weights(9 * channels, 9), bias: bias(channels),
  });
  const layer = (shape: LayerShape): Layer => {
    switch (shape.type) {
      case 'conv2d': {
        const fanIn = shape.kernel * shape.kernel * shape.inC;
        return { ...shape, weights: weights(shape.outC * fanIn, fanIn), bias: bias(shape.outC) };
      }
      case 'depthwise':
        return depthwise(shape.channels, shape.stride, shape.act);
      case 'pointwise':
        return pointwise(shape.inC, shape.outC, shape.act);
      case 'bottleneck':
        return {
          ...shape,
          expand: shape.expandC === shape.inC ? null : pointwise(shape.inC, shape.expandC, 'relu6'),
          depthwise: depthwise(shape.expandC, shape.stride, 'relu6'),
          project: pointwise(shape.expandC, shape.outC, 'none'),
        };
      case 'fc':
        return { ...shape, weights: weights(shape.inC * shape.outC, shape.inC), bias: bias(shape.outC) };
      case 'avgpool':
      case 'softmax':
        return shape;
    }
  };

  return {
    arch,
    alpha,
    resolution,
    numClasses,
    layers: shapes.map(layer),
    normalization: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
  };
}

function shapeParameters(shape: LayerShape): number {
  switch (shape.type) {
    case 'conv2d':
      return shape.outC * (shape.kernel * shape.kernel * shape.inC + 1);
    case 'depthwise':
      return shape.channels * 10;
    case 'pointwise':
    case 'fc':
      return shape.outC * (shape.inC + 1);
    case 'bottleneck':
      return (shape.expandC === shape.inC ? 0 : shape.expandC * (shape.inC + 1)) + shape.expandC * 10 + shape.outC * (shape.expandC + 1);
    case 'avgpool':
    case 'softmax':
      return 0;
  }
}
