// MobileNet v1 and v2 layer tables (Howard et al. 2017, table 1; Sandler et al. 2018, table 2),
// scaled by the width multiplier α the way the published checkpoints were.
import type { Activation, Arch, Layer } from './spec.js';

/** A layer without its weights: what the architecture fixes. */
export type LayerShape =
  | { type: 'conv2d'; kernel: number; stride: number; inC: number; outC: number; act: Activation }
  | { type: 'depthwise'; kernel: number; stride: number; channels: number; act: Activation }
  | { type: 'pointwise'; inC: number; outC: number; act: Activation }
  | { type: 'bottleneck'; inC: number; expandC: number; outC: number; stride: number; residual: boolean }
  | { type: 'avgpool' }
  | { type: 'fc'; inC: number; outC: number }
  | { type: 'softmax' };

/** Width multipliers of the published ImageNet checkpoints. */
export const KNOWN_ALPHAS: Record<Arch, readonly number[]> = {
  v1: [0.25, 0.5, 0.75, 1.0],
  v2: [0.35, 0.5, 0.75, 1.0, 1.3, 1.4],
};

/** v1 (TF-slim): channels are truncated and floored at 8. */
function v1Channels(base: number, alpha: number): number {
  return Math.max(Math.floor(base * alpha), 8);
}

/** v2: channels rounded to the nearest multiple of 8, never more than 10 % below the exact value. */
export function makeDivisible(value: number, divisor = 8): number {
  let rounded = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

// [pointwise output channels, depthwise stride] of v1's 13 depthwise-separable blocks.
const V1_BLOCKS: ReadonlyArray<readonly [number, number]> = [
  [64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2],
  [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1],
];

// v2 bottleneck groups: expansion t, output channels c, repeats n, first stride s.
const V2_GROUPS: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

function v1Shapes(alpha: number, numClasses: number): LayerShape[] {
  let channels = v1Channels(32, alpha);
  const shapes: LayerShape[] = [
    { type: 'conv2d', kernel: 3, stride: 2, inC: 3, outC: channels, act: 'relu6' },
  ];
  for (const [outBase, stride] of V1_BLOCKS) {
    const outC = v1Channels(outBase, alpha);
    shapes.push({ type: 'depthwise', kernel: 3, stride, channels, act: 'relu6' });
    shapes.push({ type: 'pointwise', inC: channels, outC, act: 'relu6' });
    channels = outC;
  }
  shapes.push({ type: 'avgpool' }, ...classifierShapes(channels, numClasses));
  return shapes;
}

function v2Shapes(alpha: number, numClasses: number): LayerShape[] {
  let channels = makeDivisible(32 * alpha);
  const shapes: LayerShape[] = [
    { type: 'conv2d', kernel: 3, stride: 2, inC: 3, outC: channels, act: 'relu6' },
  ];
  for (const [t, c, n, s] of V2_GROUPS) {
    const outC = makeDivisible(c * alpha);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      shapes.push({
        type: 'bottleneck',
        inC: channels,
        expandC: channels * t,
        outC,
        stride,
        residual: stride === 1 && channels === outC,
      });
      channels = outC;
    }
  }
  // The last conv keeps 1280 channels for narrow models (Keras and the published checkpoints).
  const lastC = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  shapes.push(
    { type: 'pointwise', inC: channels, outC: lastC, act: 'relu6' },
    { type: 'avgpool' },
    ...classifierShapes(lastC, numClasses),
  );
  return shapes;
}

/** The classifier after the pool: none for 0 classes (a feature-vector model). */
function classifierShapes(inC: number, numClasses: number): LayerShape[] {
  return numClasses === 0 ? [] : [{ type: 'fc', inC, outC: numClasses }, { type: 'softmax' }];
}

/** The layer table; `numClasses` 0 gives a model without classifier (it ends with the global pool). */
export function architectureShapes(arch: Arch, alpha: number, numClasses: number): LayerShape[] {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`width multiplier must be > 0, got ${alpha}`);
  return arch === 'v1' ? v1Shapes(alpha, numClasses) : v2Shapes(alpha, numClasses);
}

/** The architecture-level shape of a layer with weights, to compare a loaded model with the tables. */
export function shapeOf(layer: Layer): LayerShape {
  switch (layer.type) {
    case 'conv2d': {
      const { kernel, stride, inC, outC, act } = layer;
      return { type: 'conv2d', kernel, stride, inC, outC, act };
    }
    case 'depthwise': {
      const { kernel, stride, channels, act } = layer;
      return { type: 'depthwise', kernel, stride, channels, act };
    }
    case 'pointwise': {
      const { inC, outC, act } = layer;
      return { type: 'pointwise', inC, outC, act };
    }
    case 'bottleneck': {
      const { inC, expandC, outC, stride, residual } = layer;
      return { type: 'bottleneck', inC, expandC, outC, stride, residual };
    }
    case 'fc':
      return { type: 'fc', inC: layer.inC, outC: layer.outC };
    case 'avgpool':
    case 'softmax':
      return { type: layer.type };
  }
}

/** A one-line description of a shape, for error messages and profiles. */
export function describeShape(shape: LayerShape): string {
  const { type, ...rest } = shape;
  const fields = Object.entries(rest).map(([key, value]) => `${key}=${value}`);
  return fields.length ? `${type}(${fields.join(', ')})` : type;
}
