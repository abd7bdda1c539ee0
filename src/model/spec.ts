// A MobileNet as a list of layers with their weights, independent of where the weights came from
// (a TFLite file or a random generator) and of how it will be executed.
//
// Weight layouts follow TFLite (NHWC tensors, channels innermost):
//   conv2d     [outC, k, k, inC]
//   depthwise  [k, k, C]
//   pointwise  [outC, inC]
//   fc         [outC, inC]
// Padding of every spatial layer is TensorFlow's SAME rule (see src/model/shapes.ts).

import type { ModelQuantization } from './quantization.js';

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
  /** Outputs of the classifier; 0 for a model without classifier (it ends with the global pool: it embeds only). */
  numClasses: number;
  layers: Layer[];
  normalization: Normalization;
  /** Class names, index-aligned with the output; absent when the source had none. */
  labels?: string[];
  /**
   * For a model file whose whole chain is 8-bit quantized: its activations' quantization, what the
   * int8 engine needs besides the layers. Absent for float models.
   */
  quantization?: ModelQuantization;
  /** Why a quantized model file cannot run in integer arithmetic here (then `quantization` is absent). */
  int8Unsupported?: string;
}

// --- Weights kept in a model file's encoding until they are read ------------------------------
//
// A layer read from a file does not hold Float32Arrays from the start: its `weights` and `bias`
// are accessor properties over a LazyWeights that keeps the file's bytes (quantized integers,
// float16, float32) and decodes them to floats the first time the property is read. The native
// backend never reads them: it takes the encoded bytes and decodes them while repacking (see
// src/engine/native.ts), so loading a quantized model puts no weight data on the JS side at all.
// Reading `layer.weights` (the reference backend, a test) gives the same Float32Array every time;
// assigning one replaces the lazy value like any property.

/** How a model file stores a tensor's elements (little-endian). */
export type WeightEncoding = 'f32' | 'f16' | 'u8' | 'i8' | 'i16' | 'i32' | 'i64';

/**
 * A tensor as the file stores it: `length` elements of `type` in `data` (a view into the file, any
 * alignment). Integer types are quantized: value i = scale[c] · (q[i] − zeroPoint[c]) with
 * c = ⌊i / inner⌋ mod scale.length (one scale for the tensor, or one per channel of its quantized
 * axis). Float types leave scale and zeroPoint empty.
 */
export interface EncodedWeights {
  type: WeightEncoding;
  data: Uint8Array;
  length: number;
  scale: Float32Array;
  zeroPoint: Float64Array;
  inner: number;
}

/** Floats decoded from an EncodedWeights on first use (once; later calls return the same array). */
export class LazyWeights {
  #floats: Float32Array | null = null;

  constructor(
    readonly encoded: EncodedWeights,
    private readonly decode: (encoded: EncodedWeights) => Float32Array,
  ) {}

  get length(): number {
    return this.encoded.length;
  }

  /** True once the floats exist (someone may have changed them since: they, not `encoded`, count). */
  get decoded(): boolean {
    return this.#floats !== null;
  }

  floats(): Float32Array {
    return (this.#floats ??= this.decode(this.encoded));
  }
}

/** What a weights or bias property holds: floats, or floats still to be decoded. */
export type WeightValues = Float32Array | LazyWeights;

type WeightKey = 'weights' | 'bias';

/** The values behind the lazy `weights` and `bias` of an object (a non-enumerable own property). */
const LAZY = Symbol('mobilenet.lazyWeights');
type LazyState = Record<WeightKey, WeightValues>;

function defineData(target: object, key: WeightKey, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

// One getter and setter per key, shared by every object (no closures per object, and the objects
// keep V8's fast properties). The first read decodes and turns the property into a plain one
// holding the floats, so that hot loops (the reference backend) read a plain property.
function lazyAccessor(key: WeightKey): PropertyDescriptor {
  return {
    get(this: { [LAZY]: LazyState }): Float32Array {
      const values = this[LAZY][key];
      const floats = values instanceof LazyWeights ? values.floats() : values;
      defineData(this, key, floats);
      return floats;
    },
    set(this: object, value: unknown) {
      defineData(this, key, value);
    },
    enumerable: true,
    configurable: true,
  };
}
const ACCESSORS: Record<WeightKey, PropertyDescriptor> = { weights: lazyAccessor('weights'), bias: lazyAccessor('bias') };

/**
 * Gives `target` its `weights` and `bias`: plain properties when both are Float32Arrays; otherwise
 * enumerable accessors that decode on first read (then become plain properties holding the floats).
 * Several objects may share one LazyWeights (a layer and its plan step): they then share its one
 * Float32Array, as they would share an array. Returns `target`, typed with the two properties.
 */
export function defineWeights<T extends object>(target: T, weights: WeightValues, bias: WeightValues): T & Record<WeightKey, Float32Array> {
  if (!(weights instanceof LazyWeights) && !(bias instanceof LazyWeights)) {
    return Object.assign(target, { weights, bias });
  }
  Object.defineProperty(target, LAZY, { value: { weights, bias }, configurable: true });
  Object.defineProperty(target, 'weights', ACCESSORS.weights);
  Object.defineProperty(target, 'bias', ACCESSORS.bias);
  return target as T & Record<WeightKey, Float32Array>;
}

/** `target[key]` without decoding it: the LazyWeights while the property is still lazy, else its value. */
export function weightsOf(target: object, key: WeightKey): WeightValues {
  const get = Object.getOwnPropertyDescriptor(target, key)?.get;
  if (get !== undefined && get === ACCESSORS[key].get) return (target as { [LAZY]: LazyState })[LAZY][key];
  return (target as Record<WeightKey, Float32Array>)[key];
}

/** The encoded form of `target[key]` if its floats have not been decoded (nor replaced) yet. */
export function encodedWeights(target: object, key: WeightKey): EncodedWeights | undefined {
  const values = weightsOf(target, key);
  return values instanceof LazyWeights && !values.decoded ? values.encoded : undefined;
}
