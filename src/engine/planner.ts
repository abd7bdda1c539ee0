// Turns a ModelSpec into a Plan: shapes, TensorFlow SAME padding and arena offsets resolved, every
// weight array checked against its shape. Backends trust a plan, so all validation happens here.
import { MAX_ARENA_BYTES, MAX_RESOLUTION } from '../model/limits.js';
import { samePadding } from '../model/same-padding.js';
import { defineWeights, weightsOf, type Activation, type Layer, type ModelSpec, type WeightValues } from '../model/spec.js';
import { ACT_NONE, ACT_RELU, ACT_RELU6, type ActCode, type ConvWeights, type Plan, type Step } from './plan.js';

const ACT_CODES: Record<Activation, ActCode> = { none: ACT_NONE, relu: ACT_RELU, relu6: ACT_RELU6 };

/** A model whose layers do not make a network we can run (shapes, weights, or sizes beyond the limits). */
export class PlanError extends Error {
  readonly code = 'MODEL_UNSUPPORTED';
  /** The model file, when the plan was for one. */
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'PlanError';
  }
}

interface Tensor {
  h: number;
  w: number;
  c: number;
}

type UnplacedStep = Step extends infer S ? (S extends Step ? Omit<S, 'input' | 'output'> : never) : never;

/**
 * The weights or bias of `layer` after checking their length, without reading them: still-encoded
 * weights of a model file stay encoded (see LazyWeights), a Float32Array is shared, not copied.
 */
function expectLength(layer: object, key: 'weights' | 'bias', length: number, where: string, part = ''): WeightValues {
  const values = weightsOf(layer, key);
  if (values.length !== length) throw new PlanError(`${where}${part} ${key}: expected ${length} values, got ${values.length}`);
  return values;
}

/** `fields` with `weights` and `bias` added last (as lazy as they came, see defineWeights). */
const withWeights = defineWeights;

/** The checked weights, bias and activation of one convolution of a bottleneck (or of a fused v1 pair). */
function convWeights(layer: object, act: ActCode, weightsLength: number, biasLength: number, where: string, part = ''): ConvWeights {
  const weights = expectLength(layer, 'weights', weightsLength, where, part);
  const bias = expectLength(layer, 'bias', biasLength, where, part);
  // Key order as in a literal { weights, bias, act }.
  const out = withWeights({}, weights, bias) as ConvWeights;
  out.act = act;
  return out;
}

function expectChannels(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new PlanError(`${what}: expects ${expected} input channels, the previous layer gives ${actual}`);
}

function spatial(t: Tensor, kernel: number, stride: number) {
  const rows = samePadding(t.h, kernel, stride);
  const cols = samePadding(t.w, kernel, stride);
  return { inH: t.h, inW: t.w, outH: rows.out, outW: cols.out, stride, padTop: rows.padBefore, padLeft: cols.padBefore };
}

/** One layer as a step (without arena offsets) and the tensor it produces. */
function lower(layer: Layer, t: Tensor, where: string): { step: UnplacedStep; out: Tensor } {
  switch (layer.type) {
    case 'conv2d': {
      expectChannels(t.c, layer.inC, where);
      const { kernel, inC, outC } = layer;
      const s = spatial(t, kernel, layer.stride);
      const step = withWeights(
        { op: 'conv2d' as const, ...s, kernel, inC, outC, act: ACT_CODES[layer.act] },
        expectLength(layer, 'weights', outC * kernel * kernel * inC, where),
        expectLength(layer, 'bias', outC, where),
      );
      return { step, out: { h: s.outH, w: s.outW, c: outC } };
    }
    case 'depthwise': {
      expectChannels(t.c, layer.channels, where);
      if (layer.kernel !== 3) throw new PlanError(`${where}: only 3×3 depthwise convolutions are supported, got ${layer.kernel}×${layer.kernel}`);
      const s = spatial(t, 3, layer.stride);
      const step = withWeights(
        { op: 'depthwise' as const, ...s, kernel: 3, channels: layer.channels, act: ACT_CODES[layer.act] },
        expectLength(layer, 'weights', 9 * layer.channels, where),
        expectLength(layer, 'bias', layer.channels, where),
      );
      return { step, out: { h: s.outH, w: s.outW, c: layer.channels } };
    }
    case 'pointwise': {
      expectChannels(t.c, layer.inC, where);
      const { inC, outC } = layer;
      const step = withWeights(
        { op: 'pointwise' as const, h: t.h, w: t.w, inC, outC, act: ACT_CODES[layer.act] },
        expectLength(layer, 'weights', inC * outC, where),
        expectLength(layer, 'bias', outC, where),
      );
      return { step, out: { h: t.h, w: t.w, c: outC } };
    }
    case 'bottleneck': {
      expectChannels(t.c, layer.inC, where);
      const { inC, expandC, outC, expand, depthwise, project } = layer;
      if (expand === null && expandC !== inC) throw new PlanError(`${where}: no expansion conv but expandC ${expandC} != inC ${inC}`);
      if (depthwise.kernel !== 3 || depthwise.stride !== layer.stride || depthwise.channels !== expandC) {
        throw new PlanError(`${where}: depthwise must be 3×3 over ${expandC} channels with stride ${layer.stride}`);
      }
      if (layer.residual && (layer.stride !== 1 || inC !== outC)) {
        throw new PlanError(`${where}: a residual needs stride 1 and inC == outC`);
      }
      const s = spatial(t, 3, layer.stride);
      const step = {
        op: 'bottleneck' as const, ...s, inC, expandC, outC, residual: layer.residual,
        expand: expand && convWeights(expand, ACT_CODES[expand.act], inC * expandC, expandC, where, ' expand'),
        depthwise: convWeights(depthwise, ACT_CODES[depthwise.act], 9 * expandC, expandC, where, ' depthwise'),
        project: convWeights(project, ACT_CODES[project.act], expandC * outC, outC, where, ' project'),
      };
      return { step, out: { h: s.outH, w: s.outW, c: outC } };
    }
    case 'avgpool':
      return { step: { op: 'avgpool', h: t.h, w: t.w, channels: t.c }, out: { h: 1, w: 1, c: t.c } };
    case 'fc': {
      expectChannels(t.h * t.w * t.c, layer.inC, where);
      const { inC, outC } = layer;
      const step = withWeights(
        { op: 'fc' as const, inC, outC },
        expectLength(layer, 'weights', inC * outC, where),
        expectLength(layer, 'bias', outC, where),
      );
      return { step, out: { h: 1, w: 1, c: outC } };
    }
    case 'softmax': {
      const n = t.h * t.w * t.c;
      return { step: { op: 'softmax', n }, out: { h: 1, w: 1, c: n } };
    }
  }
}

