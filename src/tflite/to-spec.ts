// Groups the primitive chain of a TFLite graph (graph.ts) into MobileNet layers, detects the
// architecture (v1: depthwise-separable pairs; v2: inverted-residual bottlenecks), the width multiplier
// α and the resolution, and verifies the layer list against the architecture tables.
//
// The classifier head after the global pool may be what the exporters write for people's own classes:
// one linear layer (FULLY_CONNECTED, or a 1×1 CONV_2D) with any number of classes, optionally preceded
// by hidden dense layers with RELU / RELU6 / no activation (Teachable Machine's Dense(100, relu) →
// Dense(N)). Hidden dense layers become 1×1 pointwise layers on the pooled 1×1 map.
//
// A model may also have no classifier (a feature-vector model: TF Hub's feature_vector files, Keras
// include_top=False): it ends with the global pool, or at the last convolution (pooling=None), in
// which case the pool is added, so that every model's output is a vector. Its spec has numClasses 0.
import {
  architectureShapes,
  describeShape,
  KNOWN_ALPHAS,
  shapeOf,
  type LayerShape,
} from '../model/architecture.js';
import {
  defineWeights,
  LazyWeights,
  weightsOf,
  type Arch,
  type BottleneckLayer,
  type Conv2dLayer,
  type DepthwiseLayer,
  type FullyConnectedLayer,
  type Layer,
  type ModelSpec,
  type PointwiseLayer,
  type WeightValues,
} from '../model/spec.js';
import { fitLabels } from '../model/labels.js';
import { firstNonFinite } from './dequantize.js';
import { ModelFormatError } from './errors.js';
import { walkGraph, type ConvPrim, type DepthwisePrim, type FullyConnectedPrim, type Origin, type Prim } from './graph.js';
import type { TfliteMetadata } from './metadata.js';
import { inputNormalization } from './normalization.js';
import type { Model } from './schema.js';

export interface ToSpecInput {
  file: string;
  /** Size of the file in bytes (bounds the work spent on shared constants). */
  fileSize: number;
  model: Model;
  metadata: TfliteMetadata | null;
  /** Lines of the label file packed with the model, if any. */
  labels: string[] | null;
  /** Non-fatal findings (labels that do not fit, a missing softmax). */
  onWarning?: (message: string) => void;
}

interface Grouped {
  layers: Layer[];
  /** The first operator of each layer; null for a layer added by the reader. */
  origins: (Origin | null)[];
}

function failAt(file: string, origin: Origin, detail: string): never {
  throw new ModelFormatError(file, `operator ${origin.op} (${origin.opName}): ${detail}`);
}

/**
 * A layer with its weights and bias (both last, as in every layer literal), left as the graph walk
 * found them: still encoded, decoded on first read (see defineWeights).
 */
function withWeights<L extends Layer & { weights: Float32Array; bias: Float32Array }>(
  layer: Omit<L, 'weights' | 'bias'>, p: { weights: WeightValues; bias: WeightValues },
): L {
  return defineWeights(layer, p.weights, p.bias) as L;
}

function pointwise(p: ConvPrim | FullyConnectedPrim): PointwiseLayer {
  return withWeights<PointwiseLayer>({ type: 'pointwise', inC: p.inC, outC: p.outC, act: p.act }, p);
}

function depthwise(p: DepthwisePrim): DepthwiseLayer {
  const { kernel, stride, channels, act } = p;
  return withWeights<DepthwiseLayer>({ type: 'depthwise', kernel, stride, channels, act }, p);
}

function conv2d(p: ConvPrim): Conv2dLayer {
  const { kernel, stride, inC, outC, act } = p;
  return withWeights<Conv2dLayer>({ type: 'conv2d', kernel, stride, inC, outC, act }, p);
}