const size = (t: Tensor) => t.h * t.w * t.c;

interface Lowered {
  step: UnplacedStep;
  in: Tensor;
  out: Tensor;
}

/**
 * A depthwise conv followed by a pointwise one (MobileNet v1's block) runs as a bottleneck without
 * expansion: the fused kernel keeps the depthwise output in cache instead of writing it whole.
 */
function fuseDepthwiseSeparable(lowered: Lowered[]): Lowered[] {
  const fused: Lowered[] = [];
  for (let i = 0; i < lowered.length; i++) {
    const dw = lowered[i].step;
    const pw = lowered[i + 1]?.step;
    if (dw.op !== 'depthwise' || pw?.op !== 'pointwise') {
      fused.push(lowered[i]);
      continue;
    }
    const { inH, inW, outH, outW, stride, padTop, padLeft, channels } = dw;
    fused.push({
      step: {
        op: 'bottleneck', inH, inW, outH, outW, stride, padTop, padLeft,
        inC: channels, expandC: channels, outC: pw.outC, residual: false, expand: null,
        depthwise: convWeights(dw, dw.act, 9 * channels, channels, 'depthwise'),
        project: convWeights(pw, pw.act, channels * pw.outC, pw.outC, 'pointwise'),
      },
      in: lowered[i].in,
      out: lowered[i + 1].out,
    });
    i++;
  }
  return fused;
}

/**
 * Each step reads one tensor and writes the next, so a chain needs only two live tensors: they are
 * kept at opposite ends of the arena, which then holds max(input + output) over the steps.
 */
export function planModel(spec: ModelSpec): Plan {
  if (!Number.isInteger(spec.resolution) || spec.resolution < 1 || spec.resolution > MAX_RESOLUTION) {
    throw new PlanError(`input size ${spec.resolution}×${spec.resolution} is outside the supported 1 to ${MAX_RESOLUTION} pixels a side`);
  }
  return planLayers(spec.layers, { h: spec.resolution, w: spec.resolution, c: 3 });
}

export function planLayers(layers: Layer[], input: Tensor): Plan {
  if (layers.length === 0) throw new PlanError('a model needs at least one layer');
  const separate: Lowered[] = [];
  let current = input;
  layers.forEach((layer, index) => {
    const { step, out } = lower(layer, current, `layer ${index} (${layer.type})`);
    separate.push({ step, in: current, out });
    current = out;
  });
  const lowered = fuseDepthwiseSeparable(separate);
  const arenaSize = Math.max(...lowered.map((l) => size(l.in) + size(l.out)));
  if (arenaSize * 4 > MAX_ARENA_BYTES) {
    throw new PlanError(`the activations need ${(arenaSize * 4 / 2 ** 20).toFixed(0)} MiB, more than the limit of ${MAX_ARENA_BYTES / 2 ** 20} MiB`);
  }
  const offsetAt = (end: 0 | 1, floats: number) => (end === 0 ? 0 : arenaSize - floats);

  let end: 0 | 1 = 0;
  const steps = lowered.map(({ step, in: inT, out }) => {
    // Placed in place: a copy ({ ...step }) would read, and so decode, lazy weights.
    const placed = Object.assign(step, { input: offsetAt(end, size(inT)), output: offsetAt(end === 0 ? 1 : 0, size(out)) }) as Step;
    end = end === 0 ? 1 : 0;
    return placed;
  });
  const last = steps[steps.length - 1];
  return {
    inputH: input.h, inputW: input.w, inputC: input.c, input: 0,
    output: last.output, outputSize: size(current), arenaSize, steps,
  };
}