/** Recognises the layers in the chain. Shapes are checked afterwards, against the tables. */
function group(prims: Prim[], file: string): Grouped {
  const layers: Layer[] = [];
  const origins: (Origin | null)[] = [];
  const push = (layer: Layer, origin: Origin) => {
    layers.push(layer);
    origins.push(origin);
  };

  const stem = prims[0];
  if (!stem) throw new ModelFormatError(file, 'the model has no layers');
  if (stem.kind !== 'conv' || stem.kernel === 1) {
    failAt(file, stem.origin, 'expected the stem convolution (a k×k CONV_2D on the input) first');
  }
  push(conv2d(stem), stem.origin);

  // An inverted-residual block: [1×1 expand, RELU6] → depthwise, RELU6 → 1×1 linear project [→ ADD].
  const bottleneck = (expand: ConvPrim | null, dw: DepthwisePrim, project: ConvPrim, next: number): number => {
    const first = expand ?? dw;
    if (expand && expand.act !== 'relu6') {
      failAt(file, expand.origin, `the expansion of an inverted-residual block uses RELU6, found ${expand.act}`);
    }
    if (dw.act !== 'relu6') {
      failAt(file, dw.origin, `the depthwise convolution of an inverted-residual block uses RELU6, found ${dw.act}`);
    }
    if (project.stride !== 1) failAt(file, project.origin, `1×1 projection with stride ${project.stride}`);
    let residual = false;
    const add = prims[next];
    if (add?.kind === 'add') {
      if (add.other !== first.input) {
        failAt(file, add.origin, `adds tensor ${add.other}, not the block input (tensor ${first.input})`);
      }
      residual = true;
      next++;
    }
    const layer: BottleneckLayer = {
      type: 'bottleneck',
      inC: expand ? expand.inC : dw.channels,
      expandC: dw.channels,
      outC: project.outC,
      stride: dw.stride,
      residual,
      expand: expand ? pointwise(expand) : null,
      depthwise: depthwise(dw),
      project: pointwise(project),
    };
    push(layer, first.origin);
    return next;
  };

  // The dense layers after the global pool: hidden ones (any of none / relu / relu6), then the linear
  // classifier. Returns the index after them.
  const head = (from: number): number => {
    const dense: (ConvPrim | FullyConnectedPrim)[] = [];
    let next = from;
    for (let p = prims[next]; p?.kind === 'fc' || p?.kind === 'conv'; p = prims[++next]) dense.push(p);
    dense.forEach((p, i) => {
      if (p.kind === 'conv' && (p.kernel !== 1 || p.inH !== 1 || p.inW !== 1)) {
        failAt(file, p.origin, `${p.kernel}×${p.kernel} convolution after the global pool`);
      }
      const { inC, outC, act } = p;
      if (i < dense.length - 1) {
        push(pointwise(p), p.origin); // a hidden dense layer
      } else {
        if (act !== 'none') failAt(file, p.origin, `the classifier must be linear, found ${act}`);
        push(withWeights<FullyConnectedLayer>({ type: 'fc', inC, outC }, p), p.origin);
      }
    });
    return next;
  };

  let pooled = false;
  let k = 1;
  while (k < prims.length) {
    const p = prims[k]!;
    switch (p.kind) {
      case 'depthwise': {
        const next = prims[k + 1];
        if (next?.kind !== 'conv' || next.kernel !== 1) {
          failAt(file, p.origin, 'a depthwise convolution must be followed by a 1×1 CONV_2D');
        }
        if (next.act === 'none') {
          // Linear 1×1 after a depthwise: v2's first block (expansion factor 1, no expand conv).
          k = bottleneck(null, p, next, k + 2);
        } else {
          // v1's depthwise-separable pair.
          push(depthwise(p), p.origin);
          push(pointwise(next), next.origin);
          k += 2;
        }
        break;
      }
      case 'conv': {
        if (pooled) {
          // The classifier as a 1×1 convolution on the pooled 1×1 map (Keras MobileNet v1's conv_preds).
          k = head(k);
          break;
        }
        const dw = prims[k + 1];
        const project = prims[k + 2];
        if (p.kernel === 1 && dw?.kind === 'depthwise' && project?.kind === 'conv' && project.kernel === 1 && project.act === 'none') {
          k = bottleneck(p, dw, project, k + 3);
        } else if (p.kernel === 1 && p.stride === 1) {
          push(pointwise(p), p.origin); // v2's last 1×1 convolution
          k++;
        } else {
          // Not part of either architecture at this place: the table comparison reports it.
          push(conv2d(p), p.origin);
          k++;
        }
        break;
      }
      case 'add':
        return failAt(file, p.origin, 'an ADD that does not close an inverted-residual block');
      case 'pool':
        push({ type: 'avgpool' }, p.origin);
        pooled = true;
        k++;
        break;
      case 'fc':
        k = head(k);
        break;
      case 'softmax':
        push({ type: 'softmax' }, p.origin);
        k++;
        break;
    }
  }
  return { layers, origins };
}

function sameShapes(a: readonly LayerShape[], b: readonly LayerShape[]): number {
  let i = 0;
  while (i < a.length && i < b.length && describeShape(a[i]!) === describeShape(b[i]!)) i++;
  return i;
}

/** α values to try: the published ones first, then values derived from the channel counts found. */
function candidateAlphas(arch: Arch, layers: Layer[]): number[] {
  const out: number[] = [...KNOWN_ALPHAS[arch]];
  const stem = layers[0];
  if (stem?.type === 'conv2d') out.push(stem.outC / 32);
  if (arch === 'v1') {
    // floor(1024·α) fixes every other v1 width (all bases divide 1024), so C/1024 reproduces the table.
    const widest = Math.max(0, ...layers.map((l) => (l.type === 'pointwise' ? l.outC : 0)));
    if (widest > 0) out.push(widest / 1024);
  } else {
    const bottlenecks = layers.filter((l): l is BottleneckLayer => l.type === 'bottleneck');
    const last = bottlenecks[bottlenecks.length - 1];
    if (last) out.push(last.outC / 320);
    const lastConv = layers.find((l): l is PointwiseLayer => l.type === 'pointwise');
    if (lastConv && lastConv.outC > 1280) out.push(lastConv.outC / 1280);
  }
  // Derived values first rounded to two decimals (0.3 rather than 307/1024), then exact.
  const derived = out.splice(KNOWN_ALPHAS[arch].length);
  for (const a of derived) out.push(Math.round(a * 100) / 100, a);
  return out.filter((a, i) => a > 0 && Number.isFinite(a) && out.findIndex((b) => Math.abs(a - b) < 1e-9) === i);
}

/** Index of the first non-finite value, or -1 (encoded weights: mostly without decoding them). */
function nonFiniteAt(values: WeightValues): number {
  if (values instanceof LazyWeights) return values.decoded ? nonFiniteAt(values.floats()) : firstNonFinite(values.encoded);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** Checks that every weight and bias has the element count its layer needs and is finite. */
function checkWeights(file: string, layer: Layer, origin: Origin | null): void {
  const check = (what: string, key: 'weights' | 'bias', expected: number) => {
    const values = weightsOf(layer, key);
    const where = origin ? `operator ${origin.op} (${origin.opName})` : 'layer';
    if (values.length !== expected) {
      throw new ModelFormatError(file, `${where}: ${what} has ${values.length} values, the layer needs ${expected}`);
    }
    const i = nonFiniteAt(values);
    if (i >= 0) {
      const floats = values instanceof LazyWeights ? values.floats() : values;
      throw new ModelFormatError(file, `${where}: ${what} value ${i} is ${floats[i]}`);
    }
  };
  switch (layer.type) {
    case 'conv2d':
      check('filter', 'weights', layer.outC * layer.kernel * layer.kernel * layer.inC);
      check('bias', 'bias', layer.outC);
      break;
    case 'depthwise':
      check('filter', 'weights', layer.kernel * layer.kernel * layer.channels);
      check('bias', 'bias', layer.channels);
      break;
    case 'pointwise':
    case 'fc':
      check('weights', 'weights', layer.outC * layer.inC);
      check('bias', 'bias', layer.outC);
      break;
    case 'bottleneck':
      if (layer.expand) checkWeights(file, layer.expand, origin);
      checkWeights(file, layer.depthwise, origin);
      checkWeights(file, layer.project, origin);
      break;
    case 'avgpool':
    case 'softmax':
      break;
  }
}

/** Maps a decoded TFLite model onto a MobileNet ModelSpec, or throws a ModelFormatError saying why not. */
export function modelToSpec(input: ToSpecInput): ModelSpec {
  const { file, model, metadata } = input;
  const chain = walkGraph(model, file, input.fileSize);
  const { layers, origins } = group(chain.prims, file);

  const classifier = layers.find((l) => l.type === 'fc');
  // A feature extractor that stops at the last convolution (Keras pooling=None) is pooled here.
  const poolAdded = !classifier && !layers.some((l) => l.type === 'avgpool');
  if (poolAdded) {
    layers.push({ type: 'avgpool' });
    origins.push(null);
  }
  const numClasses = classifier?.type === 'fc' ? classifier.outC : 0;
  if (classifier && numClasses < 2) {
    const origin = origins[layers.indexOf(classifier)];
    throw new ModelFormatError(
      file,
      `${origin ? `operator ${origin.op} (${origin.opName}): ` : ''}the classifier has ${numClasses} output ` +
        '(a binary sigmoid / logit head); only softmax classifiers over 2 or more classes are supported',
    );
  }
  if (classifier && layers[layers.length - 1] === classifier) {
    // A model that outputs logits: MobileNet's table ends with softmax, which keeps the ranking.
    layers.push({ type: 'softmax' });
    origins.push(null);
    input.onWarning?.(`${file}: the model ends without SOFTMAX; one was added after the classifier`);
  }
  const arch: Arch = layers.some((l) => l.type === 'bottleneck') ? 'v2' : 'v1';
  // Hidden dense layers between the pool and the classifier are taken as found (the graph walk has
  // checked that their channels chain up); the body before the pool and the classifier after them are
  // checked against the tables.
  const poolAt = layers.findIndex((l) => l.type === 'avgpool');
  const body = poolAt < 0 ? layers : layers.slice(0, poolAt);
  const hidden = poolAt < 0 || !classifier ? [] : layers.slice(poolAt + 1, layers.indexOf(classifier)).map(shapeOf);
  const lastHidden = hidden[hidden.length - 1];
  const expectedShapes = (a: number): LayerShape[] => {
    const table = architectureShapes(arch, a, numClasses);
    if (lastHidden?.type !== 'pointwise') return table;
    const pool = table.findIndex((l) => l.type === 'avgpool');
    const classifierShape: LayerShape = { type: 'fc', inC: lastHidden.outC, outC: numClasses };
    return [...table.slice(0, pool + 1), ...hidden, classifierShape, ...table.slice(pool + 2)];
  };
  const found = layers.map(shapeOf);

  let alpha: number | undefined;
  let best = { alpha: KNOWN_ALPHAS[arch][0]!, prefix: -1, expected: [] as LayerShape[] };
  for (const candidate of candidateAlphas(arch, body)) {
    const expected = expectedShapes(candidate);
    const prefix = sameShapes(found, expected);
    if (prefix === found.length && prefix === expected.length) {
      alpha = candidate;
      break;
    }
    if (prefix > best.prefix) best = { alpha: candidate, prefix, expected };
  }
  if (alpha === undefined) {
    const { prefix: i, expected } = best;
    const label = `MobileNet ${arch} α=${best.alpha}`;
    // The graph's own layers: a pool added above is not one of them.
    const graphLength = poolAdded ? found.length - 1 : found.length;
    if (i < graphLength && i < expected.length) {
      const origin = origins[i];
      const where = origin ? `operator ${origin.op} (${origin.opName})` : `layer ${i}`;
      throw new ModelFormatError(
        file,
        `${where}: expected ${describeShape(expected[i]!)} (layer ${i} of ${label}), found ${describeShape(found[i]!)}`,
      );
    }
    if (i >= graphLength) {
      throw new ModelFormatError(
        file,
        `the graph ends after ${graphLength} layers; ${label} continues with ${describeShape(expected[i]!)}`,
      );
    }
    const origin = origins[i];
    const where = origin ? `operator ${origin.op} (${origin.opName})` : `layer ${i}`;
    throw new ModelFormatError(file, `${where}: ${describeShape(found[i]!)} after the end of ${label}`);
  }

  layers.forEach((layer, i) => checkWeights(file, layer, origins[i] ?? null));

  let labels: string[] | undefined;
  if (input.labels && numClasses > 0) {
    // One line per class; a 1000-line ImageNet list in a 1001-class model gets "background" first.
    const fitted = fitLabels(input.labels, numClasses);
    if (fitted) {
      labels = fitted;
    } else {
      // Decision: a label file that does not match the output is dropped, not fatal — the network is
      // still usable and the caller can supply labels of its own.
      input.onWarning?.(
        `${file}: the label file has ${input.labels.length} lines for ${numClasses} classes; labels ignored`,
      );
    }
  }

  const spec: ModelSpec = {
    arch,
    alpha,
    resolution: chain.resolution,
    numClasses,
    layers,
    normalization: inputNormalization(chain.input, metadata, file, chain.inputAffine),
  };
  if (labels) spec.labels = labels;
  return spec;
}
